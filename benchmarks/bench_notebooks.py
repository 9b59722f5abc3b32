"""Each notebook's execution time and its kernel's peak memory, in one run.

Every notebook under ``notebooks/`` is executed in a fresh kernel (as a
learner on Binder would run it). After the last cell, one more cell reads
the kernel's peak resident memory (``ru_maxrss``, plus its children's for
process mode). Targets: at most 30 s and 600 MB per notebook (Binder gives
1-2 GB). The ratio printed is the figure against its target.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_notebooks.py [NB ...]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TIME_TARGET = 30.0
MEMORY_TARGET_MB = 600.0
PEAK = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"


def measure(path: Path) -> tuple[float, float]:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    t = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t
    out = nb.cells[-1].outputs[0]["text"]
    return seconds, float(out.strip())


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    worst = 0.0
    print(f"{'notebook':<45} {'seconds':>8} {'x target':>9} {'peak MB':>8} {'x target':>9}")
    for path in paths:
        seconds, mb = measure(path)
        worst = max(worst, seconds / TIME_TARGET, mb / MEMORY_TARGET_MB)
        print(f"{path.name:<45} {seconds:8.1f} {seconds / TIME_TARGET:9.2f} {mb:8.0f} {mb / MEMORY_TARGET_MB:9.2f}")
    print(f"ratio: worst notebook figure / its target = {worst:.2f} (<= 1.00 is within target)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
