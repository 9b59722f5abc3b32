"""A saga for placing an order: local transactions in three services, undone by compensations.

No transaction spans the order, inventory and payment databases. The saga
runs one local transaction per service and, when a later step fails, runs
*compensating* transactions that undo the earlier ones:

================  ==========  ==================================  ==================
step              service     action                              compensation
================  ==========  ==================================  ==================
create_order      orders      insert the order as PENDING         cancel_order
reserve_stock     inventory   ``POST /reservations``              release_stock
charge_payment    payment     ``POST /charges`` (external)        refund_payment
approve_order     orders      mark the order APPROVED             (none: last step)
================  ==========  ==================================  ==================

The saga is **orchestrated**: the order service holds the sequence, calls
each participant over HTTP and decides what to compensate (in a
*choreographed* saga each service would react to the others' events
instead). What makes it safe under faults:

- every call carries the order id as its idempotency key, so a step or a
  compensation can be retried after a timeout or an error without doing it
  twice; a compensation that arrives *before* its action (the request timed
  out and was still on its way) leaves a tombstone that makes the late
  action refuse;
- a timeout is an unknown outcome, not a failure: the step may have
  happened (a payment provider that charged and answered too late), so the
  saga retries it, and if it still cannot tell, compensates it (a refund of
  a charge that never happened is a no-op);
- each state change of the order is a compare-and-set on its status, and
  compensations still to do are stored with the order, so a saga cut short
  (a participant down, an instance restarted) is finished later by
  ``POST /sagas/recover``.

:func:`saga_experiment` places many concurrent orders under injected
faults; :func:`check_invariants` checks what must hold however they ended.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, col, select

from ..clock import Clock, MonotonicClock, parse_duration
from ..errors import ConfigurationError
from ..load import LoadRun, closed_loop
from ..network import Network
from ..problems import Problem, problem_type
from ..service import Request, http
from ._database import data_service, service_database
from ._remote import problem_of

__all__ = [
    "SAGA_STEPS", "FINAL_STATES", "OUTCOMES", "PRODUCT_PRICES", "inventory_app", "payment_app", "order_saga_app",
    "SagaFaults", "SCENARIOS", "SagaShop", "SagaResult", "saga_experiment", "check_invariants", "outcome_of",
]

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
#: How an order can end: approved, or cancelled for one of these reasons.
OUTCOMES = ("approved", "out_of_stock", "payment_declined", "inventory_unavailable", "payment_unavailable",
            "interrupted")
#: Unit price of each product the inventory holds.
PRODUCT_PRICES = {1: 12.0, 2: 25.0, 3: 7.5, 4: 40.0, 5: 18.0}


class OrderLine(BaseModel):
    """The body of ``POST /orders`` on the saga's order service."""

    customer_id: int = PydanticField(ge=1)
    product_id: int = PydanticField(ge=1)
    quantity: int = PydanticField(ge=1, le=10)


# ------------------------------------------------------------------ inventory
class InventoryBase(SQLModel, registry=registry()):
    """Tables the inventory service owns."""


class Stock(InventoryBase, table=True):
    """Units of one product: ``initial`` and still ``available``."""

    __tablename__ = "stock"
    product_id: int = Field(primary_key=True)
    initial: int
    available: int
    unit_price: float


class Reservation(InventoryBase, table=True):
    """Stock held for an order (RESERVED), or given back or refused in advance (RELEASED)."""

    __tablename__ = "reservations"
    order_id: int = Field(primary_key=True)
    product_id: int | None = None
    quantity: int = 0
    status: str  # RESERVED | RELEASED


class ReserveBody(BaseModel):
    """The body of ``POST /reservations``."""

    order_id: int = PydanticField(ge=1)
    product_id: int = PydanticField(ge=1)
    quantity: int = PydanticField(ge=1, le=10)


