"""CQRS command side: the order service, the events it emits and the transactional outbox.

Also what both sides share: the publish modes, statuses, event types, the
topic and consumer group, and the stats shape both answer (``_stats``).
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, func, select

from ..clock import Clock, MonotonicClock
from ..errors import ConfigurationError, LabsvcError
from ..messaging import HttpBrokerClient
from ..problems import Problem, problem_type
from ..service import Request, http
from ._database import data_service, service_database
from ._outbox import Outbox, OutboxFields, RelayBody  # noqa: F401 - RelayBody re-exported

__all__ = ["PUBLISH_MODES", "ORDER_STATUSES", "EVENT_TYPES", "TOPIC", "GROUP", "order_command_app", "PlaceOrder"]

PUBLISH_MODES = ("outbox", "direct")
ORDER_STATUSES = ("PLACED", "SHIPPED", "CANCELLED")
EVENT_TYPES = {"PLACED": "OrderPlaced", "SHIPPED": "OrderShipped", "CANCELLED": "OrderCancelled"}
# Which status may follow which: shipped orders cannot be cancelled here, and
# cancelled ones cannot ship.
_TRANSITIONS = {"PLACED": {"SHIPPED", "CANCELLED"}, "SHIPPED": set(), "CANCELLED": set()}
TOPIC = "orders"
GROUP = "order-history"


def _check_publish(publish: str) -> None:
    if publish not in PUBLISH_MODES:
        raise ConfigurationError(f"publish={publish!r} is not known; use one of {PUBLISH_MODES}")


# ------------------------------------------------------------------ command side
class OrderCommandBase(SQLModel, registry=registry()):
    """Tables the order (command) service owns."""


class CommandOrder(OrderCommandBase, table=True):
    """An order as the command side keeps it; ``version`` grows with every change."""

    __tablename__ = "orders"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(index=True)
    customer_name: str
    total: float
    status: str = "PLACED"
    version: int = 1
    committed_at: float


class OutboxRow(OutboxFields, OrderCommandBase, table=True):
    """An event waiting to be published (``published_at`` is None) or already sent."""

    __tablename__ = "outbox"


class PlaceOrder(BaseModel):
    """The body of ``POST /orders`` on the command side."""

    customer_id: int = PydanticField(ge=1)
    customer_name: str = PydanticField(min_length=1, max_length=100)
    total: float = PydanticField(gt=0, le=100_000)


def _order_dict(o: CommandOrder) -> dict[str, Any]:
    return {"id": o.id, "customer_id": o.customer_id, "customer_name": o.customer_name, "total": o.total,
            "status": o.status, "version": o.version, "committed_at": o.committed_at}


# Each opening of a command database is a new epoch: an in-memory database
# that restarts numbers its orders from 1 again, and its events must not be
# taken for the old ones by a consumer that remembers event ids.
_EPOCHS = itertools.count(1)


def _event(o: CommandOrder, epoch: int) -> dict[str, Any]:
    return {"event_id": f"e{epoch}-order-{o.id}-v{o.version}", "type": EVENT_TYPES[o.status], "order_id": o.id,
            "version": o.version, "committed_at": o.committed_at, "order": _order_dict(o)}


def _stats(rows: list[tuple[str, int, float]]) -> dict[str, Any]:
    """Counts and sums per status from (status, count, total) rows: both sides answer this shape."""
    by_status = {s: 0 for s in ORDER_STATUSES}
    orders, total = 0, 0.0
    for status, n, t in rows:
        by_status[status] = int(n)
        orders += int(n)
        total += float(t or 0.0)
    return {"orders": orders, "total": round(total, 2), **by_status}


def order_command_app(publish: str = "outbox", *, clock: Clock | None = None, topic: str = TOPIC):
    """The order service (command side) with ``publish="outbox"`` or ``"direct"``.

    ``POST /orders``, ``POST /orders/{id}/ship``, ``POST /orders/{id}/cancel``
    change state; ``GET /orders``, ``GET /orders/{id}``, ``GET /orders/stats``
    read it; ``POST /outbox/relay`` and ``GET /outbox`` run and show the
    outbox; ``GET /events`` is the event feed (outbox mode only).
    """
    _check_publish(publish)
    clock = clock or MonotonicClock()
    epoch = {"n": 0}

    def new_epoch(_db: Any) -> None:
        epoch["n"] = next(_EPOCHS)

    db = service_database("orders", OrderCommandBase.metadata, setup=new_epoch)
    app = data_service("orders", db, description=f"Order commands; events published by {publish}.")
    app.state.publish = publish
    outbox = Outbox(db, OutboxRow, topic=topic, clock=clock)

    async def record(request: Request, order: CommandOrder, s: Any) -> None:
        """Save the order's change and its event: one transaction (outbox) or two writes (direct)."""
        event = _event(order, epoch["n"])
        if publish == "outbox":
            outbox.add(s, event, order_id=order.id, created_at=order.committed_at)
            s.commit()
            outbox.notify()
            return
        s.commit()
        try:
            await HttpBrokerClient(http(request), "http://broker.svc").publish(
                topic, event, key=f"order-{order.id}", message_id=event["event_id"])
        except (httpx.HTTPError, LabsvcError) as exc:
            # The order is committed; its event is not. Nothing will ever send it.
            raise Problem(503, "Event not published", type=problem_type("event-not-published"),
                          detail=f"order {order.id} was saved but its {event['type']} event could not be "
                                 f"published ({type(exc).__name__})", order_id=order.id) from None

    @app.post("/orders", status_code=201)
    async def place(body: PlaceOrder, request: Request) -> dict[str, Any]:
        with db.session() as s:
            order = CommandOrder(customer_id=body.customer_id, customer_name=body.customer_name,
                                 total=round(body.total, 2), committed_at=0.0)
            s.add(order)
            s.flush()  # assigns the id inside the transaction
            order.committed_at = clock.now()
            await record(request, order, s)
            return _order_dict(order)

    async def change(order_id: int, status: str, request: Request) -> dict[str, Any]:
        with db.session() as s:
            order = s.get(CommandOrder, order_id)
            if order is None:
                raise Problem(404, "Order not found", type=problem_type("not-found"), detail=f"no order with id {order_id}")
            if status not in _TRANSITIONS[order.status]:
                raise Problem(409, "Not allowed now", type=problem_type("invalid-transition"),
                              detail=f"order {order_id} is {order.status}; it cannot become {status}")
            order.status = status
            order.version += 1
            order.committed_at = clock.now()
            s.add(order)
            await record(request, order, s)
            return _order_dict(order)

    @app.post("/orders/{order_id}/ship")
    async def ship(order_id: int, request: Request) -> dict[str, Any]:
        return await change(order_id, "SHIPPED", request)

    @app.post("/orders/{order_id}/cancel")
    async def cancel(order_id: int, request: Request) -> dict[str, Any]:
        return await change(order_id, "CANCELLED", request)

    @app.get("/orders/stats")
    async def stats() -> dict[str, Any]:
        with db.session() as s:
            rows = s.exec(select(CommandOrder.status, func.count(), func.sum(CommandOrder.total))
                          .group_by(CommandOrder.status)).all()
        return _stats(rows)

    @app.get("/orders")
    async def list_orders() -> list[dict[str, Any]]:
        with db.session() as s:
            return [_order_dict(o) for o in s.exec(select(CommandOrder).order_by(CommandOrder.id)).all()]

    @app.get("/orders/{order_id}")
    async def get_order(order_id: int) -> dict[str, Any]:
        with db.session() as s:
            order = s.get(CommandOrder, order_id)
        if order is None:
            raise Problem(404, "Order not found", type=problem_type("not-found"), detail=f"no order with id {order_id}")
        return _order_dict(order)

    outbox.install(app)

    @app.get("/events")
    async def events(after: int = 0, limit: int = 500) -> dict[str, Any]:
        if publish != "outbox":
            raise Problem(404, "No event feed", type=problem_type("no-event-feed"),
                          detail="this order service publishes directly and keeps no outbox, so it has no event feed")
        with db.session() as s:
            rows = s.exec(select(OutboxRow).where(OutboxRow.seq > after).order_by(OutboxRow.seq).limit(limit)).all()
        return {"events": [r.payload for r in rows], "last": rows[-1].seq if rows else after}

    return app
