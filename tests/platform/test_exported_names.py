"""Chapters 05 (labsvc.api), 13 (labsvc.platform) and 14 (labsvc.chaos): each has the chapter anatomy
(``__init__`` with ``__all__``, ``lab``, ``plots``), and every public name resolves and says what it is.

The exact lists of names labsvc.api and labsvc.chaos promise are beside their own tests
(``tests/api/test_exports.py``, ``tests/chaos/test_format.py``).
"""

import importlib

import pytest

CHAPTERS = ("labsvc.api", "labsvc.platform", "labsvc.chaos")
MODULES = [f"{c}{part}" for c in CHAPTERS for part in ("", ".lab", ".plots")] + [
    "labsvc.platform.export", "labsvc.chaos.activities"]


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_resolves_once_and_every_callable_has_a_docstring(name):
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no docstring"
    assert len(module.__all__) == len(set(module.__all__)), f"{name}.__all__ names something twice"
    for public in module.__all__:
        value = getattr(module, public)
        if callable(value):
            assert value.__doc__, f"{name}.{public} has no docstring"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_what_lab_and_plots_export_is_importable_from_the_chapter_or_its_lab(chapter):
    package = importlib.import_module(chapter)
    lab = importlib.import_module(f"{chapter}.lab")
    plots = importlib.import_module(f"{chapter}.plots")
    for public in plots.__all__:
        assert getattr(plots, public) in (getattr(package, public, None), getattr(lab, public, None)), (
            f"{chapter}.plots.{public} is neither re-exported by {chapter} nor by {chapter}.lab")
