"""API composition: answer a query that spans services by calling their APIs.

"Orders with the customer's name and the delivery status" needs data that
three services own: **orders**, **customers** and **delivery**. With a
database per service there is no SQL join across them; an *API composer*
(here the ``order-summary`` service) calls each API and joins the answers
in memory. How it calls them decides the cost:

==========  ============================================  ===================
strategy    calls                                         hops for N orders
==========  ============================================  ===================
sequential  the orders, then customer and delivery of     1 + 1 + 2N
            each order, one after the other
parallel    the same calls, per-order calls concurrently  1 + 1 + 2N
batched     the orders, then one batch call to customers  1 + 3
            and one to delivery, concurrently
==========  ============================================  ===================

(The first hop is the caller's request to the composer.) Every strategy
needs all three services up: the composed query is only as available as the
least available of them. :func:`composition_experiment` measures hops and
latency of each strategy, and availability with the delivery service down.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from ..errors import ConfigurationError
from ..messaging import IdempotentConsumer
from ..network import Network
from ..problems import Problem, problem_type
from ..service import Request, create_service, http
from ._consume import PollBody, consume_round
from ._database import data_service, service_database
from ._remote import fetch_json
from ._shared import CUSTOMER_NAMES, _id_list, customers_app, orders_app

__all__ = [
    "STRATEGIES", "DELIVERY_STATUSES", "delivery_app", "order_summary_app", "composition_network",
    "seed_composition", "composition_experiment", "CompositionResult", "expected_hops",
]

STRATEGIES = ("sequential", "parallel", "batched")
DELIVERY_STATUSES = ("preparing", "shipped", "delivered")


def expected_hops(strategy: str, orders: int) -> int:
    """Hops one composed query makes for ``orders`` orders, the caller's own request included."""
    if strategy not in STRATEGIES:
        raise ConfigurationError(f"strategy={strategy!r} is not known; use one of {STRATEGIES}")
    return 2 + 2 * orders if strategy != "batched" else 4


# ------------------------------------------------------------------ the delivery service
class DeliveryBase(SQLModel, registry=registry()):
    """Tables the delivery service owns."""


class Delivery(DeliveryBase, table=True):
    """One delivery per order and where it stands."""

    __tablename__ = "deliveries"
    order_id: int = Field(primary_key=True)
    status: str


class DeliveryIn(BaseModel):
    """The body of ``POST /deliveries``."""

    order_id: int = PydanticField(ge=1)
    status: str = PydanticField(default="preparing", pattern="^(preparing|shipped|delivered)$")


def delivery_app(*, url: str | None = None, events_topic: str | None = None, group: str = "delivery"):
    """The delivery service: one delivery per order, with its status.

    With ``events_topic``, it also listens for order events
    (``POST /deliveries/poll``, an idempotent consumer in ``group``): every
    ``OrderApproved`` order gets a delivery in ``preparing``.
    """
    db = service_database("delivery", DeliveryBase.metadata, url=url)
    app = data_service("delivery", db, description="Owns deliveries and their status.")
    if events_topic is not None:
        consumer = IdempotentConsumer()

        def on_event(event: dict[str, Any]) -> bool:
            if event.get("type") != "OrderApproved":
                return False
            with db.session() as s:
                if s.get(Delivery, event["order_id"]) is not None:
                    return False
                s.add(Delivery(order_id=event["order_id"], status="preparing"))
                s.commit()
            return True

        @app.post("/deliveries/poll")
        async def poll(request: Request, body: PollBody | None = None) -> dict[str, Any]:
            return await consume_round(request, body, topic=events_topic, group=group, consumer=consumer,
                                       apply=on_event)

    @app.post("/deliveries", status_code=201)
    async def schedule(body: DeliveryIn) -> dict[str, Any]:
        with db.session() as s:
            row = s.get(Delivery, body.order_id)
            if row is None:
                row = Delivery(order_id=body.order_id, status=body.status)
            row.status = body.status
            s.add(row)
            s.commit()
            return {"order_id": row.order_id, "status": row.status}

    @app.get("/deliveries/{order_id}")
    async def track(order_id: int) -> dict[str, Any]:
        with db.session() as s:
            row = s.get(Delivery, order_id)
        if row is None:
            raise Problem(404, "Delivery not found", type=problem_type("not-found"),
                          detail=f"no delivery for order {order_id}")
        return {"order_id": row.order_id, "status": row.status}

    @app.get("/deliveries")
    async def batch(order_ids: str | None = None) -> list[dict[str, Any]]:
        with db.session() as s:
            query = select(Delivery)
            if order_ids:
                query = query.where(Delivery.order_id.in_(_id_list(order_ids, "order_ids")))  # type: ignore[attr-defined]
            return [{"order_id": d.order_id, "status": d.status} for d in s.exec(query.order_by(Delivery.order_id)).all()]

    return app


