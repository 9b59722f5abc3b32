"""Settings shared by the whole test suite (kept small: fixtures live beside their tests).

Notebook runs are shared here too. Each notebook under ``notebooks/`` is
executed at most once per test session, as a learner would use it twice:
top to bottom in a fresh kernel, then top to bottom again in the same kernel
(a Korean notebook, ``notebooks/ko/``, runs the same code: one pass).
Both passes must run without a failing cell (what nbval's ``--nbval-lax``
checks, plus re-run safety); the kernel, after the second pass, then serves
the notebook's testbook assertions (``tests/notebooks/test_<stem>.py``) and
is shut down when that file's tests are done. ``tests/test_notebooks_rerun.py``
reports the two passes of every notebook, reusing the same run. How a
testbook file uses it: ``tests/notebooks/conftest.py``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
CELL_TIMEOUT = 300  # seconds per cell, as nbval runs them in `make test`
PASSES = 2


@pytest.fixture(autouse=True)
def network_time(request):
    """In-process networks run on simulated time, as in the notebooks, unless the test is marked ``realtime``.

    A ``realtime`` test keeps the wall clock for every network it builds without naming a time
    (``labsvc.core.simtime.DEFAULT_TIME``): it measures real costs, or was written as a real-time test.
    """
    from labsvc.core.simtime import DEFAULT_TIME

    token = DEFAULT_TIME.set("real" if request.node.get_closest_marker("realtime") else "simulated")
    yield
    DEFAULT_TIME.reset(token)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's top folder (where pyproject.toml is)."""
    return REPO_ROOT


@dataclass
class NotebookRun:
    """One notebook executed ``PASSES`` times in one kernel.

    ``failures`` has one entry per pass that was run: ``None`` when every
    code cell of that pass ran, else a message naming the first failing cell
    and its error. A pass after a failed one is not attempted. ``client`` is
    the testbook client whose kernel holds the state after the last pass
    (``None`` once it has been shut down).
    """

    path: Path
    failures: list[str | None] = field(default_factory=list)
    client: object | None = None
    glued: dict[str, str] = field(default_factory=dict)  # labsvc.course.glue.GLUED after the last pass
    outputs: list[dict[str, str]] = field(default_factory=list)  # per pass: cell id -> its text outputs
    executed: object | None = None  # the notebook with the last pass's outputs (tests/test_output_widths.py)
    passes: int = PASSES

    @property
    def ok(self) -> bool:
        return len(self.failures) == self.passes and all(f is None for f in self.failures)

    def report(self) -> str:
        for attempt, failure in enumerate(self.failures, 1):
            if failure is not None:
                return f"{self.path.name}, pass {attempt} of {self.passes} in one kernel: {failure}"
        return f"{self.path.name}: {self.passes} passes ran"

    def shutdown(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client._cleanup_kernel()


_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def cell_text(cell) -> str:
    """What a learner reads in a cell's outputs (text, HTML, streams), object addresses aside; images left out."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        for kind in ("text/plain", "text/html"):
            value = out.get("data", {}).get(kind)
            if value is not None:
                parts.append(value if isinstance(value, str) else "".join(value))
    return _ADDRESS.sub(" at 0x…", "\n".join(parts))


def _first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


class NotebookRuns:
    """The session's notebook runs, keyed by path; each notebook is executed once while its result is wanted."""

    def __init__(self) -> None:
        self._runs: dict[Path, NotebookRun] = {}

    def get(self, path: Path, *, kernel: bool) -> NotebookRun:
        """The run of ``path``, executing it now if it has not run yet.

        With ``kernel=True`` the caller needs the live kernel (testbook
        assertions): a run whose kernel was already shut down is executed again.
        """
        path = Path(path).resolve()
        run = self._runs.get(path)
        if run is None or (kernel and run.client is None and run.ok):
            run = self._runs[path] = self._execute(path)
        return run

    def release(self, path: Path) -> None:
        """Shut down the kernel of ``path``'s run; its pass results are kept."""
        run = self._runs.get(Path(path).resolve())
        if run is not None:
            run.shutdown()

    def close(self) -> None:
        for run in self._runs.values():
            run.shutdown()

    @staticmethod
    def _execute(path: Path) -> NotebookRun:
        from testbook.client import TestbookNotebookClient

        nb = nbformat.read(path, as_version=4)
        client = TestbookNotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                        resources={"metadata": {"path": str(path.parent)}})
        # The Korean edition runs the same code: one pass, in a fresh kernel, shows its cells run and what it shows.
        run = NotebookRun(path, passes=1 if path.parent.name == "ko" else PASSES)
        with client.setup_kernel(cleanup_kc=False):
            run.client = client
            for _ in range(run.passes):
                failure = None
                texts: dict[str, str] = {}
                run.outputs.append(texts)
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    try:
                        # nbclient's own method (testbook's takes a cell index, not a cell)
                        NotebookClient.execute_cell(client, cell, index)
                        texts[cell.get("id", str(index))] = cell_text(cell)
                    except CellExecutionError as exc:
                        failure = f"cell {index} failed: {_first_line(exc)}\n{str(exc)[-4000:]}"
                        break
                    except Exception as exc:  # the kernel died or a cell timed out: no later cell can run
                        failure = f"cell {index} did not finish: {type(exc).__name__}: {exc}"
                        break
                run.failures.append(failure)
                if failure is not None:
                    break
            if run.ok:
                run.executed = copy.deepcopy(nb)
                run.glued = client.value("dict(__import__('labsvc.course.glue', fromlist=['GLUED']).GLUED)")
        return run


@pytest.fixture(scope="session")
def notebook_runs():
    """The session's :class:`NotebookRuns` (every kernel is shut down when the session ends)."""
    runs = NotebookRuns()
    yield runs
    runs.close()


@pytest.fixture(scope="session")
def output_text():
    """:func:`cell_text`, for the conftest of a sub-folder (what a learner reads in a cell's outputs)."""
    return cell_text


# ---------------------------------------------------------------- one worker per notebook
_NOTEBOOK_TEST_FILE = re.compile(r"^test_(\d\d)_")


def _notebook_group(item) -> str | None:
    """The notebook a test needs the run of: ``nb-07`` (English) or ``ko-07``; None for any other test."""
    match = _NOTEBOOK_TEST_FILE.match(item.path.name)
    if match and item.path.parent.name == "notebooks":
        return f"nb-{match.group(1)}"
    path = getattr(getattr(item, "callspec", None), "params", {}).get("path")
    if isinstance(path, Path) and path.suffix == ".ipynb" and path.name[:2].isdigit():
        return f"{'ko' if path.parent.name == 'ko' else 'nb'}-{path.name[:2]}"
    return None


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test`` runs ``-n auto --dist loadgroup``), every test that needs one
    notebook's run goes to the same worker, so each notebook still runs once per session."""
    for item in items:
        group = _notebook_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
