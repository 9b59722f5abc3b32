"""The place-order saga choreographed on the broker: three services that react to each other's events.

No service holds the sequence. Each one owns its tables, subscribes its own
consumer group to the topic :data:`SAGA_TOPIC` on ``http://broker.svc``, and
reacts to the event types it cares about (:data:`REACTIONS`):

==================  =========  ==========================================================
event               producer   who reacts, and how
==================  =========  ==========================================================
OrderCreated        orders     inventory reserves stock: ``StockReserved`` or ``ReservationFailed``
StockReserved       inventory  payment charges: ``PaymentCharged`` or ``PaymentFailed``
PaymentCharged      payment    orders approves: ``OrderApproved``
ReservationFailed   inventory  orders cancels: ``OrderCancelled``
PaymentFailed       payment    inventory releases its stock (``StockReleased``); orders cancels
OrderCancelled      orders     inventory releases (if still held); payment refunds (if captured)
==================  =========  ==========================================================

Every service writes the events it emits to its own transactional outbox
(:class:`~labsvc.data._outbox.Outbox`) in the same transaction as the change
they report, and records every event it consumed in an ``inbox`` table in
that transaction too, so a redelivered event (a lost acknowledgement) is
recognised and skipped. ``POST /events/poll`` runs one consumer round and
``POST /outbox/relay`` one publishing round; a :class:`~labsvc.data.Pump`
drives each. ``GET /events`` lists the events a service emitted (its outbox):
with no orchestrator, that is where the flow of an order can be read back.
"""

from __future__ import annotations

from typing import Any, Callable

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from labsvc.core.clock import Clock
from labsvc.core.errors import LabsvcError
from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import Request, http, instance_name
from labsvc.data import inventory, payment
from labsvc.data._database import ServiceDatabase, data_service, service_database
from labsvc.data._handlers import all_rows, get_or_404
from labsvc.data._outbox import Outbox, OutboxFields
from labsvc.data._saga_steps import OrderLine
from labsvc.messaging import HttpBrokerClient

__all__ = ["SAGA_TOPIC", "REACTIONS", "ChoreoOrder", "orders_app", "inventory_app", "payment_app"]

#: The one topic every saga event goes to; each service reads it in a consumer group named after itself.
SAGA_TOPIC = "order-saga"

#: Which event types each service reacts to (the rest it acknowledges and ignores).
REACTIONS = {
    "orders": ("ReservationFailed", "PaymentCharged", "PaymentFailed"),
    "inventory": ("OrderCreated", "PaymentFailed", "OrderCancelled"),
    "payment": ("StockReserved", "OrderCancelled"),
}


class InboxFields(SQLModel):
    """The columns of a service's inbox: every saga event it consumed, once, and whether it acted on it."""

    event_id: str = Field(primary_key=True)
    type: str
    producer: str
    order_id: int = Field(index=True)
    acted: bool
    at: float


class PollBody(BaseModel):
    """The body of ``POST /events/poll``."""

    max: int = PydanticField(default=50, ge=1, le=1000, description="most events to take in this round")
    wait: float = PydanticField(default=0.0, ge=0, le=30, description="seconds to wait for a first event")
    lease: float = PydanticField(default=0.05, gt=0, description="seconds before an unacked event comes back")


# ------------------------------------------------------------------ tables
class ChoreoOrdersBase(SQLModel, registry=registry()):
    """Tables the order service owns in the choreographed saga."""


class ChoreoOrder(ChoreoOrdersBase, table=True):
    """An order: PENDING until an event settles it (APPROVED or CANCELLED), with when it was placed and settled."""

    __tablename__ = "orders"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int
    product_id: int
    quantity: int
    amount: float | None = None
    status: str = "PENDING"  # PENDING | APPROVED | CANCELLED
    reason: str | None = None
    created_at: float
    finished_at: float | None = None


class OrdersOutbox(OutboxFields, ChoreoOrdersBase, table=True):
    __tablename__ = "outbox"


