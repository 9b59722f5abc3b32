"""Each notebook's execution time, its kernel's peak memory, and whether a second fresh run prints the same.

Every notebook under ``notebooks/`` is executed in a fresh kernel (as a
learner on Binder would run it), twice. After the last cell, one more cell
reads the kernel's peak resident memory (``ru_maxrss``) and the CPU time the
kernel and its children (process mode) used. Targets (the simulated-time
issue): at most 8 s of kernel wall time per notebook and 60 s for the whole
course (00-14), 600 MB of memory (Binder gives 1-2 GB), and 0 cells whose
text or HTML differs between the two fresh runs, cells tagged ``realtime``
(they measure this machine's real costs) aside. The ratio printed is the
figure against its target. CPU seconds are printed too: on a shared machine
they move less than wall time. Times are the first run's.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_notebooks.py [NB ...]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import cell_text  # noqa: E402 - what a learner reads in a cell, as the rerun test compares it

ROOT = Path(__file__).resolve().parents[1]
TIME_TARGET = 8.0
TIME_TARGETS: dict[str, float] = {}  # notebooks with a target of their own (seconds)
TOTAL_TARGET = 60.0  # the whole course, 00-14
TOTAL_OF = {f"{n:02d}" for n in range(15)}
MEMORY_TARGET_MB = 600.0
# Peak memory (MB) and CPU seconds used by the kernel and its children so far.
PEAK = ("import resource as _r; _s, _c = _r.getrusage(_r.RUSAGE_SELF), _r.getrusage(_r.RUSAGE_CHILDREN); "
        "print(_s.ru_maxrss // 1024, _s.ru_utime + _s.ru_stime + _c.ru_utime + _c.ru_stime)")
START = "import resource as _r; _s = _r.getrusage(_r.RUSAGE_SELF); print(_s.ru_utime + _s.ru_stime)"


def measure(path: Path) -> tuple[float, float, float, dict[str, str]]:
    """Kernel wall seconds (first cell to last, kernel start excluded), peak MB, CPU seconds, each cell's text."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(START))
    nb.cells.append(nbformat.v4.new_code_cell(PEAK))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        t = time.perf_counter()
        for index, cell in enumerate(nb.cells[1:-1], 1):
            client.execute_cell(cell, index)
        seconds = time.perf_counter() - t
        client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
    cpu0 = float(nb.cells[0].outputs[0]["text"].strip())
    mb, cpu = (float(x) for x in nb.cells[-1].outputs[0]["text"].split())
    texts = {c.get("id", str(i)): cell_text(c) for i, c in enumerate(nb.cells[1:-1])
             if c.cell_type == "code" and "realtime" not in c.get("metadata", {}).get("tags", [])}
    return seconds, mb, cpu - cpu0, texts


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    worst = 0.0
    total = total_cpu = course = course_cpu = 0.0
    differing_total = 0
    print(f"{'notebook':<45} {'seconds':>8} {'x target':>9} {'CPU s':>7} {'peak MB':>8} {'x target':>9} {'differ':>6}")
    for path in paths:
        seconds, mb, cpu, texts = measure(path)
        again = measure(path)[3]
        differing = sorted(cid for cid in texts if texts[cid] != again.get(cid))
        differing_total += len(differing)
        target = TIME_TARGETS.get(path.stem, TIME_TARGET)
        total += seconds
        total_cpu += cpu
        if path.stem[:2] in TOTAL_OF:
            course += seconds
            course_cpu += cpu
        worst = max(worst, seconds / target, mb / MEMORY_TARGET_MB)
        print(f"{path.name:<45} {seconds:8.1f} {seconds / target:9.2f} {cpu:7.1f} {mb:8.0f} {mb / MEMORY_TARGET_MB:9.2f}"
              f" {len(differing):6d}" + (f"  {differing}" if differing else ""))
    print(f"{'total of 00-14':<45} {course:8.1f} {course / TOTAL_TARGET:9.2f} {course_cpu:7.1f}   "
          f"(target <= {TOTAL_TARGET:.0f} s)")
    print(f"{'total of all notebooks run':<45} {total:8.1f} {'':>9} {total_cpu:7.1f}")
    print(f"ratio: worst notebook figure / its target = {worst:.2f} (<= 1.00 is within target)")
    print(f"cells printing something else in a second fresh-kernel run (realtime cells aside): {differing_total} "
          "(target 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
