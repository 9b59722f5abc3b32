"""The place-order saga's steps, compensations and state machine: what the orchestrator does.

The service around it is :mod:`labsvc.data.saga_orchestrator`; this module
holds its tables and the :class:`Orchestrator` of one instance: calls with
retries (:meth:`Orchestrator.call`), compare-and-set transitions, the saga
itself (:meth:`Orchestrator.run`), its compensations and the recovery of
sagas left half-way.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, col, select

from labsvc.core.clock import Clock
from labsvc.core.errors import ConfigurationError
from labsvc.data._database import ServiceDatabase
from labsvc.data._handlers import get_or_404
from labsvc.data._outbox import Epoch, Outbox, OutboxFields
from labsvc.data._remote import problem_of

__all__ = ["SAGA_STEPS", "FINAL_STATES", "OrderLine", "SagaOrder", "SagaLogRow", "SagaOutboxRow", "final_event",
           "StepResult", "Orchestrator", "new_epoch"]

#: The saga's steps, in order, and the compensation that undoes each.
SAGA_STEPS = pd.DataFrame(dtype=object, data=[
    {"step": "create_order", "service": "orders", "action": "insert the order as PENDING",
     "compensation": "cancel_order"},
    {"step": "reserve_stock", "service": "inventory", "action": "POST /reservations",
     "compensation": "release_stock"},
    {"step": "charge_payment", "service": "payment", "action": "POST /charges",
     "compensation": "refund_payment"},
    {"step": "approve_order", "service": "orders", "action": "mark the order APPROVED", "compensation": None},
])
_COMPENSATION = dict(zip(SAGA_STEPS["step"], SAGA_STEPS["compensation"]))
FINAL_STATES = ("APPROVED", "CANCELLED")
_UNFINISHED = ("PENDING", "COMPENSATING")


class OrderLine(BaseModel):
    """The body of ``POST /orders`` on the saga's order service."""

    customer_id: int = PydanticField(ge=1)
    product_id: int = PydanticField(ge=1)
    quantity: int = PydanticField(ge=1, le=10)


# ------------------------------------------------------------------ tables
class SagaOrdersBase(SQLModel, registry=registry()):
    """Tables the order service (saga orchestrator) owns."""


class SagaOrder(SagaOrdersBase, table=True):
    """An order and its saga's state: status, reason, compensations still to do."""

    __tablename__ = "orders"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int
    product_id: int
    quantity: int
    amount: float | None = None
    status: str = "PENDING"  # PENDING | APPROVED | COMPENSATING | CANCELLED
    reason: str | None = None
    to_compensate: list = Field(default_factory=list, sa_type=sa.JSON)


class SagaLogRow(SagaOrdersBase, table=True):
    """One step or compensation of one order's saga, and how it went."""

    __tablename__ = "saga_log"
    seq: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(index=True)
    step: str
    kind: str  # action | compensation
    outcome: str  # ok | rejected | unknown
    attempts: int
    detail: str = ""
    at: float


class SagaOutboxRow(OutboxFields, SagaOrdersBase, table=True):
    """An order event waiting to be published, or already sent (only with ``events_topic``)."""

    __tablename__ = "outbox"


# Each opening of the orders database is a new epoch, so event ids stay unique
# when an in-memory database restarts its order numbers from 1.
_EPOCHS = itertools.count(1)
_EVENT_TYPES = {"APPROVED": "OrderApproved", "CANCELLED": "OrderCancelled"}


def new_epoch() -> Epoch:
    """The epoch counter of one orchestrator app (pass ``epoch.new`` as its database's ``setup``)."""
    return Epoch(_EPOCHS)


def final_event(order: SagaOrder, epoch: int, at: float) -> dict[str, Any]:
    """The event of an order that reached a final state, in the order-history read model's shape."""
    return {"event_id": f"e{epoch}-order-{order.id}-final", "type": _EVENT_TYPES[order.status],
            "order_id": order.id, "version": 1, "committed_at": at,
            "order": {"id": order.id, "customer_id": order.customer_id, "customer_name": f"customer {order.customer_id}",
                      "total": order.amount or 0.0, "status": order.status, "version": 1, "committed_at": at,
                      "product_id": order.product_id, "quantity": order.quantity, "reason": order.reason}}


@dataclass
class StepResult:
    """How one call to a participant ended, after its retries."""

    outcome: str  # ok | rejected | unknown
    body: dict[str, Any]
    detail: str
    attempts: int


