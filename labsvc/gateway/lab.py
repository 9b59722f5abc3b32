"""Notebook 09's experiments: the shop behind a gateway, and what a gateway hop costs.

- :func:`shop_with_gateway` builds the topology the notebook works on:
  ``catalog`` (two instances), ``inventory``, ``reviews``, a ``profile`` echo
  service (:func:`~labsvc.gateway.echo_app`, to see what the gateway
  forwarded) and the ``gateway`` itself;
- :func:`measure_paths` times the same endpoint called directly and through
  the gateway, with ``time.perf_counter``: real time on this machine. Give it
  a network on the wall clock (``shop_with_gateway(..., time="real")``): on
  simulated time a request's modelled service time costs no wall time, so
  the figures would mix the two clocks. Variants are measured in interleaved rounds (A, B, A, B, ...)
  and each request is timed on its own, so a noisy moment hurts every
  variant alike.
- :func:`burst_and_flood` runs a page load's burst and a scraper's flood
  through one per-client rate limit and returns a :class:`BurstTrial`
  (exercise 5 of notebook 09).

:func:`~labsvc.gateway.plots.plot_admissions` and
:func:`~labsvc.gateway.plots.plot_overhead` (in :mod:`labsvc.gateway.plots`)
draw what the gateway and :func:`measure_paths` measured.

>>> from labsvc.gateway import Gateway
>>> net = shop_with_gateway(Gateway({"/catalog": "catalog"}), name="demo-doc")
>>> sorted(net.services)
['catalog', 'gateway', 'inventory', 'profile', 'reviews']
>>> # await measure_paths(net, {"direct": "http://catalog.svc/products/1",
>>> #                           "gateway": "http://gateway.svc/catalog/products/1"})
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.core.network import Network
from labsvc.gateway.app import Gateway
from labsvc.gateway.ratelimit import RateLimit
from labsvc.gateway.routes import Route
from labsvc.gateway.echo import echo_app
from labsvc.shop.services import catalog_app, inventory_app, reviews_app
from labsvc.core.simtime import follows_network

__all__ = ["shop_with_gateway", "measure_paths", "BurstTrial", "burst_and_flood"]


def shop_with_gateway(gateway: Gateway | Any, *, name: str = "gateway-shop", seed: int = 0,
                      catalog_instances: int = 2, profile: bool = True, time: str | None = None) -> Network:
    """A network with ``catalog`` (``catalog_instances`` instances), ``inventory``,
    ``reviews``, a ``profile`` echo service (shows what the gateway forwarded)
    and ``gateway`` (a :class:`Gateway` or its app). Not started yet.

    ``time`` is the network's (:class:`~labsvc.core.network.Network`): simulated
    by default; ``time="real"`` runs it on the wall clock, to measure what a
    hop really costs on this machine (:func:`measure_paths`)."""
    net = Network(seed=seed, name=name, time=time)
    net.add("catalog", catalog_app, instances=catalog_instances)
    net.add("inventory", inventory_app)
    net.add("reviews", reviews_app)
    if profile:
        net.add("profile", echo_app("profile"))
    net.add("gateway", gateway.app if isinstance(gateway, Gateway) else gateway)
    return net


@follows_network
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


@dataclass(frozen=True)
class BurstTrial:
    """What :func:`burst_and_flood` measured for one rate limit.

    ``summary`` has one row per client (``requests``, ``admitted``,
    ``throttled``); ``burst_admitted`` / ``burst_requests`` are the app's page
    load, ``flood_admitted`` / ``flood_requests`` the scraper's, and
    ``backend_calls`` the calls the gateway made to the catalog (from the call log).
    """

    capacity: int
    refill_rate: float
    burst_requests: int
    burst_admitted: int
    flood_requests: int
    flood_admitted: int
    flood_seconds: float
    backend_calls: int
    summary: pd.DataFrame


async def burst_and_flood(capacity: int, refill_rate: float, *, burst: int = 30, flood_rate: float = 100,
                          flood_seconds: float = 2.0, seed: int = 9) -> BurstTrial:
    """Two clients behind one per-client ``RateLimit(capacity, refill_rate)``, on simulated time.

    At t = 0 the ``app`` opens a page and sends ``burst`` requests at once;
    meanwhile a ``scraper`` sends ``flood_rate`` requests per second for
    ``flood_seconds``. Builds, runs and stops its own network (same numbers
    on every run).
    """
    from labsvc.core.load import open_loop

    gateway = Gateway([Route("/catalog", "catalog")], rate_limit=RateLimit(capacity=capacity,
                                                                           refill_rate=refill_rate))
    net = shop_with_gateway(gateway, name="nb09-burst", seed=seed, profile=False)
    url = "http://gateway.svc/catalog/products/1"

    async def page_load() -> None:
        app = net.client("app")
        await asyncio.gather(*(app.get(url) for _ in range(burst)))

    async def scenario() -> None:
        await asyncio.gather(page_load(), open_loop(net, f"GET {url}", rate=flood_rate,
                                                    duration=flood_seconds, caller="scraper"))

    await net.start()
    try:
        await net.run(scenario())
        summary = gateway.summary(by="client")[["client", "requests", "admitted", "throttled"]]
        backend = int((net.calls["callee"] == "catalog").sum()) if len(net.calls) else 0
    finally:
        await net.stop()
    rows = {r["client"]: r for r in summary.to_dict("records")}
    app, scraper = rows.get("app", {}), rows.get("scraper", {})
    return BurstTrial(int(capacity), float(refill_rate), int(app.get("requests", 0)), int(app.get("admitted", 0)),
                      int(scraper.get("requests", 0)), int(scraper.get("admitted", 0)), float(flood_seconds),
                      backend, summary)