class OrdersInbox(InboxFields, ChoreoOrdersBase, table=True):
    __tablename__ = "inbox"


class InventoryExtras(SQLModel, registry=registry()):
    """The inventory's own outbox and inbox (next to :class:`~labsvc.data.inventory.Stock` and reservations)."""


class InventoryOutbox(OutboxFields, InventoryExtras, table=True):
    __tablename__ = "outbox"


class InventoryInbox(InboxFields, InventoryExtras, table=True):
    __tablename__ = "inbox"


class PaymentExtras(SQLModel, registry=registry()):
    """The payment provider's own outbox and inbox (next to :class:`~labsvc.data.payment.Charge`)."""


class PaymentOutbox(OutboxFields, PaymentExtras, table=True):
    __tablename__ = "outbox"


class PaymentInbox(InboxFields, PaymentExtras, table=True):
    __tablename__ = "inbox"


# ------------------------------------------------------------------ the plumbing every service shares
def event(producer: str, type_: str, order_id: int, **data: Any) -> dict[str, Any]:
    """A saga event; its id names producer, type and order, so each happens at most once per order."""
    return {"event_id": f"{producer}:{type_}:{order_id}", "type": type_, "producer": producer,
            "order_id": order_id, **data}


class Participant:
    """One service's side of the choreography: its database, outbox, inbox and reaction to events.

    ``react(session, event)`` changes the service's own tables inside
    ``session`` and returns the events to emit (a list, maybe empty), or
    None when the event is not one it acts on.
    """

    def __init__(self, name: str, db: ServiceDatabase, outbox_row: type, inbox_row: type, clock: Clock,
                 react: Callable[[Any, dict[str, Any]], list[dict[str, Any]] | None]) -> None:
        self.name, self.db, self.inbox_row, self.clock, self.react = name, db, inbox_row, clock, react
        self.outbox = Outbox(db, outbox_row, topic=SAGA_TOPIC, clock=clock)

    def emit(self, session: Any, events: list[dict[str, Any]]) -> None:
        """Stage ``events`` in the outbox of ``session`` (sent only if the caller commits)."""
        for e in events:
            self.outbox.add(session, e, order_id=e["order_id"], created_at=self.clock.now())

    def handle(self, ev: dict[str, Any]) -> bool:
        """Apply one consumed event once: reaction, outbox rows and inbox row in one transaction; False if seen."""
        with self.db.session() as s:
            if s.get(self.inbox_row, ev["event_id"]) is not None:
                return False
            emitted = self.react(s, ev) if ev["type"] in REACTIONS[self.name] else None
            self.emit(s, emitted or [])
            s.add(self.inbox_row(event_id=ev["event_id"], type=ev["type"], producer=ev["producer"],
                                 order_id=ev["order_id"], acted=emitted is not None, at=self.clock.now()))
            s.commit()
        if emitted:
            self.outbox.notify()
        return True

    async def poll(self, request: Request, body: PollBody | None) -> dict[str, Any]:
        """One consumer round: pull, handle each event once, acknowledge (a lost ack means a redelivery)."""
        body = body or PollBody()
        broker = HttpBrokerClient(http(request), "http://broker.svc")
        try:
            deliveries = await broker.pull(SAGA_TOPIC, self.name, consumer=instance_name(request), max=body.max,
                                           lease=body.lease, wait=body.wait)
        except (httpx.HTTPError, LabsvcError) as exc:
            raise Problem(503, "Broker unavailable", type=problem_type("dependency-unavailable"),
                          detail=f"{self.name} could not pull saga events: {type(exc).__name__}; "
                                 f"they wait at the broker for the next round") from None
        applied = duplicates = lost_acks = 0
        for d in deliveries:
            if self.handle(d.payload):
                applied += 1
            else:
                duplicates += 1
            try:
                await d.ack()
            except (httpx.HTTPError, LabsvcError):
                lost_acks += 1  # the broker hands it out again after its lease; the inbox skips it then
        return {"pulled": len(deliveries), "applied": applied, "duplicates": duplicates, "lost_acks": lost_acks}

    def install(self, app: FastAPI) -> None:
        """Add ``POST /events/poll``, ``GET /events`` (what it emitted), ``GET /inbox`` and the outbox routes."""
        self.outbox.install(app)

        @app.post("/events/poll")
        async def poll(request: Request, body: PollBody | None = None) -> dict[str, Any]:
            return await self.poll(request, body)

        @app.get("/events")
        async def emitted() -> list[dict[str, Any]]:
            with self.db.session() as s:
                rows = s.exec(select(self.outbox.row).order_by(self.outbox.row.seq)).all()
                return [{**r.payload, "created_at": r.created_at, "published_at": r.published_at} for r in rows]

        @app.get("/inbox")
        async def inbox() -> list[dict[str, Any]]:
            return all_rows(self.db, self.inbox_row, self.inbox_row.at)

        app.state.participant = self


