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

import pytest

from exercise_replay import replay_exercises

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
@pytest.fixture
def exercise_replay(tb, request, output_text) -> list[str]:
    """The problems :func:`exercise_replay.replay_exercises` found in this module's notebook (empty: all behaved)."""
    return replay_exercises(tb, notebook_for(request.path), output_text)