def inventory_app(stock: int | dict[int, int] = 50, *, prices: dict[int, float] | None = None):
    """The inventory service: stock per product, and reservations keyed by order id.

    ``stock`` is the units of every product (an int) or per product (a dict).
    Reserving takes stock with one conditional ``UPDATE`` (``... WHERE
    available >= quantity``), so stock can never go below zero, however many
    requests race.
    """
    prices = dict(prices or PRODUCT_PRICES)
    units = {p: stock for p in prices} if isinstance(stock, int) else dict(stock)
    if any(not isinstance(v, int) or v < 0 for v in units.values()) or set(units) - set(prices):
        raise ConfigurationError(f"stock={stock!r} must give a whole number >= 0 for products {sorted(prices)}")

    def seed_stock(db: Any) -> None:
        with db.session() as s:
            for p, n in units.items():
                if s.get(Stock, p) is None:
                    s.add(Stock(product_id=p, initial=n, available=n, unit_price=prices[p]))
            s.commit()

    db = service_database("inventory", InventoryBase.metadata, setup=seed_stock)
    app = data_service("inventory", db, description="Owns stock and reservations.")

    @app.post("/reservations", status_code=201)
    async def reserve(body: ReserveBody) -> dict[str, Any]:
        with db.session() as s:
            existing = s.get(Reservation, body.order_id)
            if existing is not None:
                if existing.status == "RESERVED":
                    price = s.get(Stock, existing.product_id).unit_price
                    return {"order_id": body.order_id, "status": "RESERVED", "unit_price": price, "replayed": True}
                raise Problem(409, "Reservation released", type=problem_type("reservation-released"),
                              detail=f"the reservation of order {body.order_id} was released; it cannot be made again")
            item = s.get(Stock, body.product_id)
            if item is None:
                raise Problem(404, "Unknown product", type=problem_type("unknown-product"),
                              detail=f"no product {body.product_id}; products are {sorted(prices)}")
            taken = s.exec(sa.update(Stock).where(Stock.product_id == body.product_id,
                                                  Stock.available >= body.quantity)
                           .values(available=Stock.available - body.quantity))
            if taken.rowcount != 1:
                s.rollback()
                raise Problem(409, "Out of stock", type=problem_type("out-of-stock"),
                              detail=f"product {body.product_id}: fewer than {body.quantity} left")
            s.add(Reservation(order_id=body.order_id, product_id=body.product_id, quantity=body.quantity,
                              status="RESERVED"))
            s.commit()
            return {"order_id": body.order_id, "status": "RESERVED", "unit_price": item.unit_price, "replayed": False}

    @app.delete("/reservations/{order_id}")
    async def release(order_id: int) -> dict[str, Any]:
        with db.session() as s:
            r = s.get(Reservation, order_id)
            if r is None:
                # Released before it was made: remember, so a late reserve is refused.
                s.add(Reservation(order_id=order_id, status="RELEASED"))
            elif r.status == "RESERVED":
                s.exec(sa.update(Stock).where(Stock.product_id == r.product_id)
                       .values(available=Stock.available + r.quantity))
                r.status = "RELEASED"
                s.add(r)
            s.commit()
        return {"order_id": order_id, "status": "RELEASED"}

    @app.get("/stock")
    async def stock_levels() -> list[dict[str, Any]]:
        with db.session() as s:
            return [r.model_dump() for r in s.exec(select(Stock).order_by(Stock.product_id)).all()]

    @app.get("/reservations")
    async def reservations() -> list[dict[str, Any]]:
        with db.session() as s:
            return [r.model_dump() for r in s.exec(select(Reservation).order_by(Reservation.order_id)).all()]

    return app


# ------------------------------------------------------------------ payment (external provider)
class PaymentBase(SQLModel, registry=registry()):
    """Tables the payment provider owns."""


class Charge(PaymentBase, table=True):
    """A charge for an order: CAPTURED, DECLINED, REFUNDED, or VOIDED before it happened."""

    __tablename__ = "charges"
    order_id: int = Field(primary_key=True)
    amount: float = 0.0
    status: str  # CAPTURED | DECLINED | REFUNDED | VOIDED


class ChargeBody(BaseModel):
    """The body of ``POST /charges``."""

    order_id: int = PydanticField(ge=1)
    amount: float = PydanticField(gt=0)


class RefundBody(BaseModel):
    """The body of ``POST /refunds``."""

    order_id: int = PydanticField(ge=1)


