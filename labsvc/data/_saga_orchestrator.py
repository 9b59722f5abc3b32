"""The saga's orchestrator: the order service that runs the place-order saga.

It holds the steps and their compensations (:data:`SAGA_STEPS`), the order
and saga-log tables, and :func:`order_saga_app`: retries, compensations,
compare-and-set transitions and ``POST /sagas/recover``. With
``events_topic``, every order that reaches a final state also gets an
``OrderApproved`` / ``OrderCancelled`` event in a transactional outbox
(:mod:`._outbox`), in the event shape the order-history read model projects.
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

from ..clock import Clock, MonotonicClock, parse_duration
from ..errors import ConfigurationError
from ..problems import Problem, problem_type
from ..service import Request, http
from ._database import data_service, service_database
from ._outbox import Outbox, OutboxFields
from ._remote import problem_of

__all__ = ["SAGA_STEPS", "FINAL_STATES", "order_saga_app"]

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


class OrderLine(BaseModel):
    """The body of ``POST /orders`` on the saga's order service."""

    customer_id: int = PydanticField(ge=1)
    product_id: int = PydanticField(ge=1)
    quantity: int = PydanticField(ge=1, le=10)



# ------------------------------------------------------------------ orders: the orchestrator
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


def final_event(order: SagaOrder, epoch: int, at: float) -> dict[str, Any]:
    """The event of an order that reached a final state, in the order-history read model's shape."""
    return {"event_id": f"e{epoch}-order-{order.id}-final", "type": _EVENT_TYPES[order.status],
            "order_id": order.id, "version": 1, "committed_at": at,
            "order": {"id": order.id, "customer_id": order.customer_id, "customer_name": f"customer {order.customer_id}",
                      "total": order.amount or 0.0, "status": order.status, "version": 1, "committed_at": at,
                      "product_id": order.product_id, "quantity": order.quantity, "reason": order.reason}}


@dataclass
class _StepResult:
    outcome: str  # ok | rejected | unknown
    body: dict[str, Any]
    detail: str
    attempts: int


_REJECTIONS = (402, 404, 409, 422)  # the participant said no: retrying will not change that


