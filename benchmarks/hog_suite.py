"""The package suite under CPU contention: run it three times in a row beside two CPU-hog processes.

A busy machine (Binder, a laptop compiling something) must get the same verdicts: nothing in the suite
judges wall-clock time or sleeps to wait for something. This script starts two processes that spin on
the CPU, runs ``pytest tests -m "not slow"`` three times, prints each run's summary line, stops the hogs
and exits non-zero if any run failed. Usage (from the project root): ``python benchmarks/hog_suite.py``
(``--runs N`` and extra pytest arguments after ``--``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time


def spin() -> None:  # pragma: no cover - runs in a child process until killed
    x = 0
    while True:
        x = (x * 1103515245 + 12345) % 2**31


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args(argv)
    hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.hogs)]
    for hog in hogs:
        hog.start()
    failed = 0
    try:
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            cmd = [sys.executable, "-m", "pytest", "tests", "-m", "not slow", "-q", "-p", "no:cacheprovider",
                   *args.pytest_args]
            done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"})
            summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
            print(f"run {run} of {args.runs} beside {args.hogs} CPU hogs: exit {done.returncode}, "
                  f"{time.perf_counter() - started:.0f} s: {summary}", flush=True)
            if done.returncode != 0:
                failed += 1
                print("\n".join(line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))))
    finally:
        for hog in hogs:
            hog.kill()
    print(f"{args.runs - failed} of {args.runs} runs passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
