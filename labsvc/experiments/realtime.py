"""Notebook 01's measurements on the real clock, and one experiment run simulated and real side by side.

:func:`no_fault_cost` sends the same seeded traffic to the shop built as a
monolith and as microservices, on ``time="real"`` by default: what a hop
costs is CPU work (serializing, parsing, routing), and on simulated time such
work costs nothing (the clock moves only by modelled service times).

:func:`chain_run` runs one small experiment, users -> ``web`` -> ``catalog``
with a fixed latency fault on the ``catalog`` hop, either in-process on
simulated time or as real uvicorn processes (``mode="process"``, always on the
wall clock); :func:`compare_runs` puts two such runs side by side.

>>> chain_requests(rate=50, requests=100)
(50.0, 100)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.core.simtime import experiment
from labsvc.shop import DESIGNS, availability_by_feature, build_shop, feature_load
from labsvc.shop.services import catalog_app, web_app

__all__ = ["no_fault_cost", "chain_run", "chain_requests", "ChainRun", "compare_runs", "CHAIN_URL", "CHAIN_MODES"]

#: What each request of :func:`chain_run` asks: the product list, which ``web`` fetches from ``catalog``.
CHAIN_URL = "http://web.svc/products"
#: The two ways :func:`chain_run` runs: in this process on simulated time, or one uvicorn process per service.
CHAIN_MODES = ("inprocess", "process")


@experiment
async def no_fault_cost(*, rate: float = 80, duration: Any = "1s", seed: int = 1) -> pd.DataFrame:
    """Availability, p50/p99 latency (ms) and hops per request per feature, for both designs, nothing broken.

    Call it with ``time="real"`` to measure what the hops cost on this
    machine's clock (the numbers then vary between runs and machines);
    without it, it runs on simulated time, where each hop costs the modelled
    1 ms service time and nothing more. ``mean_ms`` is the mean latency over
    every request of the design and ``cpu_ms`` the CPU time this process
    spent per request of the design (:func:`time.process_time`: all the
    services, and the load generator, run in this process); both are the
    same for all of a design's rows.
    """
    tables = []
    for design in DESIGNS:
        net = build_shop(design, seed=seed, name=f"cost-{design}")
        async with net:
            cpu = time.process_time()
            run = await feature_load(net, design, rate=rate, duration=duration, seed=seed)
            cpu = time.process_time() - cpu
            table = availability_by_feature(run.df, design)
            table["hops per request"] = len(net.calls) / len(run.df)
            table["mean_ms"] = run.df["latency"].mean() * 1000
            table["cpu_ms"] = cpu / len(run.df) * 1000
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def chain_requests(rate: float, requests: int) -> tuple[float, int]:
    """Check a run's ``rate`` (per second) and ``requests`` (count); return them as ``(float, int)``."""
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
        raise ConfigurationError(f"requests={requests!r}: give a whole number of requests, at least 1, e.g. 100")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise ConfigurationError(f"rate={rate!r}: give requests per second as a positive number, e.g. 50")
    return float(rate), requests


@dataclass
class ChainRun:
    """One run of :func:`chain_run`: every request (``requests``, a load run's rows) and every hop (``calls``)."""

    mode: str
    latency: float
    requests: pd.DataFrame
    calls: pd.DataFrame

    def hops(self) -> pd.DataFrame:
        """Per hop (caller -> callee): calls, statuses seen, and duration percentiles in ms."""
        rows = []
        for (caller, callee), group in self.calls.groupby(["caller", "callee"], sort=False):
            ms = group["duration"] * 1000
            rows.append({"hop": f"{caller} -> {callee}", "calls": len(group),
                         "statuses": ", ".join(str(s) for s in sorted(set(group["status"]))),
                         "min_ms": ms.min(), "p50_ms": ms.quantile(0.5), "p99_ms": ms.quantile(0.99)})
        return pd.DataFrame(rows)


@experiment
async def chain_run(*, mode: str = "inprocess", latency: Any = "50ms", rate: float = 50, requests: int = 100,
                    seed: int = 1, timeout: float = 10.0) -> ChainRun:
    """Send ``requests`` product-list requests at ``rate`` per second through users -> web -> catalog,
    with ``latency`` added to every call to ``catalog``; the network is stopped afterwards.

    ``mode="inprocess"`` runs on simulated time (exact, the same on a re-run);
    ``mode="process"`` starts ``web`` and ``catalog`` as uvicorn processes on
    127.0.0.1 and measures on the wall clock (a few seconds, start-up included).
    ``timeout`` is how long users wait for each answer, in seconds: generous,
    because a busy machine can keep real processes from a CPU for seconds.
    """
    if mode not in CHAIN_MODES:
        raise ConfigurationError(f"mode={mode!r} is not known; use one of {CHAIN_MODES}")
    rate, requests = chain_requests(rate, requests)
    try:
        delay = parse_duration(latency, name="latency")
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{exc} (the latency added to every call to catalog)") from exc
    net = Network(seed=seed, mode=mode, name=f"chain-{mode}")
    net.add("web", web_app)
    net.add("catalog", catalog_app)
    async with net:
        net.fault("catalog", latency=delay)

        async def send(client, i):
            return await client.get(CHAIN_URL)

        run = await open_loop(net, send, rate=rate, requests=requests, caller="users", timeout=timeout, progress=False)
        calls = net.calls
    return ChainRun(mode=mode, latency=delay, requests=run.df, calls=calls)


def compare_runs(simulated: ChainRun, real: ChainRun) -> pd.DataFrame:
    """Side by side, per quantity: what the simulated and the real run measured (latencies in ms)."""
    def column(run: ChainRun) -> dict[str, Any]:
        edge = run.requests["latency"] * 1000
        inner = run.calls.query("caller == 'web' and callee == 'catalog'")["duration"] * 1000
        return {
            "requests sent": len(run.requests),
            "answered 200": int((run.requests["status"] == 200).sum()),
            "calls web -> catalog": len(inner),
            "fastest web -> catalog (ms)": inner.min(),
            "p50 users -> web (ms)": edge.quantile(0.5),
            "p99 users -> web (ms)": edge.quantile(0.99),
            "p99 - p50 (ms, jitter)": edge.quantile(0.99) - edge.quantile(0.5),
            "p50 beyond the fault (ms)": edge.quantile(0.5) - run.latency * 1000,
        }

    return pd.DataFrame({f"{simulated.mode} (simulated)": column(simulated), f"{real.mode} (real)": column(real)})
