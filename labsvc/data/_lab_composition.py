"""API composition, measured: hops and latency of each strategy, and availability with a service down.

The composer is :mod:`labsvc.data.order_summary`; it joins what
:mod:`~labsvc.data.orders`, :mod:`~labsvc.data.customers` and
:mod:`~labsvc.data.delivery` answer. :func:`composition_experiment` runs
every strategy on a network of those four services.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.core.network import Network
from labsvc.data import customers as customers_service
from labsvc.data import delivery as delivery_service
from labsvc.data import order_summary as order_summary_service
from labsvc.data import orders as orders_service
from labsvc.data._lab_seed import CUSTOMER_NAMES, order_body, register_customers
from labsvc.data.delivery import DELIVERY_STATUSES
from labsvc.data.order_summary import STRATEGIES
from labsvc.core.simtime import experiment, follows_network

__all__ = ["expected_hops", "composition_network", "seed_composition", "CompositionResult", "composition_experiment"]


def expected_hops(strategy: str, orders: int) -> int:
    """Hops one composed query makes for ``orders`` orders, the caller's own request included."""
    if strategy not in STRATEGIES:
        raise ConfigurationError(f"strategy={strategy!r} is not known; use one of {STRATEGIES}")
    return 2 + 2 * orders if strategy != "batched" else 4


def composition_network(*, seed: int = 0, name: str = "composition") -> Network:
    """customers, orders and delivery (each with its own in-memory database) and the composer."""
    net = Network(seed=seed, name=name)
    net.add("customers", customers_service.create_app)
    net.add("orders", orders_service.create_app)
    net.add("delivery", delivery_service.create_app)
    net.add("order-summary", order_summary_service.create_app)
    return net


@follows_network
async def seed_composition(net: Network, *, orders: int = 20, customers: int = 5, seed: int = 0) -> None:
    """Register customers, place orders and schedule their deliveries, all through the APIs."""
    rng = random.Random(f"composition/{seed}")
    client = net.client("setup")
    ids = await register_customers(client, CUSTOMER_NAMES[:customers])
    for _ in range(orders):
        r = await client.post("http://orders.svc/orders", json=order_body(rng, ids))
        await client.post("http://delivery.svc/deliveries",
                          json={"order_id": r.json()["id"], "status": rng.choice(DELIVERY_STATUSES)})


@dataclass
class CompositionResult:
    """Each strategy measured: ``table`` (one row per strategy), ``queries`` (one row per query), ``calls``."""

    table: pd.DataFrame
    queries: pd.DataFrame
    calls: pd.DataFrame
    answers: dict[str, list[dict[str, Any]]]


@experiment
async def composition_experiment(*, orders: int = 20, latency: str | float | None = "2ms", repeats: int = 5,
                                 workers: int | None = 4, seed: int = 0, name: str = "composition") -> CompositionResult:
    """Run every strategy ``repeats`` times with ``latency`` on each data service, then with delivery down.

    ``latency`` is added to every hop into customers, orders and delivery
    (as if each ran on its own machine); None adds nothing. Each of them
    serves ``workers`` requests at a time, 1 ms each (a capacity model), so
    a burst of concurrent calls queues, as it does on a real server; None
    leaves them unlimited.

    ``table`` columns: ``strategy``, ``delivery`` (``"up"`` or ``"down"``),
    ``hops`` per query (median), ``p50_ms`` and ``max_ms`` (the caller's
    view), ``availability``, ``same_answer`` (equal to the sequential one).
    """
    if orders < 1 or repeats < 1:
        raise ConfigurationError("orders and repeats must be at least 1")
    net = composition_network(seed=seed, name=name)
    rows = []
    answers: dict[str, list[dict[str, Any]]] = {}
    async with net:
        await seed_composition(net, orders=orders, seed=seed)
        for service in ("customers", "orders", "delivery"):
            if latency:
                net.fault(service, latency=latency)
            if workers:
                net.capacity(service, "1ms", workers=workers)
        net.reset_calls()
        client = net.client("frontend")
        for delivery_state in ("up", "down"):
            if delivery_state == "down":
                net.fault("delivery", down=True)
            for strategy in STRATEGIES:
                for k in range(repeats):
                    r = await client.get(f"http://order-summary.svc/order-summaries?strategy={strategy}&limit={orders}")
                    if r.status_code == 200 and strategy not in answers:
                        answers[strategy] = r.json()
                    rows.append({"strategy": strategy, "delivery": delivery_state, "repeat": k, "status": r.status_code})
        calls = net.calls
    roots = calls[calls["caller"] == "frontend"].reset_index(drop=True)
    queries = pd.DataFrame(rows)
    queries["trace_id"] = roots["trace_id"]
    queries["latency_ms"] = roots["duration"] * 1000
    queries["hops"] = queries["trace_id"].map(calls.groupby("trace_id").size())
    queries["ok"] = queries["status"] == 200
    reference = answers.get("sequential")
    table = queries.groupby(["delivery", "strategy"], sort=False).agg(
        hops=("hops", "median"), p50_ms=("latency_ms", "median"), max_ms=("latency_ms", "max"),
        availability=("ok", "mean")).reset_index()[["strategy", "delivery", "hops", "p50_ms", "max_ms", "availability"]]
    table["hops"] = table["hops"].astype(int)
    table["same_answer"] = [s in answers and answers[s] == reference if d == "up" else None
                            for s, d in zip(table["strategy"], table["delivery"])]
    return CompositionResult(table, queries, calls, answers)
