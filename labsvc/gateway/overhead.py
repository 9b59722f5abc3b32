"""What a gateway hop costs: the same endpoint called directly and through the gateway.

Variants are measured in interleaved rounds (A, B, A, B, ...) and each
request is timed on its own, so a noisy moment hurts every variant alike.

>>> # await measure_paths(net, {"direct": "http://catalog.svc/products/1",
>>> #                           "gateway": "http://gateway.svc/catalog/products/1"})
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigurationError

__all__ = ["measure_paths"]


async def measure_paths(net: Any, variants: Mapping[str, str | tuple[str, dict]], *, requests: int = 300,
                        rounds: int = 3, warmup: int = 20, caller: str = "users") -> pd.DataFrame:
    """Per-request latency of each variant (``name -> url`` or ``name -> (url, headers)``).

    Returns one row per variant: ``requests``, ``mean_us``, ``p50_us``,
    ``p99_us``, ``x_first`` (mean against the first variant's mean) and
    ``added_us`` (mean minus the first variant's mean). Every answer must
    be 2xx, or the numbers would time error paths.
    """
    if not variants:
        raise ConfigurationError("give at least one variant, e.g. {'direct': 'http://catalog.svc/products/1'}")
    client = net.client(caller)
    plan = {name: (v, None) if isinstance(v, str) else (v[0], v[1]) for name, v in variants.items()}
    samples: dict[str, list[float]] = {name: [] for name in plan}
    for name, (url, headers) in plan.items():
        for _ in range(warmup):
            r = await client.get(url, headers=headers)
            if r.status_code >= 300:
                raise ConfigurationError(f"variant {name!r}: GET {url} answered {r.status_code}: {r.text[:200]}")
    per_round = max(1, requests // max(1, rounds))
    clock = time.perf_counter
    for _ in range(rounds):
        for name, (url, headers) in plan.items():
            out = samples[name]
            for _ in range(per_round):
                t = clock()
                await client.get(url, headers=headers)
                out.append(clock() - t)
    rows = []
    for name, values in samples.items():
        a = np.asarray(values) * 1e6
        rows.append({"variant": name, "requests": len(a), "mean_us": a.mean(), "p50_us": np.percentile(a, 50),
                     "p99_us": np.percentile(a, 99)})
    df = pd.DataFrame(rows)
    first = df["mean_us"].iloc[0]
    df["x_first"] = df["mean_us"] / first
    df["added_us"] = df["mean_us"] - first
    return df
