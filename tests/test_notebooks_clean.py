"""Notebooks are committed clean: valid, on the python3 kernel, no outputs, each with its testbook file.

The Korean edition (notebooks/ko/) is held to the same cleanliness but needs no
testbook file of its own: its code cells are the English notebook's (see
tests/test_translations.py) and nbval runs it.
"""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
TESTBOOK_DIR = ROOT / "tests" / "notebooks"


def course_notebooks() -> list[Path]:
    """Every notebook under notebooks/, skipping hidden folders such as .ipynb_checkpoints."""
    found = NOTEBOOK_DIR.rglob("*.ipynb") if NOTEBOOK_DIR.is_dir() else []
    return sorted(p for p in found if not any(part.startswith(".") for part in p.relative_to(ROOT).parts))


NOTEBOOKS = [pytest.param(p, id=str(p.relative_to(NOTEBOOK_DIR))) for p in course_notebooks()] or [
    pytest.param(None, id="none", marks=pytest.mark.skip(reason="no notebooks/*.ipynb yet"))
]


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_is_valid_and_on_python3(path):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert nb.nbformat == 4, f"{path.name}: save it as nbformat 4"
    nbformat.validate(nb)
    kernelspec = nb.metadata.get("kernelspec", {})
    assert kernelspec.get("name") == "python3", f"{path.name}: kernelspec is {kernelspec}, want python3"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state in metadata; clear it"


# The Korean edition shares its English notebook's code, and so its testbook file.
ENGLISH_NOTEBOOKS = [p for p in NOTEBOOKS if not (p.values[0] and p.values[0].parent == NOTEBOOK_DIR / "ko")]


@pytest.mark.parametrize("path", ENGLISH_NOTEBOOKS)
def test_notebook_has_a_testbook_file(path):
    expected = TESTBOOK_DIR / f"test_{path.stem}.py"
    assert expected.is_file(), f"{path.name} has no testbook checks: add {expected.relative_to(ROOT)}"
