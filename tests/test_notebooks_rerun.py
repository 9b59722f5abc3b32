"""Every notebook runs top to bottom twice in the same kernel, and no cell fails in either pass.

A learner re-runs cells, or runs all again after a partial run; an
instructor runs a demo twice. The second pass must work too (networks with
the same name replace the old ones; nothing leaks between passes). The first
pass, in a fresh kernel, is the check nbval makes (``--nbval-lax``: a cell
may print what it likes, it must not fail).

The execution is shared with the notebook's testbook file (see
``tests/conftest.py``): whichever asks first runs the notebook, once per session.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_twice_in_one_kernel(path: Path, notebook_runs) -> None:
    run = notebook_runs.get(path, kernel=False)
    try:
        assert run.ok, run.report()
    finally:
        notebook_runs.release(path)
