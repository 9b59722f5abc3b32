"""Exercises after Run All: every exercise cell of a notebook run again, placeholder first, then its solution.

Shared by the English notebooks' testbook files (``exercise_replay`` in tests/notebooks/conftest.py) and
the Korean edition's runs (tests/test_korean_notebooks.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

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


def replay_exercises(client, path: Path, cell_text) -> list[str]:
    """After Run All, run every exercise of ``path`` again in ``client``'s kernel: placeholder first, then its solution.

    The placeholder must run without an exception and not pass; the solution must
    run without an exception and pass. What a learner meets when they do the
    exercises after Run All (issue: "Run All must not break anything").
    """
    from testbook.exceptions import TestbookRuntimeError

    items = exercises(path)
    assert items, f"{path.name} has no exercises after its 'Your turn' heading"
    problems = []
    for cell_id, placeholder, solution in items:
        for kind, source, verdict in (("placeholder", placeholder, "❌"), ("solution", solution, "✅")):
            if source is None:
                problems.append(f"{cell_id}: no solution block follows the exercise")
                continue
            try:
                text = cell_text(client.inject(source, pop=True))
            except TestbookRuntimeError as exc:
                problems.append(f"{cell_id} ({kind}) raised: {_last_line(exc)}")
                continue
            if verdict not in text:
                problems.append(f"{cell_id} ({kind}) did not print {verdict}: {text.strip()[-300:]!r}")
    return [f"{path.name}: {problem}" for problem in problems]


def _last_line(exc: Exception) -> str:
    lines = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__
