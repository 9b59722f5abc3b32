"""The order-summary service: an API composer, answering a query that spans three services.

"Orders with the customer's name and the delivery status" needs data that
three services own: **orders**, **customers** and **delivery**. With a
database per service there is no SQL join across them, so this service
keeps no data at all: ``GET /order-summaries`` calls their APIs and joins
the answers in memory, one of three ways (``?strategy=``):

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
needs all three services up: the composed answer is only as available as
the least available of them. Serve it on its own with::

    python -m labsvc serve labsvc.data.order_summary:app
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI

from labsvc.core.service import Request, create_service, http
from labsvc.data._handlers import invalid
from labsvc.data._remote import fetch_json

__all__ = ["STRATEGIES", "Settings", "create_app", "app", "order_summary_app"]

STRATEGIES = ("sequential", "parallel", "batched")


@dataclass(frozen=True)
class Settings:
    """How to run the composer: nothing to set (it keeps no data and calls fixed service names)."""


Names = dict[int, str]  # customer id -> name
Statuses = dict[int, str]  # order id -> delivery status


async def _customer(client: Any, customer_id: int) -> dict:
    return await fetch_json(client, "GET", f"http://customers.svc/customers/{customer_id}")


async def _delivery(client: Any, order_id: int) -> dict:
    return await fetch_json(client, "GET", f"http://delivery.svc/deliveries/{order_id}")


async def sequential(client: Any, orders: list[dict]) -> tuple[Names, Statuses]:
    """Two calls per order, one after the other: latency adds up."""
    names, statuses = {}, {}
    for o in orders:
        names[o["customer_id"]] = (await _customer(client, o["customer_id"]))["name"]
        statuses[o["id"]] = (await _delivery(client, o["id"]))["status"]
    return names, statuses


async def parallel(client: Any, orders: list[dict]) -> tuple[Names, Statuses]:
    """The same calls, all at once: as slow as the slowest, but as many hops."""
    found = await asyncio.gather(*(asyncio.gather(_customer(client, o["customer_id"]), _delivery(client, o["id"]))
                                   for o in orders))
    return {c["id"]: c["name"] for c, _ in found}, {d["order_id"]: d["status"] for _, d in found}


async def batched(client: Any, orders: list[dict]) -> tuple[Names, Statuses]:
    """One batch call to customers and one to delivery, concurrently: two hops whatever the number of orders."""
    cids = ",".join(str(c) for c in sorted({o["customer_id"] for o in orders}))
    oids = ",".join(str(o["id"]) for o in orders)
    people, deliveries = await asyncio.gather(
        fetch_json(client, "GET", f"http://customers.svc/customers?ids={cids}"),
        fetch_json(client, "GET", f"http://delivery.svc/deliveries?order_ids={oids}"),
    )
    return {c["id"]: c["name"] for c in people}, {d["order_id"]: d["status"] for d in deliveries}


_COMPOSE = {"sequential": sequential, "parallel": parallel, "batched": batched}

router = APIRouter()


@router.get("/order-summaries")
async def summaries(request: Request, strategy: str = "batched", limit: int = 20) -> list[dict[str, Any]]:
    """The first ``limit`` orders with customer name and delivery status, composed with ``strategy``."""
    if strategy not in STRATEGIES:
        raise invalid("query.strategy", f"one of {list(STRATEGIES)}", "enum")
    client = http(request)
    orders = await fetch_json(client, "GET", f"http://orders.svc/orders?limit={limit}")
    if strategy == "batched" and not orders:
        return []
    names, statuses = await _COMPOSE[strategy](client, orders)
    return [{"order_id": o["id"], "customer_name": names.get(o["customer_id"]), "total": o["total"],
             "delivery_status": statuses.get(o["id"])} for o in orders]


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new composer app (stateless: every answer is composed at request time)."""
    app = create_service("order-summary", description="API composer: orders + customer names + delivery status.")
    app.state.settings = settings or Settings()
    app.include_router(router)
    return app


def order_summary_app() -> FastAPI:
    """The API composer: ``GET /order-summaries?strategy=...&limit=...``.

    It has no database: every answer is composed from the orders, customers
    and delivery APIs at request time. The same as ``create_app()``.
    """
    return create_app()


#: One app, for ``python -m labsvc serve labsvc.data.order_summary:app`` (it keeps no state to share).
app = create_app()