def _extra_tables(metadata: sa.MetaData, then: Callable[[ServiceDatabase], None] | None = None):
    """A database ``setup`` that also creates the service's outbox and inbox tables."""
    def setup(db: ServiceDatabase) -> None:
        metadata.create_all(db.engine)
        if then is not None:
            then(db)
    return setup


# ------------------------------------------------------------------ orders
def orders_app(clock: Clock) -> FastAPI:
    """orders: saves the order PENDING with ``OrderCreated``; approves or cancels it on the others' events."""
    db = service_database("orders", ChoreoOrdersBase.metadata)
    app = data_service("orders", db, description="Places orders; follows the saga's events (choreography).")

    def settle(s: Any, ev: dict[str, Any], status: str, reason: str | None) -> list[dict[str, Any]]:
        moved = s.exec(sa.update(ChoreoOrder).where(ChoreoOrder.id == ev["order_id"], ChoreoOrder.status == "PENDING")
                       .values(status=status, reason=reason, finished_at=clock.now(),
                               amount=ev.get("amount"))).rowcount == 1
        if not moved:
            return []  # already settled: nothing new to say
        kind = "OrderApproved" if status == "APPROVED" else "OrderCancelled"
        return [event("orders", kind, ev["order_id"], reason=reason)]

    def react(s: Any, ev: dict[str, Any]) -> list[dict[str, Any]]:
        if ev["type"] == "PaymentCharged":
            return settle(s, ev, "APPROVED", None)
        return settle(s, {**ev, "amount": None}, "CANCELLED", ev["reason"])

    part = Participant("orders", db, OrdersOutbox, OrdersInbox, clock, react)
    part.install(app)

    @app.post("/orders", status_code=201)
    async def place(body: OrderLine) -> dict[str, Any]:
        """Save the order PENDING and its ``OrderCreated`` together; the saga goes on without the caller."""
        with db.session() as s:
            order = ChoreoOrder(customer_id=body.customer_id, product_id=body.product_id, quantity=body.quantity,
                                created_at=clock.now())
            s.add(order)
            s.flush()
            part.emit(s, [event("orders", "OrderCreated", order.id, product_id=body.product_id,
                                quantity=body.quantity)])
            s.commit()
        part.outbox.notify()
        return order.model_dump()

    @app.get("/orders")
    async def orders() -> list[dict[str, Any]]:
        return all_rows(db, ChoreoOrder, ChoreoOrder.id)

    @app.get("/orders/{order_id}")
    async def one(order_id: int) -> dict[str, Any]:
        with db.session() as s:
            return get_or_404(s, ChoreoOrder, order_id, "order").model_dump()

    return app


# ------------------------------------------------------------------ inventory
def _release(s: Any, order_id: int) -> bool:
    """Give the order's stock back; a tombstone if nothing was reserved yet. True when stock came back."""
    r = s.get(inventory.Reservation, order_id)
    if r is None:
        s.add(inventory.Reservation(order_id=order_id, status="RELEASED"))
        return False
    if r.status != "RESERVED":
        return False
    s.exec(sa.update(inventory.Stock).where(inventory.Stock.product_id == r.product_id)
           .values(available=inventory.Stock.available + r.quantity))
    r.status = "RELEASED"
    s.add(r)
    return True


