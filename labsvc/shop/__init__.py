"""The example shop used across the course, and the experiments run on it.

``at("nb07")`` is the shop as notebooks 02-06 left it (:mod:`labsvc.shop.stages`);
the rest of this module is notebook 01's shop, as a monolith and as services.

>>> net = build_shop("microservices", seed=1)                  # doctest: +SKIP
>>> run = await feature_load(net, "microservices", rate=50, duration="2s")   # doctest: +SKIP
>>> availability_by_feature(run.df)                            # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import pandas as pd

from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.core.load import LoadRun, by_label, open_loop
from labsvc.core.network import Network
from labsvc.shop.modules import PRODUCTS, WARMUP
from labsvc.shop.services import MICROSERVICES, monolith_app, payment_app
from labsvc.core.simtime import experiment, follows_network
from labsvc.shop.stages import STAGES, ShopState, after, at

__all__ = [
    "DESIGNS", "FEATURES", "MODULES", "build_shop", "edge_url", "host_of", "feature_load",
    "availability_by_feature", "feature_of", "ExperimentResult", "module_crash_experiment", "redeploy_experiment", "PRODUCTS", "WARMUP",
    "at", "after", "STAGES", "ShopState",
]

DESIGNS = ("monolith", "microservices")
MODULES = ("catalog", "inventory", "reviews", "orders", "delivery", "web")
# Share of each feature in the traffic, and which modules serve it.
FEATURES = {
    "browse": {"share": 0.40, "modules": ["catalog"]},
    "product page": {"share": 0.30, "modules": ["catalog", "inventory", "reviews"]},
    "checkout": {"share": 0.15, "modules": ["orders", "catalog", "inventory", "delivery"]},
    "track": {"share": 0.15, "modules": ["delivery"]},
}


def _check_design(design: str) -> None:
    if design not in DESIGNS:
        raise ConfigurationError(f"design={design!r} is not known; use one of {DESIGNS}")


def build_shop(design: str, *, seed: int = 0, mode: str = "inprocess", name: str | None = None) -> Network:
    """A network running the shop as ``"monolith"`` or ``"microservices"``, plus the external payment provider."""
    _check_design(design)
    net = Network(seed=seed, mode=mode, name=name or f"shop-{design}")
    net.add("payment", payment_app)
    if design == "monolith":
        net.add("shop", monolith_app)
    else:
        for service, factory in MICROSERVICES.items():
            net.add(service, factory)
    return net


def edge_url(design: str) -> str:
    """Where users send their requests in each design."""
    _check_design(design)
    return "http://shop.svc" if design == "monolith" else "http://web.svc"


def host_of(module: str, design: str) -> str:
    """The service whose process hosts ``module`` in ``design``."""
    _check_design(design)
    if module not in MODULES:
        raise ConfigurationError(f"module={module!r} is not a shop module; use one of {MODULES}")
    return "shop" if design == "monolith" else module


def feature_of(i: int, seed: int = 0) -> str:
    """Which feature request ``i`` uses (seeded, the same for both designs)."""
    x = random.Random(f"{seed}/{i}").random()
    total = 0.0
    for name, spec in FEATURES.items():
        total += spec["share"]
        if x < total:
            return name
    return name


async def _send_feature(client, base: str, feature: str, i: int):
    product = 1 + i % len(PRODUCTS)
    if feature == "browse":
        return await client.get(f"{base}/products")
    if feature == "product page":
        return await client.get(f"{base}/products/{product}")
    if feature == "checkout":
        return await client.post(f"{base}/orders", json={"product_id": product, "quantity": 1})
    return await client.get(f"{base}/orders/{1 + i % 20}/delivery")


@follows_network
async def feature_load(net: Network, design: str, *, rate: float = 100, duration: Any = "3s",
                       seed: int = 0, timeout: float = 1.0, progress: bool | None = None) -> LoadRun:
    """Open-loop traffic mixing the four features; the ``label`` column names each request's feature."""
    base = edge_url(design)

    async def send(client, i):
        return await _send_feature(client, base, feature_of(i, seed), i)

    return await open_loop(net, send, rate=rate, duration=duration, caller="users", timeout=timeout,
                           progress=progress, label=lambda i: feature_of(i, seed))


def availability_by_feature(df: pd.DataFrame, design: str | None = None) -> pd.DataFrame:
    """Requests, availability and latency percentiles per feature (``label``)."""
    return by_label(df, list(FEATURES), percentiles=(50, 99), name="feature", design=design)


@dataclass
class ExperimentResult:
    """What a shop experiment produced: availability per feature, every request, every hop."""

    design: str
    availability: pd.DataFrame
    requests: pd.DataFrame
    calls: pd.DataFrame
    outcome: Any = None

    def degraded_pages(self) -> int:
        """Product pages served without reviews because the reviews call failed."""
        c = self.calls
        if self.design == "monolith":
            return 0  # reviews are a function call there: no partial answer is possible
        failed = c[(c["caller"] == "web") & (c["callee"] == "reviews") & ((c["status"] >= 500) | (c["status"] == 0))]
        return int(len(failed))


async def _experiment(design: str, action, *, at: Any, rate: float, duration: Any, seed: int) -> ExperimentResult:
    net = build_shop(design, seed=seed, name=f"experiment-{design}")
    async with net:
        async def later():
            await asyncio.sleep(parse_duration(at, name="at"))
            return await action(net)

        run, outcome = await asyncio.gather(feature_load(net, design, rate=rate, duration=duration, seed=seed), later())
        calls = net.calls
    return ExperimentResult(design, availability_by_feature(run.df, design), run.df.assign(design=design), calls, outcome)


@experiment
async def module_crash_experiment(design: str, module: str = "reviews", *, at: Any = "1s", restart_after: Any = "1s",
                                  rate: float = 100, duration: Any = "3s", seed: int = 0) -> ExperimentResult:
    """Crash the process hosting ``module`` at ``at``; a platform restarts it ``restart_after`` later."""
    host = host_of(module, design)

    async def crash(net: Network):
        return await net.crash(host, restart_after=restart_after)

    return await _experiment(design, crash, at=at, rate=rate, duration=duration, seed=seed)


@experiment
async def redeploy_experiment(design: str, module: str = "reviews", *, at: Any = "1s", rate: float = 100,
                              duration: Any = "3s", seed: int = 0) -> ExperimentResult:
    """Ship a new version of ``module``: restart what hosts it, under load (``outcome`` is the restart report)."""
    host = host_of(module, design)

    async def redeploy(net: Network):
        return await net.restart(host)

    return await _experiment(design, redeploy, at=at, rate=rate, duration=duration, seed=seed)
