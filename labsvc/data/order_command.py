"""The order service of CQRS, command side: it takes the commands, and reports each change as an event.

It places, ships and cancels orders in its own database. Each change is
also an *event* (``OrderPlaced``, ``OrderShipped``, ``OrderCancelled``)
that carries the order's new state and the time it was committed; the
order-history service (:mod:`labsvc.data.order_history`) builds its read
model from them. How the events reach the broker (``http://broker.svc``) is
the lesson (``Settings.publish``):

- ``"direct"``: commit, then publish over HTTP. Two writes to two systems
  with no transaction around them (a *dual write*): when the broker is down,
  the order is saved but its event is lost, and the caller gets an error for
  an order that exists;
- ``"outbox"`` (the *transactional outbox*): the event is written to an
  ``outbox`` table in the *same* transaction as the order, and a relay
  (``POST /outbox/relay``) publishes pending rows later, retrying until the
  broker takes them. Nothing is lost, placing an order does not need the
  broker, and the outbox doubles as an event feed (``GET /events``) from
  which a read model can be rebuilt.

Routes: ``POST /orders`` (body :class:`PlaceOrder`), ``POST
/orders/{id}/ship``, ``POST /orders/{id}/cancel``; ``GET /orders``, ``GET
/orders/{id}``, ``GET /orders/stats``; ``GET /outbox``, ``POST
/outbox/relay``, ``GET /events``. Serve it on its own with::

    python -m labsvc serve labsvc.data.order_command:app          # outbox, in memory
    python -m labsvc serve labsvc.data.order_command:create_app   # a new app per instance
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError, LabsvcError
from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import Request, http
from labsvc.data._database import data_service, service_database
from labsvc.data._handlers import database_of, get_or_404
from labsvc.data._order_events import EVENT_TYPES, ORDER_STATUSES, TOPIC, order_stats
from labsvc.data._outbox import Epoch, Outbox, OutboxFields
from labsvc.messaging import HttpBrokerClient

__all__ = ["PUBLISH_MODES", "ORDER_STATUSES", "EVENT_TYPES", "TOPIC", "Settings", "create_app", "app",
           "order_command_app", "PlaceOrder", "CommandOrder", "check_publish"]

PUBLISH_MODES = ("outbox", "direct")
# Which status may follow which: shipped orders cannot be cancelled here, and
# cancelled ones cannot ship.
_TRANSITIONS = {"PLACED": {"SHIPPED", "CANCELLED"}, "SHIPPED": set(), "CANCELLED": set()}


def check_publish(publish: str) -> None:
    """ConfigurationError unless ``publish`` is one of :data:`PUBLISH_MODES`."""
    if publish not in PUBLISH_MODES:
        raise ConfigurationError(f"publish={publish!r} is not known; use one of {PUBLISH_MODES}")


@dataclass(frozen=True)
class Settings:
    """How to run the order (command) service.

    ``publish``: ``"outbox"`` or ``"direct"`` (see the module's doc).
    ``clock``: what stamps ``committed_at`` (a new
    :class:`~labsvc.core.clock.MonotonicClock` per app when None; a
    :class:`~labsvc.core.clock.FakeClock` in tests). ``topic``: where the
    events go.
    """

    publish: str = "outbox"
    clock: Clock | None = None
    topic: str = TOPIC

    def __post_init__(self) -> None:
        check_publish(self.publish)


# ------------------------------------------------------------------ tables and bodies
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


_EPOCHS = itertools.count(1)  # one per opening of a command database (see Epoch)


def order_event(o: CommandOrder, epoch: int) -> dict[str, Any]:
    """The event that reports ``o``'s latest change (its id is unique per epoch, order and version)."""
    return {"event_id": f"e{epoch}-order-{o.id}-v{o.version}", "type": EVENT_TYPES[o.status], "order_id": o.id,
            "version": o.version, "committed_at": o.committed_at, "order": _order_dict(o)}


async def record(request: Request, order: CommandOrder, session: Any) -> None:
    """Save the order's change and its event: one transaction (outbox) or two writes (direct)."""
    state = request.app.state
    event = order_event(order, state.epoch.n)
    if state.publish == "outbox":
        state.outbox.add(session, event, order_id=order.id, created_at=order.committed_at)
        session.commit()
        state.outbox.notify()
        return
    session.commit()
    try:
        await HttpBrokerClient(http(request), "http://broker.svc").publish(
            state.settings.topic, event, key=f"order-{order.id}", message_id=event["event_id"])
    except (httpx.HTTPError, LabsvcError) as exc:
        # The order is committed; its event is not. Nothing will ever send it.
        raise Problem(503, "Event not published", type=problem_type("event-not-published"),
                      detail=f"order {order.id} was saved but its {event['type']} event could not be "
                             f"published ({type(exc).__name__})", order_id=order.id) from None


async def change(request: Request, order_id: int, status: str) -> dict[str, Any]:
    """Move order ``order_id`` to ``status`` if its current status allows it (else 409), and record the event."""
    with database_of(request).session() as s:
        order = get_or_404(s, CommandOrder, order_id, "order")
        if status not in _TRANSITIONS[order.status]:
            raise Problem(409, "Not allowed now", type=problem_type("invalid-transition"),
                          detail=f"order {order_id} is {order.status}; it cannot become {status}")
        order.status = status
        order.version += 1
        order.committed_at = request.app.state.clock.now()
        s.add(order)
        await record(request, order, s)
        return _order_dict(order)


# ------------------------------------------------------------------ routes
router = APIRouter()


@router.post("/orders", status_code=201)
async def place(body: PlaceOrder, request: Request) -> dict[str, Any]:
    """Place an order and record its ``OrderPlaced`` event."""
    with database_of(request).session() as s:
        order = CommandOrder(customer_id=body.customer_id, customer_name=body.customer_name,
                             total=round(body.total, 2), committed_at=0.0)
        s.add(order)
        s.flush()  # assigns the id inside the transaction
        order.committed_at = request.app.state.clock.now()
        await record(request, order, s)
        return _order_dict(order)


@router.post("/orders/{order_id}/ship")
async def ship(order_id: int, request: Request) -> dict[str, Any]:
    """Ship a placed order."""
    return await change(request, order_id, "SHIPPED")


@router.post("/orders/{order_id}/cancel")
async def cancel(order_id: int, request: Request) -> dict[str, Any]:
    """Cancel a placed order."""
    return await change(request, order_id, "CANCELLED")


@router.get("/orders/stats")
async def stats(request: Request) -> dict[str, Any]:
    """Orders and totals per status (the read model answers the same shape)."""
    return order_stats(database_of(request), CommandOrder)


@router.get("/orders")
async def list_orders(request: Request) -> list[dict[str, Any]]:
    """Every order, oldest first."""
    with database_of(request).session() as s:
        return [_order_dict(o) for o in s.exec(select(CommandOrder).order_by(CommandOrder.id)).all()]


@router.get("/orders/{order_id}")
async def get_order(order_id: int, request: Request) -> dict[str, Any]:
    """One order, or 404."""
    with database_of(request).session() as s:
        order = get_or_404(s, CommandOrder, order_id, "order")
    return _order_dict(order)


# The event feed comes after the outbox's own routes (GET /outbox, POST /outbox/relay).
feed_router = APIRouter()


@feed_router.get("/events")
async def events(request: Request, after: int = 0, limit: int = 500) -> dict[str, Any]:
    """The event feed (outbox mode only): events after sequence number ``after``, and the last one given."""
    if request.app.state.publish != "outbox":
        raise Problem(404, "No event feed", type=problem_type("no-event-feed"),
                      detail="this order service publishes directly and keeps no outbox, so it has no event feed")
    with database_of(request).session() as s:
        rows = s.exec(select(OutboxRow).where(OutboxRow.seq > after).order_by(OutboxRow.seq).limit(limit)).all()
    return {"events": [r.payload for r in rows], "last": rows[-1].seq if rows else after}


# ------------------------------------------------------------------ the app
def create_app(settings: Settings | None = None) -> FastAPI:
    """A new order (command) app: its own database, outbox and epoch."""
    settings = settings or Settings()
    clock = settings.clock or MonotonicClock()
    epoch = Epoch(_EPOCHS)
    db = service_database("orders", OrderCommandBase.metadata, setup=epoch.new)
    app = data_service("orders", db, description=f"Order commands; events published by {settings.publish}.")
    app.state.settings = settings
    app.state.publish = settings.publish
    app.state.clock = clock
    app.state.epoch = epoch
    app.state.outbox = Outbox(db, OutboxRow, topic=settings.topic, clock=clock)
    app.include_router(router)
    app.state.outbox.install(app)
    app.include_router(feed_router)
    return app


def order_command_app(publish: str = "outbox", *, clock: Clock | None = None, topic: str = TOPIC) -> FastAPI:
    """The order service (command side) with ``publish="outbox"`` or ``"direct"``.

    ``POST /orders``, ``POST /orders/{id}/ship``, ``POST /orders/{id}/cancel``
    change state; ``GET /orders``, ``GET /orders/{id}``, ``GET /orders/stats``
    read it; ``POST /outbox/relay`` and ``GET /outbox`` run and show the
    outbox; ``GET /events`` is the event feed (outbox mode only).
    The same as ``create_app(Settings(publish, clock, topic))``.
    """
    return create_app(Settings(publish=publish, clock=clock, topic=topic))


#: One app with the default settings (outbox, in memory), for ``python -m labsvc serve ...:app``.
app = create_app()
