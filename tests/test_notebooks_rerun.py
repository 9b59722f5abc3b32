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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_figures_quoted_in_the_prose_are_the_ones_the_notebook_computed(path: Path, notebook_runs) -> None:
    """Both editions quote what the run glued (``labsvc.course.glue``); a stale number fails here."""
    import nbformat

    from labsvc.course.glue import stale_quotes

    run = notebook_runs.get(path, kernel=False)
    try:
        assert run.ok, run.report()
        problems = []
        for edition in (path, path.parent / "ko" / path.name):
            if edition.exists():
                cells = nbformat.read(edition, as_version=4).cells
                problems += [f"{edition.relative_to(path.parents[1])} {p}" for p in stale_quotes(cells, run.glued)]
        assert problems == []
    finally:
        notebook_runs.release(path)


# Cells that still print something else on a second run: real-time measurements not yet tagged
# ``realtime``, or experiments not yet moved onto simulated time. The list may only shrink: a cell
# that starts to differ and is not listed fails the test.
NOT_YET_EXACT: dict[str, set[str]] = {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_second_run_shows_the_same_outputs(path: Path, notebook_runs) -> None:
    """On simulated time every output is exact: a re-run prints the same, except cells tagged ``realtime``.

    A cell that measures real costs (``time="real"``) carries the tag ``realtime`` in its metadata;
    :data:`NOT_YET_EXACT` lists the cells still to be made exact.
    """
    import nbformat

    run = notebook_runs.get(path, kernel=False)
    try:
        assert run.ok, run.report()
        realtime = {c.get("id") for c in nbformat.read(path, as_version=4).cells
                    if "realtime" in c.get("metadata", {}).get("tags", [])}
        first, second = run.outputs
        known = NOT_YET_EXACT.get(path.stem, set())
        differing = sorted(cid for cid in first
                           if cid not in realtime and cid not in known and first[cid] != second.get(cid))
        assert differing == [], f"{len(differing)} cell(s) printed something else in the second run: {differing}"
    finally:
        notebook_runs.release(path)