def inventory_app(clock: Clock, settings: inventory.Settings) -> FastAPI:
    """inventory: reserves on ``OrderCreated``; releases its own stock on ``PaymentFailed`` or ``OrderCancelled``."""
    db = service_database("inventory", inventory.InventoryBase.metadata,
                          setup=_extra_tables(InventoryExtras.metadata, lambda db: inventory.seed_stock(settings, db)))
    app = data_service("inventory", db, description="Reserves stock; follows the saga's events (choreography).")

    def react(s: Any, ev: dict[str, Any]) -> list[dict[str, Any]]:
        oid = ev["order_id"]
        if ev["type"] != "OrderCreated":
            return [event("inventory", "StockReleased", oid)] if _release(s, oid) else []
        if s.get(inventory.Reservation, oid) is not None:  # released before it was made: refuse
            return [event("inventory", "ReservationFailed", oid, reason="released_before")]
        item = s.get(inventory.Stock, ev["product_id"])
        taken = s.exec(sa.update(inventory.Stock).where(inventory.Stock.product_id == ev["product_id"],
                                                        inventory.Stock.available >= ev["quantity"])
                       .values(available=inventory.Stock.available - ev["quantity"])).rowcount == 1
        if item is None or not taken:
            return [event("inventory", "ReservationFailed", oid, reason="out_of_stock")]
        s.add(inventory.Reservation(order_id=oid, product_id=ev["product_id"], quantity=ev["quantity"],
                                    status="RESERVED"))
        return [event("inventory", "StockReserved", oid, amount=round(item.unit_price * ev["quantity"], 2))]

    Participant("inventory", db, InventoryOutbox, InventoryInbox, clock, react).install(app)

    @app.get("/stock")
    async def stock() -> list[dict[str, Any]]:
        return all_rows(db, inventory.Stock, inventory.Stock.product_id)

    @app.get("/reservations")
    async def reservations() -> list[dict[str, Any]]:
        return all_rows(db, inventory.Reservation, inventory.Reservation.order_id)

    return app


# ------------------------------------------------------------------ payment
def payment_app(clock: Clock, settings: payment.Settings) -> FastAPI:
    """payment: charges on ``StockReserved`` (some cards are declined); refunds on ``OrderCancelled``."""
    db = service_database("payment", payment.PaymentBase.metadata, setup=_extra_tables(PaymentExtras.metadata))
    app = data_service("payment", db, description="Charges orders; follows the saga's events (choreography).")

    def react(s: Any, ev: dict[str, Any]) -> list[dict[str, Any]]:
        oid = ev["order_id"]
        c = s.get(payment.Charge, oid)
        if ev["type"] == "OrderCancelled":
            if c is None:
                s.add(payment.Charge(order_id=oid, status="VOIDED"))  # a late StockReserved is refused
            elif c.status == "CAPTURED":
                c.status = "REFUNDED"
                s.add(c)
                return [event("payment", "PaymentRefunded", oid)]
            return []
        if c is not None:  # voided in advance, or already charged
            return [] if c.status == "CAPTURED" else [event("payment", "PaymentFailed", oid, reason="charge_voided")]
        declined = payment._chance(settings, "decline", oid) < settings.decline_rate
        s.add(payment.Charge(order_id=oid, amount=ev["amount"], status="DECLINED" if declined else "CAPTURED"))
        if declined:
            return [event("payment", "PaymentFailed", oid, reason="payment_declined")]
        return [event("payment", "PaymentCharged", oid, amount=ev["amount"])]

    Participant("payment", db, PaymentOutbox, PaymentInbox, clock, react).install(app)

    @app.get("/charges")
    async def charges() -> list[dict[str, Any]]:
        return all_rows(db, payment.Charge, payment.Charge.order_id)

    return app
