"""The ``tb`` fixture: the notebook a testbook file is named after, already run twice in one kernel.

A testbook file here is called ``test_<notebook stem>.py`` and checks the
values its notebook computed. It does not start its own kernel: it asks for
``tb``, which this file provides for every module in this folder,

.. code-block:: python

    pytestmark = pytest.mark.slow

    def test_the_breaker_opens(tb):          # tb: notebooks/10_resilience.ipynb
        assert tb.value("with_breaker.transitions") != []

``tb`` is a testbook client (``tb.value``, ``tb.ref``, ``tb.inject`` as in
testbook) whose kernel has executed the notebook top to bottom twice: the
same execution that ``tests/test_notebooks_rerun.py`` reports on, so each
notebook runs once per session instead of once per checker. (nbval is not
pointed at ``notebooks/*.ipynb`` by ``make test`` for the same reason: a cell
that fails in either pass fails that notebook's rerun test and every test
here that asks for ``tb``.) The kernel is shut down when the module's tests
are done, so one notebook kernel is alive at a time.

Adopting it in a new testbook file: delete the module fixture that did
``with testbook(NOTEBOOKS / "NN_x.ipynb", execute=True) as tb: yield tb``;
the tests keep their ``tb`` argument. A file may still define its own ``tb``
(it then overrides this one) when it really needs a fresh, single-pass
kernel, at the cost of one more execution of the notebook.

Injected code runs after the second pass, so it sees the names the
notebook's last pass left; a test that changes state (starts a network,
sets the language) should leave it as it found it only if a later test
in the same file depends on that.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
_TESTBOOK_FILE = re.compile(r"^test_(.+)$")


def notebook_for(module_path: Path) -> Path:
    """``tests/notebooks/test_10_resilience.py`` -> ``notebooks/10_resilience.ipynb``."""
    match = _TESTBOOK_FILE.match(Path(module_path).stem)
    if match is None:
        raise ValueError(f"{module_path}: a testbook file is named test_<notebook stem>.py")
    return NOTEBOOK_DIR / f"{match.group(1)}.ipynb"


@pytest.fixture(scope="module")
def tb(request, notebook_runs):
    """This module's notebook after two passes in one kernel (fails here if a cell failed in either pass)."""
    path = notebook_for(request.path)
    if not path.is_file():
        pytest.fail(f"{request.path.name} checks {path.relative_to(NOTEBOOK_DIR.parent)}, which does not exist")
    run = notebook_runs.get(path, kernel=True)
    try:
        if not run.ok:
            pytest.fail(run.report(), pytrace=False)
        yield run.client
    finally:
        notebook_runs.release(path)


# ---------------------------------------------------------------- exercises after Run All
_SUMMARY = re.compile(r"<summary>(?:Solution|풀이)</summary>\s*```python\n(.*?)```", re.S)


def exercises(path: Path) -> list[tuple[str, str, str | None]]:
    """``(cell id, placeholder source, solution source)`` for every exercise of notebook ``path``.

    An exercise is a code cell after the "Your turn" heading that calls
    ``check(...)``; its solution is the first ``Solution`` (Korean: ``풀이``)
    code block in the markdown cells that follow it, before the next code cell.
    """
    cells = nbformat.read(path, as_version=4).cells
    start = next((i for i, c in enumerate(cells)
                  if c.cell_type == "markdown" and re.search(r"^## (Your turn|직접 해 보기)", c.source, re.M)), None)
    if start is None:
        return []
    found = []
    for i in range(start, len(cells)):
        cell = cells[i]
        if cell.cell_type != "code" or "check(" not in cell.source:
            continue
        solution = None
        for after in cells[i + 1:]:
            if after.cell_type == "code":
                break
            match = _SUMMARY.search(after.source)
            if match:
                solution = match.group(1)
                break
        found.append((cell.get("id", str(i)), cell.source, solution))
    return found


@pytest.fixture
def exercise_replay(tb, request, output_text) -> list[str]:
    """The problems :func:`replay_exercises` found in this module's notebook (empty when every exercise behaved)."""
    return replay_exercises(tb, request.path, output_text)


def replay_exercises(tb, test_file, cell_text) -> list[str]:
    """After Run All (the notebook's two passes), run every exercise again: placeholder first, then its solution.

    The placeholder must run without an exception and not pass; the solution must
    run without an exception and pass. What a learner meets when they do the
    exercises after Run All (issue: "Run All must not break anything").
    """
    from testbook.exceptions import TestbookRuntimeError

    path = notebook_for(Path(test_file))
    items = exercises(path)
    assert items, f"{path.name} has no exercises after its 'Your turn' heading"
    problems = []
    for cell_id, placeholder, solution in items:
        for kind, source, verdict in (("placeholder", placeholder, "❌"), ("solution", solution, "✅")):
            if source is None:
                problems.append(f"{cell_id}: no solution block follows the exercise")
                continue
            try:
                text = cell_text(tb.inject(source, pop=True))
            except TestbookRuntimeError as exc:
                problems.append(f"{cell_id} ({kind}) raised: {_last_line(exc)}")
                continue
            if verdict not in text:
                problems.append(f"{cell_id} ({kind}) did not print {verdict}: {text.strip()[-300:]!r}")
    return [f"{path.name}: {problem}" for problem in problems]


def _last_line(exc: Exception) -> str:
    lines = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__
