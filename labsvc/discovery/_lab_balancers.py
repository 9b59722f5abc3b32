"""Client-side load balancing on the network (notebook 08): one slow instance, several balancers.

:func:`compare_balancers` runs the same open-loop load against a service
whose last instance is slow, once per balancer
(:mod:`labsvc.discovery.balancing`). Re-exported by
:mod:`labsvc.discovery.lab`; its plot is in :mod:`labsvc.discovery.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from fastapi import Request

from labsvc.core.errors import ConfigurationError
from labsvc.core.faults import Exponential, Latency
from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.core.service import create_service, instance_name
from labsvc.discovery._lab_registry import SERVICE
from labsvc.discovery.balancing import make_balancer
from labsvc.core.simtime import experiment

__all__ = ["BALANCERS", "BalancerComparison", "balancer_experiment", "compare_balancers"]


#: The balancers compared in notebook 08 (names for :func:`labsvc.discovery.balancing.make_balancer`).
BALANCERS = ("round_robin", "random", "least_outstanding", "p2c")


def _shop_app():
    app = create_service(SERVICE, description="the product catalog")

    @app.get("/items")
    async def items(request: Request):
        return {"instance": instance_name(request)}

    return app


@dataclass
class BalancerComparison:
    """Per balancer and instance: requests, share, latency. ``overall``: one row per balancer."""

    per_instance: pd.DataFrame
    overall: pd.DataFrame
    slow: str

    def slow_share(self) -> dict[str, float]:
        """The share of requests each balancer sent to the slow instance."""
        rows = self.per_instance[self.per_instance["instance"] == self.slow]
        return dict(zip(rows["balancer"], rows["share"]))


@experiment
async def balancer_experiment(
    balancer: str,
    *,
    instances: int = 4,
    slow_latency: float | str | Latency = "40ms",
    latency: float | str | Latency = Exponential("2ms"),
    rate: float = 300,
    requests: int = 300,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """Open-loop load on ``catalog`` (``instances`` instances, the last one slow) balanced by ``balancer``.

    Every instance answers after ``latency`` (a seeded distribution); the
    last one after ``slow_latency`` instead. Returns (per-instance table,
    overall row).
    """
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 2:
        raise ConfigurationError(f"instances={instances!r}: comparing balancers needs at least 2 instances")
    net = Network(seed=seed, name=f"balancers-{balancer.replace('_', '-')}")
    net.add(SERVICE, _shop_app, instances=instances, balancer=make_balancer(balancer))
    slow = f"{SERVICE}-{instances}"
    net.fault(SERVICE, latency=latency)
    net.fault(slow, latency=slow_latency)
    async with net:
        run = await open_loop(net, f"GET http://{SERVICE}.svc/items", rate=rate, requests=requests, caller="web",
                              timeout=2.0, progress=False)
        calls = net.calls
    calls = calls[calls["callee"] == SERVICE]
    grouped = calls.groupby("instance")["duration"]
    per = pd.DataFrame({"requests": grouped.size(), "p50_ms": grouped.quantile(0.5) * 1000,
                        "p99_ms": grouped.quantile(0.99) * 1000})
    per = per.reindex([f"{SERVICE}-{k}" for k in range(1, instances + 1)], fill_value=0).rename_axis("instance")
    per["share"] = per["requests"] / per["requests"].sum()
    per = per.reset_index()
    per.insert(0, "balancer", balancer)
    summary = run.summary()
    overall = pd.Series({"balancer": balancer, "requests": int(summary["requests"]), "availability": summary["availability"],
                         "slow_share": float(per.loc[per["instance"] == slow, "share"].iloc[0]),
                         "mean_ms": float(run.df["latency"].mean()) * 1000, "p50_ms": summary["p50_ms"],
                         "p90_ms": summary["p90_ms"], "p99_ms": summary["p99_ms"]})
    return per[["balancer", "instance", "requests", "share", "p50_ms", "p99_ms"]], overall


@experiment
async def compare_balancers(balancers: Sequence[str] = BALANCERS, **options: Any) -> BalancerComparison:
    """:func:`balancer_experiment` once per balancer, one after the other (same seed, same load)."""
    tables, rows = [], []
    for name in balancers:
        per, overall = await balancer_experiment(name, **options)
        tables.append(per)
        rows.append(overall)
    slow = f"{SERVICE}-{options.get('instances', 4)}"
    return BalancerComparison(pd.concat(tables, ignore_index=True), pd.DataFrame(rows).reset_index(drop=True), slow)
