"""Settings shared by the whole test suite (kept small: fixtures live beside their tests).

Notebook runs are shared here too. Each notebook under ``notebooks/`` is
executed at most once per test session, as a learner would use it twice:
top to bottom in a fresh kernel, then top to bottom again in the same kernel.
Both passes must run without a failing cell (what nbval's ``--nbval-lax``
checks, plus re-run safety); the kernel, after the second pass, then serves
the notebook's testbook assertions (``tests/notebooks/test_<stem>.py``) and
is shut down when that file's tests are done. ``tests/test_notebooks_rerun.py``
reports the two passes of every notebook, reusing the same run. How a
testbook file uses it: ``tests/notebooks/conftest.py``.
"""

from __future__ import annotations

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

    @property
    def ok(self) -> bool:
        return len(self.failures) == PASSES and all(f is None for f in self.failures)

    def report(self) -> str:
        for attempt, failure in enumerate(self.failures, 1):
            if failure is not None:
                return f"{self.path.name}, pass {attempt} of {PASSES} in one kernel: {failure}"
        return f"{self.path.name}: {PASSES} passes ran"

    def shutdown(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client._cleanup_kernel()


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
        run = NotebookRun(path)
        with client.setup_kernel(cleanup_kc=False):
            run.client = client
            for _ in range(PASSES):
                failure = None
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    try:
                        # nbclient's own method (testbook's takes a cell index, not a cell)
                        NotebookClient.execute_cell(client, cell, index)
                    except CellExecutionError as exc:
                        failure = f"cell {index} failed: {_first_line(exc)}\n{str(exc)[-4000:]}"
                        break
                    except Exception as exc:  # the kernel died or a cell timed out: no later cell can run
                        failure = f"cell {index} did not finish: {type(exc).__name__}: {exc}"
                        break
                run.failures.append(failure)
                if failure is not None:
                    break
        return run


@pytest.fixture(scope="session")
def notebook_runs():
    """The session's :class:`NotebookRuns` (every kernel is shut down when the session ends)."""
    runs = NotebookRuns()
    yield runs
    runs.close()
