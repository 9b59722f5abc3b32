"""Notebook 10, experiment 4: fan-out and the tail.

A request that waits for N backends is as slow as the slowest:
:func:`fanout_model` samples it, :func:`fanout_experiment` measures it on the
network. Re-exported by :mod:`labsvc.resilience.lab`.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Request

from labsvc.core.errors import ConfigurationError
from labsvc.core.faults import Fixed, Latency, Uniform, as_latency  # noqa: F401 (Fixed: the TailLatency example)
from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.core.problems import Problem
from labsvc.core.service import create_service, http
from labsvc.core.simtime import experiment


# -- 4. fan-out and the tail -------------------------------------------------------------

@dataclass(frozen=True)
class TailLatency(Latency):
    """Mostly ``fast``, but one call in ``1 / p_slow`` takes ``slow``: a latency with a long tail.

    The default is one answer in 200 taking 50 ms instead of 1-3 ms.

    >>> lat = TailLatency(fast=Fixed("2ms"), slow="50ms", p_slow=0.01)
    >>> rng = random.Random(1)
    >>> draws = [lat.sample(rng) for _ in range(10_000)]
    >>> abs(sum(d > 0.01 for d in draws) / len(draws) - 0.01) < 0.003
    True
    """

    fast: Any = Uniform("1ms", "3ms")
    slow: Any = "50ms"
    p_slow: float = 0.005

    def __post_init__(self) -> None:
        object.__setattr__(self, "fast", as_latency(self.fast))
        object.__setattr__(self, "slow", as_latency(self.slow))
        if not 0.0 <= self.p_slow <= 1.0:
            raise ConfigurationError(f"p_slow={self.p_slow!r} is a probability in [0, 1], e.g. 0.01")

    def sample(self, rng: random.Random) -> float:
        """One delay in seconds: ``slow`` with probability ``p_slow``, else a ``fast`` draw."""
        return (self.slow if rng.random() < self.p_slow else self.fast).sample(rng)

    @property
    def mean(self) -> float:
        """The average delay in seconds."""
        return self.p_slow * self.slow.mean + (1 - self.p_slow) * self.fast.mean


def fanout_model(
    fanouts: Sequence[int] = (1, 2, 5, 10, 20, 50, 100),
    *,
    latency: Latency | None = None,
    draws: int = 5_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Latency of a request that waits for ``n`` backends, by sampling ``latency`` (no network).

    Per ``n``: p50 and p99 of the slowest of ``n`` draws, the measured share
    of requests that met at least one slow backend, and the formula for that
    share, ``1 - (1 - p_slow) ** n``.
    """
    latency = latency or TailLatency()
    rng = random.Random(seed)
    biggest = max(fanouts)
    samples = np.array([[latency.sample(rng) for _ in range(biggest)] for _ in range(draws)])
    p_slow = getattr(latency, "p_slow", math.nan)
    threshold = _slow_threshold(latency)
    rows = []
    for n in fanouts:
        whole = samples[:, :n].max(axis=1)
        rows.append({"fanout": n, "p50_ms": float(np.quantile(whole, 0.5)) * 1000,
                     "p99_ms": float(np.quantile(whole, 0.99)) * 1000,
                     "slow_share": float((whole > threshold).mean()),
                     "predicted_slow_share": 1 - (1 - p_slow) ** n})
    return pd.DataFrame(rows)


def _slow_threshold(latency: Latency) -> float:
    """Halfway between the fast answers' mean and the slow answer: what counts as 'slow'."""
    fast, slow = getattr(latency, "fast", None), getattr(latency, "slow", None)
    if fast is None or slow is None:
        return 2 * latency.mean
    return (fast.mean + slow.mean) / 2


def _shard_app():
    app = create_service("shard", description="one slice of the search index")

    @app.get("/search")
    async def search():
        return {"hits": 1}

    return app


def _search_app(shards: int):
    app = create_service("search", description="asks every shard, answers when all have answered")

    @app.get("/search")
    async def search(n: int, request: Request):
        if not 1 <= n <= shards:
            raise Problem(422, "Bad fan-out", detail=f"n={n}; there are {shards} shards (1..{shards})")
        client = http(request, timeout=2.0)
        replies = await asyncio.gather(*(client.get(f"http://shard-{k}.svc/search") for k in range(1, n + 1)))
        return {"hits": sum(r.json()["hits"] for r in replies)}

    return app


@experiment
async def fanout_experiment(
    fanouts: Sequence[int] = (1, 10),
    *,
    latency: Latency | None = None,
    requests: int = 200,
    rate: float = 200,
    seed: int = 0,
    name: str = "fanout",
) -> pd.DataFrame:
    """Users call ``search``, which waits for ``n`` shards (each answering after ``latency``), per ``n``.

    One row per ``n``: p50, p99, the share of slow requests, and the formula's share.
    """
    latency = latency or TailLatency()
    shards = max(fanouts)
    net = Network(seed=seed, name=name)
    net.add("shard", _shard_app, instances=shards)
    net.add("search", lambda: _search_app(shards))
    net.fault("shard", latency=latency)
    threshold = _slow_threshold(latency)
    p_slow = getattr(latency, "p_slow", math.nan)
    rows = []
    async with net:
        for n in fanouts:
            run = await open_loop(net, f"GET http://search.svc/search?n={n}", rate=rate, requests=requests,
                                  caller="users", timeout=2.0, progress=False)
            lat = run.df["latency"]
            rows.append({"fanout": n, "requests": len(lat), "p50_ms": float(lat.quantile(0.5)) * 1000,
                         "p99_ms": float(lat.quantile(0.99)) * 1000, "slow_share": float((lat > threshold).mean()),
                         "predicted_slow_share": 1 - (1 - p_slow) ** n})
    return pd.DataFrame(rows)