_REJECTIONS = (402, 404, 409, 422)  # the participant said no: retrying will not change that


# ------------------------------------------------------------------ the orchestrator
class Orchestrator:
    """The saga logic of one order-service instance, over its database.

    ``attempts`` tries per step and ``compensation_attempts`` per
    compensation, ``backoff`` seconds (doubling) between them on ``clock``,
    ``timeout`` seconds per call. ``compensate=False`` is the broken saga.
    With an ``outbox``, final states are also written there as events.
    """

    def __init__(self, db: ServiceDatabase, *, clock: Clock, compensate: bool, attempts: int,
                 compensation_attempts: int, backoff: float, timeout: float, outbox: Outbox | None,
                 epoch: Epoch) -> None:
        self.db, self.clock, self.compensate = db, clock, compensate
        self.attempts, self.compensation_attempts = attempts, compensation_attempts
        self.backoff, self.timeout = backoff, timeout
        self.outbox, self.epoch = outbox, epoch
        self.running: set[int] = set()  # sagas this instance is executing now (recovery leaves them alone)

    # -- the order's records ------------------------------------------------
    def log(self, order_id: int, step: str, kind: str, outcome: str, attempts_used: int, detail: str = "") -> None:
        """Append one line to the saga log."""
        with self.db.engine.begin() as conn:  # a plain INSERT: the log is written often
            conn.execute(sa.insert(SagaLogRow).values(order_id=order_id, step=step, kind=kind, outcome=outcome,
                                                      attempts=attempts_used, detail=detail, at=self.clock.now()))

    def transition(self, order_id: int, sources: tuple[str, ...], target: str, **values: Any) -> bool:
        """Compare-and-set the order's status: only one actor can move it from a given state."""
        report = self.outbox is not None and target in FINAL_STATES
        with self.db.session() as s:
            r = s.exec(sa.update(SagaOrder).where(SagaOrder.id == order_id, col(SagaOrder.status).in_(sources))
                       .values(status=target, **values))
            moved = r.rowcount == 1
            if moved and report:  # the event commits with the change it reports, or not at all
                now = self.clock.now()
                self.outbox.add(s, final_event(s.get(SagaOrder, order_id), self.epoch.n, now), order_id=order_id,
                                created_at=now)
            s.commit()
        if moved and report:
            self.outbox.notify()
        return moved

    def set_values(self, order_id: int, **values: Any) -> None:
        """Update columns of the order (its amount, the compensations left)."""
        with self.db.session() as s:
            s.exec(sa.update(SagaOrder).where(SagaOrder.id == order_id).values(**values))
            s.commit()

    def load(self, order_id: int) -> SagaOrder:
        """The order, or a 404 problem."""
        with self.db.session() as s:
            return get_or_404(s, SagaOrder, order_id, "order")

    # -- calling participants -------------------------------------------------
    async def call(self, client: Any, method: str, url: str, body: Any, tries: int) -> StepResult:
        """Call a participant, retrying unknown outcomes (errors, timeouts) with backoff."""
        detail = ""
        for attempt in range(1, tries + 1):
            try:
                r = await client.request(method, url, json=body, timeout=self.timeout)
            except httpx.HTTPError as exc:
                detail = type(exc).__name__
            else:
                if r.status_code < 300:
                    return StepResult("ok", r.json(), "", attempt)
                doc = problem_of(r)
                slug = str(doc.get("type", "")).rsplit(":", 1)[-1]
                if r.status_code in _REJECTIONS:
                    return StepResult("rejected", doc, slug.replace("-", "_") or str(r.status_code), attempt)
                detail = f"{r.status_code} {slug}".strip()
            if attempt < tries:
                await self.clock.sleep(self.backoff * 2 ** (attempt - 1))
        return StepResult("unknown", {}, detail, tries)

    async def undo(self, client: Any, order_id: int, name: str) -> StepResult:
        """Run one compensation (``refund_payment`` or ``release_stock``) with its retries."""
        if name == "refund_payment":
            return await self.call(client, "POST", "http://payment.svc/refunds", {"order_id": order_id},
                                   self.compensation_attempts)
        if name == "release_stock":
            return await self.call(client, "DELETE", f"http://inventory.svc/reservations/{order_id}", None,
                                   self.compensation_attempts)
        raise ConfigurationError(f"unknown compensation {name!r}")

    # -- the saga ---------------------------------------------------------------
    async def run_compensations(self, client: Any, order_id: int) -> bool:
        """Run what is left to undo for ``order_id``; True when the order reached CANCELLED."""
        remaining = list(self.load(order_id).to_compensate)
        while remaining:
            name = remaining[0]
            res = await self.undo(client, order_id, name)
            self.log(order_id, name, "compensation", res.outcome, res.attempts, res.detail)
            if res.outcome != "ok":
                return False  # stays COMPENSATING with what is left; recovery retries later
            remaining.pop(0)
            self.set_values(order_id, to_compensate=list(remaining))
        if self.transition(order_id, ("COMPENSATING",), "CANCELLED"):
            self.log(order_id, "cancel_order", "compensation", "ok", 1)
        return True

    async def fail(self, client: Any, order_id: int, reason: str, done: list[str]) -> None:
        """Undo the steps in ``done`` (latest first) and cancel the order."""
        undo = [_COMPENSATION[s] for s in reversed(done) if s != "create_order"]
        if not self.compensate:
            undo = []  # the broken saga: nothing is undone
        if self.transition(order_id, ("PENDING",), "COMPENSATING", reason=reason, to_compensate=undo):
            await self.run_compensations(client, order_id)

    async def run(self, client: Any, order: SagaOrder) -> None:
        """The saga of one created order: reserve stock, charge the payment, approve (or compensate)."""
        oid = order.id
        res = await self.call(client, "POST", "http://inventory.svc/reservations",
                              {"order_id": oid, "product_id": order.product_id, "quantity": order.quantity},
                              self.attempts)
        self.log(oid, "reserve_stock", "action", res.outcome, res.attempts, res.detail)
        if res.outcome == "rejected":
            # Nothing was reserved: only the order itself is undone.
            return await self.fail(client, oid, res.detail, ["create_order"])
        if res.outcome == "unknown":
            # The reservation may exist: release it (a no-op if it does not).
            return await self.fail(client, oid, "inventory_unavailable", ["create_order", "reserve_stock"])
        amount = round(res.body["unit_price"] * order.quantity, 2)
        self.set_values(oid, amount=amount)
        res = await self.call(client, "POST", "http://payment.svc/charges", {"order_id": oid, "amount": amount},
                              self.attempts)
        self.log(oid, "charge_payment", "action", res.outcome, res.attempts, res.detail)
        if res.outcome == "rejected":
            reason = res.detail if res.detail == "payment_declined" else "payment_unavailable"
            return await self.fail(client, oid, reason, ["create_order", "reserve_stock"])
        if res.outcome == "unknown":
            # The charge may have happened (a late answer): refund it if so.
            return await self.fail(client, oid, "payment_unavailable",
                                   ["create_order", "reserve_stock", "charge_payment"])
        if self.transition(oid, ("PENDING",), "APPROVED"):
            self.log(oid, "approve_order", "action", "ok", 1)

    async def place(self, client: Any, body: OrderLine) -> SagaOrder:
        """Create the order (the saga's first local transaction), run its saga, return it in its final state."""
        with self.db.session() as s:
            order = SagaOrder(customer_id=body.customer_id, product_id=body.product_id, quantity=body.quantity)
            s.add(order)
            s.commit()
        self.log(order.id, "create_order", "action", "ok", 1)
        self.running.add(order.id)
        try:
            await self.run(client, order)
        finally:
            self.running.discard(order.id)
        return self.load(order.id)

    def unfinished(self) -> int:
        """How many orders are still PENDING or COMPENSATING."""
        with self.db.session() as s:
            return int(s.exec(select(sa.func.count()).select_from(SagaOrder)
                              .where(col(SagaOrder.status).in_(_UNFINISHED))).one())

    async def recover(self, client: Any) -> dict[str, Any]:
        """Finish sagas left half-way: pending compensations, and PENDING orders nobody is running."""
        with self.db.session() as s:
            stuck = s.exec(select(SagaOrder.id, SagaOrder.status).where(col(SagaOrder.status).in_(_UNFINISHED))).all()
        finished = 0
        for oid, status in stuck:
            if oid in self.running:
                continue
            if status == "PENDING":
                undo = ["refund_payment", "release_stock"] if self.compensate else []
                if not self.transition(oid, ("PENDING",), "COMPENSATING", reason="interrupted", to_compensate=undo):
                    continue
            finished += await self.run_compensations(client, oid)
        return {"finished": finished, "unfinished": self.unfinished()}
