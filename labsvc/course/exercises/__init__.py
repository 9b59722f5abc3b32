"""Checkers for the notebooks' exercises, one module per notebook (``nb00``, ``nb01``, ...)."""