# ------------------------------------------------------------------ the API composer
def order_summary_app():
    """The API composer: ``GET /order-summaries?strategy=...&limit=...``.

    It has no database: every answer is composed from the orders, customers
    and delivery APIs at request time.
    """
    app = create_service("order-summary", description="API composer: orders + customer names + delivery status.")

    @app.get("/order-summaries")
    async def summaries(request: Request, strategy: str = "batched", limit: int = 20) -> list[dict[str, Any]]:
        if strategy not in STRATEGIES:
            raise Problem(422, "Invalid request", type=problem_type("validation-error"),
                          detail="fix these fields and send again: query.strategy",
                          errors=[{"field": "query.strategy", "message": f"one of {list(STRATEGIES)}",
                                   "type": "enum"}])
        client = http(request)
        orders = await fetch_json(client, "GET", f"http://orders.svc/orders?limit={limit}")

        async def customer(cid: int) -> dict:
            return await fetch_json(client, "GET", f"http://customers.svc/customers/{cid}")

        async def delivery(oid: int) -> dict:
            return await fetch_json(client, "GET", f"http://delivery.svc/deliveries/{oid}")

        if strategy == "sequential":
            names, statuses = {}, {}
            for o in orders:
                names[o["customer_id"]] = (await customer(o["customer_id"]))["name"]
                statuses[o["id"]] = (await delivery(o["id"]))["status"]
        elif strategy == "parallel":
            found = await asyncio.gather(*(asyncio.gather(customer(o["customer_id"]), delivery(o["id"])) for o in orders))
            names = {c["id"]: c["name"] for c, _ in found}
            statuses = {d["order_id"]: d["status"] for _, d in found}
        else:
            if not orders:
                return []
            cids = ",".join(str(c) for c in sorted({o["customer_id"] for o in orders}))
            oids = ",".join(str(o["id"]) for o in orders)
            people, deliveries = await asyncio.gather(
                fetch_json(client, "GET", f"http://customers.svc/customers?ids={cids}"),
                fetch_json(client, "GET", f"http://delivery.svc/deliveries?order_ids={oids}"),
            )
            names = {c["id"]: c["name"] for c in people}
            statuses = {d["order_id"]: d["status"] for d in deliveries}
        return [{"order_id": o["id"], "customer_name": names.get(o["customer_id"]), "total": o["total"],
                 "delivery_status": statuses.get(o["id"])} for o in orders]

    return app


def composition_network(*, seed: int = 0, name: str = "composition") -> Network:
    """customers, orders and delivery (each with its own in-memory database) and the composer."""
    net = Network(seed=seed, name=name)
    net.add("customers", customers_app)
    net.add("orders", lambda: orders_app("per-service"))
    net.add("delivery", delivery_app)
    net.add("order-summary", order_summary_app)
    return net


async def seed_composition(net: Network, *, orders: int = 20, customers: int = 5, seed: int = 0) -> None:
    """Register customers, place orders and schedule their deliveries, all through the APIs."""
    rng = random.Random(f"composition/{seed}")
    client = net.client("setup")
    ids = []
    for person in CUSTOMER_NAMES[:customers]:
        r = await client.post("http://customers.svc/customers",
                              json={"name": person, "email": person.split()[0].lower() + "@example.com"})
        ids.append(r.json()["id"])
    for _ in range(orders):
        r = await client.post("http://orders.svc/orders",
                              json={"customer_id": rng.choice(ids), "total": round(rng.uniform(5, 150), 2)})
        await client.post("http://delivery.svc/deliveries",
                          json={"order_id": r.json()["id"], "status": rng.choice(DELIVERY_STATUSES)})


@dataclass
class CompositionResult:
    """Each strategy measured: ``table`` (one row per strategy), ``queries`` (one row per query), ``calls``."""

    table: pd.DataFrame
    queries: pd.DataFrame
    calls: pd.DataFrame
    answers: dict[str, list[dict[str, Any]]]


async def composition_experiment(*, orders: int = 20, latency: str | float | None = "2ms", repeats: int = 5,
                                 seed: int = 0, name: str = "composition") -> CompositionResult:
    """Run every strategy ``repeats`` times with ``latency`` on each data service, then with delivery down.

    ``latency`` is added to every hop into customers, orders and delivery
    (as if each ran on its own machine); None adds nothing.

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
        if latency:
            for service in ("customers", "orders", "delivery"):
                net.fault(service, latency=latency)
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
