"""Moved to :mod:`labsvc.course.exercises.nb12`; this old path works until labsvc 0.3 and warns (see ``labsvc._moved``)."""

from labsvc._moved import moved

__getattr__, __dir__ = moved(__name__, "labsvc.course.exercises.nb12")
