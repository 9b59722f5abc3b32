"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import time


async def per_call(fn, n: int, warmup: int = 50) -> float:
    """Seconds per call of the async function ``fn``, over ``n`` calls after ``warmup``."""
    for _ in range(warmup):
        await fn()
    t = time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - t) / n