def payment_app(*, seed: int = 0, decline_rate: float = 0.0, slow_rate: float = 0.0, slow_delay: float = 0.5):
    """The external payment provider: charges and refunds keyed by order id.

    Faults of its own, seeded per order: ``decline_rate`` of orders get
    402 (card declined); ``slow_rate`` of charges are captured and then
    answered ``slow_delay`` seconds late, so a caller with a shorter timeout
    does not know the charge happened. A repeated charge is answered from
    the record at once.
    """
    for nm, v in (("decline_rate", decline_rate), ("slow_rate", slow_rate)):
        if not 0 <= v <= 1:
            raise ConfigurationError(f"{nm}={v!r} must be between 0 and 1")
    db = service_database("payment", PaymentBase.metadata)
    app = data_service("payment", db, description="External payment provider (charges, refunds).")

    @app.post("/charges", status_code=201)
    async def charge(body: ChargeBody) -> dict[str, Any]:
        with db.session() as s:
            c = s.get(Charge, body.order_id)
            if c is None:
                declined = random.Random(f"{seed}/decline/{body.order_id}").random() < decline_rate
                c = Charge(order_id=body.order_id, amount=body.amount, status="DECLINED" if declined else "CAPTURED")
                s.add(c)
                s.commit()
                fresh = True
            else:
                fresh = False
        if c.status == "DECLINED":
            raise Problem(402, "Payment declined", type=problem_type("payment-declined"),
                          detail=f"the card was declined for order {body.order_id}")
        if c.status in ("REFUNDED", "VOIDED"):
            raise Problem(409, "Charge voided", type=problem_type("charge-voided"),
                          detail=f"order {body.order_id} was refunded or voided; it cannot be charged again")
        if fresh and random.Random(f"{seed}/slow/{body.order_id}").random() < slow_rate:
            # Captured, answered late: the caller's timeout fires first and the
            # answer is lost (real time, because the caller's timeout is real time).
            await asyncio.sleep(slow_delay)
        return {"order_id": c.order_id, "amount": c.amount, "status": c.status, "replayed": not fresh}

    @app.post("/refunds")
    async def refund(body: RefundBody) -> dict[str, Any]:
        with db.session() as s:
            c = s.get(Charge, body.order_id)
            if c is None:
                c = Charge(order_id=body.order_id, status="VOIDED")  # refund before the charge: void it
            elif c.status == "CAPTURED":
                c.status = "REFUNDED"
            s.add(c)
            s.commit()
            return {"order_id": c.order_id, "status": c.status}

    @app.get("/charges")
    async def charges() -> list[dict[str, Any]]:
        with db.session() as s:
            return [c.model_dump() for c in s.exec(select(Charge).order_by(Charge.order_id)).all()]

    return app


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


@dataclass
class _StepResult:
    outcome: str  # ok | rejected | unknown
    body: dict[str, Any]
    detail: str
    attempts: int


_REJECTIONS = (402, 404, 409, 422)  # the participant said no: retrying will not change that


def order_saga_app(*, clock: Clock | None = None, compensate: bool = True, attempts: int = 3,
                   compensation_attempts: int = 5, backoff: float | str = "5ms", timeout: float | str = "100ms"):
    """The order service, orchestrating the place-order saga.

    ``POST /orders`` runs the whole saga and answers 201 with the order in
    its final state (or ``COMPENSATING`` if a compensation must wait for a
    participant to come back). ``attempts`` tries per step and
    ``compensation_attempts`` per compensation, ``backoff`` doubling
    between them (on ``clock``); ``timeout`` per call. ``compensate=False``
    is the broken saga: failures only mark the order cancelled and leave
    stock reserved and charges captured.
    """
    clock = clock or MonotonicClock()
    pause = parse_duration(backoff, name="backoff")
    per_call = parse_duration(timeout, name="timeout")
    if attempts < 1 or compensation_attempts < 1:
        raise ConfigurationError("attempts and compensation_attempts must be at least 1")
    db = service_database("orders", SagaOrdersBase.metadata)
    app = data_service("orders", db, description="Places orders with an orchestrated saga.")
    running: set[int] = set()  # sagas this instance is executing now (recovery leaves them alone)
    app.state.running = running

    def log(order_id: int, step: str, kind: str, outcome: str, attempts_used: int, detail: str = "") -> None:
        with db.engine.begin() as conn:  # a plain INSERT: the log is written often
            conn.execute(sa.insert(SagaLogRow).values(order_id=order_id, step=step, kind=kind, outcome=outcome,
                                                      attempts=attempts_used, detail=detail, at=clock.now()))

    def transition(order_id: int, sources: tuple[str, ...], target: str, **values: Any) -> bool:
        """Compare-and-set the order's status: only one actor can move it from a given state."""
        with db.session() as s:
            r = s.exec(sa.update(SagaOrder).where(SagaOrder.id == order_id, col(SagaOrder.status).in_(sources))
                       .values(status=target, **values))
            s.commit()
            return r.rowcount == 1

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