def order_saga_app(*, clock: Clock | None = None, compensate: bool = True, attempts: int = 3,
                   compensation_attempts: int = 5, backoff: float | str = "5ms", timeout: float | str = "100ms",
                   events_topic: str | None = None):
    """The order service, orchestrating the place-order saga.

    ``POST /orders`` runs the whole saga and answers 201 with the order in
    its final state (or ``COMPENSATING`` if a compensation must wait for a
    participant to come back). ``attempts`` tries per step and
    ``compensation_attempts`` per compensation, ``backoff`` doubling
    between them (on ``clock``); ``timeout`` per call. ``compensate=False``
    is the broken saga: failures only mark the order cancelled and leave
    stock reserved and charges captured. With ``events_topic``, final states
    are also written to an outbox that ``POST /outbox/relay`` publishes to
    that topic on ``http://broker.svc``.
    """
    clock = clock or MonotonicClock()
    pause = parse_duration(backoff, name="backoff")
    per_call = parse_duration(timeout, name="timeout")
    if attempts < 1 or compensation_attempts < 1:
        raise ConfigurationError("attempts and compensation_attempts must be at least 1")
    epoch = {"n": 0}

    def new_epoch(_db: Any) -> None:
        epoch["n"] = next(_EPOCHS)

    db = service_database("orders", SagaOrdersBase.metadata, setup=new_epoch)
    app = data_service("orders", db, description="Places orders with an orchestrated saga.")
    outbox = Outbox(db, SagaOutboxRow, topic=events_topic, clock=clock) if events_topic else None
    if outbox is not None:
        outbox.install(app)
    running: set[int] = set()  # sagas this instance is executing now (recovery leaves them alone)
    app.state.running = running

    def log(order_id: int, step: str, kind: str, outcome: str, attempts_used: int, detail: str = "") -> None:
        with db.engine.begin() as conn:  # a plain INSERT: the log is written often
            conn.execute(sa.insert(SagaLogRow).values(order_id=order_id, step=step, kind=kind, outcome=outcome,
                                                      attempts=attempts_used, detail=detail, at=clock.now()))

    def transition(order_id: int, sources: tuple[str, ...], target: str, **values: Any) -> bool:
        """Compare-and-set the order's status: only one actor can move it from a given state."""
        report = outbox is not None and target in FINAL_STATES
        with db.session() as s:
            r = s.exec(sa.update(SagaOrder).where(SagaOrder.id == order_id, col(SagaOrder.status).in_(sources))
                       .values(status=target, **values))
            moved = r.rowcount == 1
            if moved and report:  # the event commits with the change it reports, or not at all
                now = clock.now()
                outbox.add(s, final_event(s.get(SagaOrder, order_id), epoch["n"], now), order_id=order_id,
                           created_at=now)
            s.commit()
        if moved and report:
            outbox.notify()
        return moved

    def load(order_id: int) -> SagaOrder:
        with db.session() as s:
            order = s.get(SagaOrder, order_id)
        if order is None:
            raise Problem(404, "Order not found", type=problem_type("not-found"), detail=f"no order with id {order_id}")
        return order

    async def call(client: Any, method: str, url: str, body: Any, tries: int) -> _StepResult:
        """Call a participant, retrying unknown outcomes (errors, timeouts) with backoff."""
        detail = ""
        for attempt in range(1, tries + 1):
            try:
                r = await client.request(method, url, json=body, timeout=per_call)
            except httpx.HTTPError as exc:
                detail = type(exc).__name__
            else:
                if r.status_code < 300:
                    return _StepResult("ok", r.json(), "", attempt)
                doc = problem_of(r)
                slug = str(doc.get("type", "")).rsplit(":", 1)[-1]
                if r.status_code in _REJECTIONS:
                    return _StepResult("rejected", doc, slug.replace("-", "_") or str(r.status_code), attempt)
                detail = f"{r.status_code} {slug}".strip()
            if attempt < tries:
                await clock.sleep(pause * 2 ** (attempt - 1))
        return _StepResult("unknown", {}, detail, tries)

    async def run_compensations(client: Any, order_id: int) -> bool:
        """Run what is left to undo for ``order_id``; True when the order reached CANCELLED."""
        order = load(order_id)
        remaining = list(order.to_compensate)
        while remaining:
            name = remaining[0]
            if name == "refund_payment":
                res = await call(client, "POST", "http://payment.svc/refunds", {"order_id": order_id},
                                 compensation_attempts)
            elif name == "release_stock":
                res = await call(client, "DELETE", f"http://inventory.svc/reservations/{order_id}", None,
                                 compensation_attempts)
            else:
                raise ConfigurationError(f"unknown compensation {name!r}")
            log(order_id, name, "compensation", res.outcome, res.attempts, res.detail)
            if res.outcome != "ok":
                return False  # stays COMPENSATING with what is left; recovery retries later
            remaining.pop(0)
            with db.session() as s:
                s.exec(sa.update(SagaOrder).where(SagaOrder.id == order_id).values(to_compensate=list(remaining)))
                s.commit()
        if transition(order_id, ("COMPENSATING",), "CANCELLED"):
            log(order_id, "cancel_order", "compensation", "ok", 1)
        return True

    async def fail(client: Any, order_id: int, reason: str, done: list[str]) -> None:
        """Undo the steps in ``done`` (latest first) and cancel the order."""
        undo = [_COMPENSATION[s] for s in reversed(done) if s != "create_order"]
        if not compensate:
            undo = []  # the broken saga: nothing is undone
        if transition(order_id, ("PENDING",), "COMPENSATING", reason=reason, to_compensate=undo):
            await run_compensations(client, order_id)

    async def saga(client: Any, order: SagaOrder) -> None:
        oid = order.id
        res = await call(client, "POST", "http://inventory.svc/reservations",
                         {"order_id": oid, "product_id": order.product_id, "quantity": order.quantity}, attempts)
        log(oid, "reserve_stock", "action", res.outcome, res.attempts, res.detail)
        if res.outcome == "rejected":
            # Nothing was reserved: only the order itself is undone.
            return await fail(client, oid, res.detail, ["create_order"])
        if res.outcome == "unknown":
            # The reservation may exist: release it (a no-op if it does not).
            return await fail(client, oid, "inventory_unavailable", ["create_order", "reserve_stock"])
        amount = round(res.body["unit_price"] * order.quantity, 2)
        with db.session() as s:
            s.exec(sa.update(SagaOrder).where(SagaOrder.id == oid).values(amount=amount))
            s.commit()
        res = await call(client, "POST", "http://payment.svc/charges", {"order_id": oid, "amount": amount}, attempts)
        log(oid, "charge_payment", "action", res.outcome, res.attempts, res.detail)
        if res.outcome == "rejected":
            reason = res.detail if res.detail == "payment_declined" else "payment_unavailable"
            return await fail(client, oid, reason, ["create_order", "reserve_stock"])
        if res.outcome == "unknown":
            # The charge may have happened (a late answer): refund it if so.
            return await fail(client, oid, "payment_unavailable", ["create_order", "reserve_stock", "charge_payment"])
        if transition(oid, ("PENDING",), "APPROVED"):
            log(oid, "approve_order", "action", "ok", 1)

    @app.post("/orders", status_code=201)
    async def place(body: OrderLine, request: Request) -> dict[str, Any]:
        with db.session() as s:
            order = SagaOrder(customer_id=body.customer_id, product_id=body.product_id, quantity=body.quantity)
            s.add(order)
            s.commit()
        log(order.id, "create_order", "action", "ok", 1)
        running.add(order.id)
        try:
            await saga(http(request), order)
        finally:
            running.discard(order.id)
        return load(order.id).model_dump()

    @app.post("/sagas/recover")
    async def recover(request: Request) -> dict[str, Any]:
        """Finish sagas left half-way: pending compensations, and PENDING orders nobody is running."""
        client = http(request)
        with db.session() as s:
            stuck = s.exec(select(SagaOrder.id, SagaOrder.status)
                           .where(col(SagaOrder.status).in_(("PENDING", "COMPENSATING")))).all()
        finished = 0
        for oid, status in stuck:
            if oid in running:
                continue
            if status == "PENDING":
                undo = ["refund_payment", "release_stock"] if compensate else []
                if not transition(oid, ("PENDING",), "COMPENSATING", reason="interrupted", to_compensate=undo):
                    continue
            finished += await run_compensations(client, oid)
        with db.session() as s:
            left = s.exec(select(sa.func.count()).select_from(SagaOrder)
                          .where(col(SagaOrder.status).in_(("PENDING", "COMPENSATING")))).one()
        return {"finished": finished, "unfinished": int(left)}

    @app.get("/orders")
    async def list_orders() -> list[dict[str, Any]]:
        with db.session() as s:
            return [o.model_dump() for o in s.exec(select(SagaOrder).order_by(SagaOrder.id)).all()]

    @app.get("/orders/{order_id}")
    async def get_order(order_id: int) -> dict[str, Any]:
        return load(order_id).model_dump()

    @app.get("/sagas/log")
    async def saga_log(order_id: int | None = None) -> list[dict[str, Any]]:
        with db.session() as s:
            query = select(SagaLogRow).order_by(SagaLogRow.seq)
            if order_id is not None:
                query = query.where(SagaLogRow.order_id == order_id)
            return [r.model_dump() for r in s.exec(query).all()]

    return app