# ------------------------------------------------------------------ invariants
def outcome_of(status: str, reason: str | None) -> str:
    """One word for how an order ended: ``approved``, a cancellation reason, or ``unfinished``."""
    if status == "APPROVED":
        return "approved"
    if status == "CANCELLED":
        return reason or "cancelled"
    return "unfinished"


def check_invariants(orders: pd.DataFrame, stock: pd.DataFrame, reservations: pd.DataFrame,
                     charges: pd.DataFrame, *, accepted: list[int] | None = None) -> pd.DataFrame:
    """What must hold after any run of the saga, checked from each service's own data.

    - *stock never oversold*: for every product, available >= 0 and
      available + units held by reservations = initial stock;
    - *no payment without a reservation*: every captured charge belongs to
      an order whose stock is reserved;
    - *no order lost*: every order the clients were given (``accepted``)
      exists, and every order ended APPROVED or CANCELLED;
    - *every failed order compensated*: a cancelled order holds no stock
      and keeps no captured charge;
    - *every approved order reserved and paid*: its stock is reserved and
      its charge captured, for the order's amount.

    One row per invariant: ``invariant``, ``holds``, ``violations`` (how many)
    and ``examples`` (up to five order or product ids).
    """
    def ids(col_: pd.Series) -> list[int]:
        return sorted(int(x) for x in col_)[:5]

    reserved = reservations[reservations["status"] == "RESERVED"] if len(reservations) else reservations
    held = reserved.groupby("product_id")["quantity"].sum() if len(reserved) else pd.Series(dtype=int)
    s = stock.set_index("product_id")
    oversold = s[(s["available"] < 0) | (s["available"] + held.reindex(s.index, fill_value=0) != s["initial"])]

    captured = charges[charges["status"] == "CAPTURED"] if len(charges) else charges
    reserved_ids = set(reserved["order_id"]) if len(reserved) else set()
    captured_ids = set(captured["order_id"]) if len(captured) else set()
    paid_unreserved = sorted(captured_ids - reserved_ids)

    final = orders["status"].isin(FINAL_STATES) if len(orders) else pd.Series(dtype=bool)
    unfinished = orders[~final]["id"] if len(orders) else pd.Series(dtype=int)
    missing = sorted(set(accepted or []) - set(orders["id"] if len(orders) else []))

    cancelled = orders[orders["status"] == "CANCELLED"]["id"] if len(orders) else pd.Series(dtype=int)
    uncompensated = sorted(int(o) for o in cancelled if o in reserved_ids or o in captured_ids)

    approved = orders[orders["status"] == "APPROVED"] if len(orders) else orders
    amounts = captured.set_index("order_id")["amount"] if len(captured) else pd.Series(dtype=float)
    incomplete = sorted(int(r.id) for r in approved.itertuples()
                        if r.id not in reserved_ids or r.id not in captured_ids or abs(amounts.get(r.id, -1) - r.amount) > 1e-6)

    rows = [
        ("stock never oversold", list(oversold.index)),
        ("no payment without a reservation", paid_unreserved),
        ("no order lost", sorted(set(unfinished) | set(missing))),
        ("every failed order compensated", uncompensated),
        ("every approved order reserved and paid", incomplete),
    ]
    return pd.DataFrame([{"invariant": name, "holds": not bad, "violations": len(bad),
                          "examples": ids(pd.Series(bad, dtype=int))} for name, bad in rows])


# ------------------------------------------------------------------ the experiment
@dataclass(frozen=True)
class SagaFaults:
    """The faults of one saga run.

    ``stock``: units of each product (few units: shortages).
    ``payment_error_rate``: share of calls to payment failed by the network (503).
    ``decline_rate``: share of orders whose card is declined (402, by the provider).
    ``slow_rate``: share of charges captured but answered too late (timeouts).
    ``inventory_down``: the inventory service refuses connections from order
    ``start * orders`` to order ``end * orders`` (fractions of the run).
    """

    stock: int = 1000
    payment_error_rate: float = 0.0
    decline_rate: float = 0.0
    slow_rate: float = 0.0
    inventory_down: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.inventory_down is not None:
            a, b = self.inventory_down
            if not 0 <= a < b <= 1:
                raise ConfigurationError(f"inventory_down={self.inventory_down!r} must be fractions 0 <= start < end <= 1")


#: Named fault mixes used in the notebook.
SCENARIOS: dict[str, SagaFaults] = {
    "no faults": SagaFaults(),
    "stock shortage": SagaFaults(stock=30),
    "payment errors": SagaFaults(payment_error_rate=0.3, decline_rate=0.1),
    "payment timeouts": SagaFaults(slow_rate=0.2, payment_error_rate=0.2),
    "inventory down": SagaFaults(inventory_down=(0.3, 0.5)),
    "all at once": SagaFaults(stock=30, payment_error_rate=0.2, decline_rate=0.1, slow_rate=0.1,
                              inventory_down=(0.3, 0.5)),
}


class SagaShop:
    """orders (the orchestrator), inventory and payment on one network, with ``faults`` applied.

    ``compensate=False`` deploys the broken saga. ``timeout`` is the
    orchestrator's per-call timeout, ``attempts`` its tries per step and
    ``compensation_attempts`` per compensation, ``backoff`` the first pause
    between tries (on ``clock``); a slow payment answers after
    ``slow_delay`` seconds.
    """

    def __init__(self, faults: SagaFaults | None = None, *, seed: int = 0, name: str = "saga",
                 compensate: bool = True, clock: Clock | None = None, timeout: float | str = "50ms",
                 slow_delay: float = 0.25, backoff: float | str = "2ms", attempts: int = 3,
                 compensation_attempts: int = 5) -> None:
        self.faults = faults or SagaFaults()
        self.seed = seed
        f = self.faults
        self.net = Network(seed=seed, name=name)
        self.net.add("orders", lambda: order_saga_app(clock=clock, compensate=compensate, timeout=timeout,
                                                      backoff=backoff, attempts=attempts,
                                                      compensation_attempts=compensation_attempts))
        self.net.add("inventory", lambda: inventory_app(f.stock))
        self.net.add("payment", lambda: payment_app(seed=seed, decline_rate=f.decline_rate, slow_rate=f.slow_rate,
                                                    slow_delay=slow_delay))

    async def start(self) -> "SagaShop":
        """Start the network and inject the network faults (payment errors)."""
        await self.net.start()
        if self.faults.payment_error_rate:
            self.net.fault("payment", error_rate=self.faults.payment_error_rate)
        return self

    async def stop(self) -> None:
        """Stop the network."""
        await self.net.stop()

    async def __aenter__(self) -> "SagaShop":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def order_body(self, i: int) -> dict[str, Any]:
        """The seeded body of order ``i``."""
        rng = random.Random(f"saga/{self.seed}/{i}")
        return {"customer_id": rng.randint(1, 50), "product_id": rng.choice(sorted(PRODUCT_PRICES)),
                "quantity": rng.randint(1, 3)}

    async def place(self, i: int, client: Any = None) -> httpx.Response:
        """Place order ``i`` (the saga runs inside the request)."""
        client = client or self.net.client("frontend", timeout=30.0)
        return await client.post("http://orders.svc/orders", json=self.order_body(i))

    async def recover(self, *, max_rounds: int = 20) -> int:
        """Call ``POST /sagas/recover`` until no saga is left unfinished (or ``max_rounds``); returns orders finished."""
        client = self.net.client("operator", timeout=30.0)
        finished = 0
        for _ in range(max_rounds):
            r = await client.post("http://orders.svc/sagas/recover")
            doc = r.json()
            finished += doc["finished"]
            if doc["unfinished"] == 0:
                break
        return finished

    async def orders(self) -> pd.DataFrame:
        """Every order, as the order service has it."""
        r = await self.net.client("auditor").get("http://orders.svc/orders")
        return pd.DataFrame(r.json(), columns=list(SagaOrder.model_fields))

    async def snapshot(self) -> dict[str, pd.DataFrame]:
        """Each service's data, read through its API: orders, log, stock, reservations, charges."""
        client = self.net.client("auditor")
        urls = {"orders": "http://orders.svc/orders", "log": "http://orders.svc/sagas/log",
                "stock": "http://inventory.svc/stock", "reservations": "http://inventory.svc/reservations",
                "charges": "http://payment.svc/charges"}
        answers = await asyncio.gather(*(client.get(u) for u in urls.values()))
        columns = {"orders": list(SagaOrder.model_fields), "log": list(SagaLogRow.model_fields),
                   "stock": list(Stock.model_fields), "reservations": list(Reservation.model_fields),
                   "charges": list(Charge.model_fields)}
        return {k: pd.DataFrame(r.json(), columns=columns[k]) for k, r in zip(urls, answers)}


@dataclass
class SagaResult:
    """One saga run: every service's data, the invariants, and the outcome counts.

    ``orders`` has an ``outcome`` column (:func:`outcome_of`); ``outcomes``
    counts orders per outcome; ``invariants`` is :func:`check_invariants`.
    """

    scenario: str
    seed: int
    run: LoadRun
    orders: pd.DataFrame
    log: pd.DataFrame
    stock: pd.DataFrame
    reservations: pd.DataFrame
    charges: pd.DataFrame
    invariants: pd.DataFrame
    recovered: int
    unfinished_before_recovery: int
    calls: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    @property
    def outcomes(self) -> pd.DataFrame:
        """Orders per outcome (``scenario``, ``seed``, ``outcome``, ``orders``), approved first."""
        counts = self.orders["outcome"].value_counts()
        order = [o for o in (*OUTCOMES, "unfinished") if o in counts.index] + [o for o in counts.index if o not in OUTCOMES and o != "unfinished"]
        return pd.DataFrame({"scenario": self.scenario, "seed": self.seed, "outcome": order,
                             "orders": [int(counts[o]) for o in order]})

    @property
    def ok(self) -> bool:
        """True when every invariant holds."""
        return bool(self.invariants["holds"].all())

    def compensations(self) -> pd.DataFrame:
        """How often each compensation ran, per cancellation reason."""
        orders = self.orders[["id", "outcome"]].rename(columns={"id": "order_id", "outcome": "order_outcome"})
        comp = self.log[self.log["kind"] == "compensation"].merge(orders, on="order_id")
        comp = comp[comp["outcome"] == "ok"]
        table = comp.groupby(["order_outcome", "step"]).size().unstack(fill_value=0)
        table.index.name, table.columns.name = "outcome", "compensation"
        return table


async def saga_experiment(faults: SagaFaults | str = "all at once", *, orders: int = 200, concurrency: int = 20,
                          seed: int = 0, name: str | None = None, compensate: bool = True,
                          clock: Clock | None = None, **shop_kw: Any) -> SagaResult:
    """Place ``orders`` orders, ``concurrency`` at a time, under ``faults``; then recover and check invariants.

    ``faults`` is a :class:`SagaFaults` or the name of one of :data:`SCENARIOS`.
    After the load, faults are cleared and ``POST /sagas/recover`` finishes
    the sagas that had to wait (compensations a down service could not take).
    """
    if isinstance(faults, str):
        if faults not in SCENARIOS:
            raise ConfigurationError(f"faults={faults!r} is not a scenario; use one of {list(SCENARIOS)} or a SagaFaults")
        scenario, faults = faults, SCENARIOS[faults]
    else:
        scenario = "custom"
    down = faults.inventory_down
    lo, hi = (int(down[0] * orders), int(down[1] * orders)) if down else (-1, -1)
    shop = SagaShop(faults, seed=seed, name=name or f"saga-{seed}", compensate=compensate, clock=clock, **shop_kw)
    accepted: list[int] = []  # the order ids the clients were given
    async with shop:
        async def one(client: Any, i: int) -> httpx.Response:
            if i == lo:
                shop.net.fault("inventory", down=True)
            elif i == hi:
                shop.net.fault("inventory", down=False)
            r = await shop.place(i, client)
            if r.status_code == 201:
                accepted.append(int(r.json()["id"]))
            return r

        run = await closed_loop(shop.net, one, concurrency=concurrency, requests=orders, timeout=30.0, progress=False)
        shop.net.clear_faults()
        before = await shop.snapshot()
        unfinished = int((~before["orders"]["status"].isin(FINAL_STATES)).sum())
        recovered = await shop.recover()
        data = await shop.snapshot()
        calls = shop.net.calls
    table = data["orders"]
    table["outcome"] = [outcome_of(s, r) for s, r in zip(table["status"], table["reason"])]
    invariants = check_invariants(table, data["stock"], data["reservations"], data["charges"], accepted=accepted)
    return SagaResult(scenario, seed, run, table, data["log"], data["stock"], data["reservations"], data["charges"],
                      invariants, recovered, unfinished, calls)

