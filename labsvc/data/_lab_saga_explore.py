"""Let the machine search the saga (notebook 06): the course's order saga as a workflow for the explorer.

:func:`saga_workflow` packs one order of notebook 06's orchestrated saga
into a :class:`~labsvc.explore.Workflow`: the course's order service
(:mod:`labsvc.data.saga_orchestrator`, its :class:`~labsvc.data._saga_steps.Orchestrator`),
inventory (:mod:`labsvc.data.inventory`) and the payment provider
(:mod:`labsvc.data.payment`), each on its own SQLite database. A frontend
places one order; the saga reserves its stock, then charges the payment.
The card is good, so without faults the order is approved. Only a fault
the explorer chooses can make a step fail: with one try per step
(``attempts=1``), a lost reply or a crash after the work is an *unknown*
outcome, and the saga must compensate what may have happened.

The seeded bug (``missing_compensation=True``): when the charge's outcome
is unknown, the saga refunds the charge but forgets to release the stock
(a declined card, the branch its author tested, still releases it).

:func:`choreographed_saga_workflow` is the same order saga choreographed
(small services in this module, on the same tables): each service reacts to
the others' events and undoes its own part; its seeded bug is the same
missing release, in inventory's event handler. :func:`exploration_table`
puts explorations side by side.

Each service's database belongs to the run, not to the process: a crash
and restart of an instance starts a new app with empty memory and finds
its data again, as a restarted container finds its volume.

>>> from labsvc.explore import Budget, explore                          # doctest: +SKIP
>>> found = await explore(saga_workflow(), budget=Budget(crash_after=1))  # doctest: +SKIP
>>> found.counterexample.script                                         # doctest: +SKIP
[0, 0, 1]
"""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa
import pandas as pd
from fastapi import FastAPI
from sqlmodel import col

from labsvc.core.clock import MonotonicClock, parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.core.network import Network
from labsvc.core.service import Request, http
from labsvc.data import inventory, payment, saga_orchestrator
from labsvc.data._database import ServiceDatabase, data_service
from labsvc.data._saga_steps import Orchestrator, OrderLine, SagaOrder, SagaOrdersBase, new_epoch
from labsvc.explore import Exploration, Workflow

__all__ = ["saga_workflow", "choreographed_saga_workflow", "exploration_table", "saga_tables", "ORDER", "STOCK"]

#: The one order the workflow places, and the units of its product in stock.
ORDER = {"customer_id": 1, "product_id": 1, "quantity": 2}
STOCK = 3


class _Volume(ServiceDatabase):
    """A service's in-memory database that outlives its instance: a restart opens the same data again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: sa.Engine | None = None

    def open(self) -> None:
        if self._engine is None and self._kept is not None:  # a restart: the data is still there
            self._engine = self._kept
            self.opened += 1
            if self.setup is not None:
                self.setup(self)
            return
        super().open()
        self._kept = self._engine

    def close(self) -> None:
        self._engine = None  # the process is gone; its data stays for the next one

    def rows(self, query: Any) -> tuple:
        """The rows of ``query`` as a tuple of tuples (readable after the network stopped)."""
        with self._kept.connect() as conn:  # type: ignore[union-attr]
            return tuple(tuple(r) for r in conn.execute(query).all())


class _ForgetfulOrchestrator(Orchestrator):
    """The seeded bug: when the charge's outcome is unknown, undo the charge but not the reservation."""

    async def fail(self, client: Any, order_id: int, reason: str, done: list[str]) -> None:
        if "charge_payment" in done:
            done = [step for step in done if step != "reserve_stock"]
        await super().fail(client, order_id, reason, done)


def _orders_app(db: _Volume, missing_compensation: bool, attempts: int) -> FastAPI:
    """The course's order service (saga orchestrator), on the run's database, with one try per step by default."""
    settings = saga_orchestrator.Settings(attempts=attempts, backoff="5ms", timeout="100ms")
    app = data_service("orders", db, description="Places orders with an orchestrated saga.")
    kind = _ForgetfulOrchestrator if missing_compensation else Orchestrator
    saga = kind(db, clock=MonotonicClock(), compensate=True, attempts=settings.attempts,
                compensation_attempts=settings.compensation_attempts,
                backoff=parse_duration(settings.backoff, name="backoff"),
                timeout=parse_duration(settings.timeout, name="timeout"), outbox=None, epoch=db.epoch)
    app.state.settings = settings
    app.state.orchestrator = saga
    app.state.running = saga.running
    app.include_router(saga_orchestrator.router)
    return app


def _participant_app(name: str, db: _Volume, router: Any, settings: Any) -> FastAPI:
    """Inventory or payment as the course builds them, on the run's database."""
    app = data_service(name, db, description=f"the saga's {name} participant")
    app.state.settings = settings
    app.include_router(router)
    return app


def _volumes() -> dict[str, _Volume]:
    """One database per service, for one run."""
    stock = inventory.Settings(stock={ORDER["product_id"]: STOCK})
    epoch = new_epoch()
    orders = _Volume("orders", SagaOrdersBase.metadata, setup=epoch.new)
    orders.epoch = epoch  # type: ignore[attr-defined]
    return {"orders": orders,
            "inventory": _Volume("inventory", inventory.InventoryBase.metadata,
                                 setup=lambda db: inventory.seed_stock(stock, db)),
            "payment": _Volume("payment", payment.PaymentBase.metadata)}


def saga_tables(net: Network) -> dict[str, tuple]:
    """What a run left in each database: orders (id, status, reason), stock, reservations and charges."""
    v = net.saga_volumes  # type: ignore[attr-defined]
    o = SagaOrder
    return {
        "orders": v["orders"].rows(sa.select(o.id, o.status, o.reason).order_by(o.id)),
        "stock": v["inventory"].rows(sa.select(inventory.Stock.product_id, inventory.Stock.available)),
        "reservations": v["inventory"].rows(sa.select(inventory.Reservation.order_id, inventory.Reservation.status)
                                            .order_by(inventory.Reservation.order_id)),
        "charges": v["payment"].rows(sa.select(payment.Charge.order_id, payment.Charge.status)
                                     .order_by(payment.Charge.order_id)),
    }


def _fully_done_or_undone(net: Network) -> bool:
    t = saga_tables(net)
    reserved = {o for o, s in t["reservations"] if s == "RESERVED"}
    captured = {o for o, s in t["charges"] if s == "CAPTURED"}
    for oid, status, _ in t["orders"]:
        if status == "APPROVED" and not (oid in reserved and oid in captured):
            return False
        if status == "CANCELLED" and (oid in reserved or oid in captured):
            return False
        if status not in ("APPROVED", "CANCELLED"):
            return False
    return True


def _stock_never_negative(net: Network) -> bool:
    return all(available >= 0 for _, available in saga_tables(net)["stock"])


def _failed_order_holds_no_stock(net: Network) -> bool:
    t = saga_tables(net)
    cancelled = {oid for oid, status, _ in t["orders"] if status == "CANCELLED"}
    held = sum(ORDER["quantity"] for o, s in t["reservations"] if s == "RESERVED")
    released = STOCK - held == dict(t["stock"]).get(ORDER["product_id"])
    return released and not any(o in cancelled and s == "RESERVED" for o, s in t["reservations"])


# ------------------------------------------------------------------ the same saga, choreographed
async def _publish(request: Request, service: str, event: dict[str, Any]) -> bool:
    """Send ``event`` to ``service`` once; False when no answer came back (the sender cannot tell what happened)."""
    try:
        r = await http(request, timeout=0.1).post(f"http://{service}.svc/events", json=event)
    except httpx.TransportError:
        return False
    return r.status_code < 300


def _move(db: ServiceDatabase, order_id: int, sources: tuple[str, ...], target: str, reason: str | None) -> None:
    """Compare-and-set the order's status (as the orchestrator's transitions do)."""
    with db.session() as s:
        s.exec(sa.update(SagaOrder).where(SagaOrder.id == order_id, col(SagaOrder.status).in_(sources))
               .values(status=target, reason=reason))
        s.commit()


def _choreo_orders_app(db: _Volume) -> FastAPI:
    """orders: creates the order and announces it; approves or cancels it on the others' events."""
    app = data_service("orders", db, description="Places orders; follows the saga's events (choreography).")

    @app.post("/orders", status_code=201)
    async def place(body: OrderLine, request: Request) -> dict[str, Any]:
        with db.session() as s:
            order = SagaOrder(customer_id=body.customer_id, product_id=body.product_id, quantity=body.quantity)
            s.add(order)
            s.commit()
        placed = {"type": "OrderPlaced", "order_id": order.id, "product_id": body.product_id,
                  "quantity": body.quantity}
        if not await _publish(request, "inventory", placed):  # unknown: give the order up, and say so
            _move(db, order.id, ("PENDING", "APPROVED"), "CANCELLED", "inventory_unavailable")
            for service in ("inventory", "payment"):
                await _publish(request, service, {"type": "OrderCancelled", "order_id": order.id})
        with db.session() as s:
            return s.get(SagaOrder, order.id).model_dump()

    @app.post("/events")
    async def on_event(event: dict[str, Any]) -> dict[str, str]:
        if event["type"] == "PaymentCaptured":
            _move(db, event["order_id"], ("PENDING",), "APPROVED", None)
        elif event["type"] in ("StockReleased", "ReservationRefused"):
            _move(db, event["order_id"], ("PENDING", "APPROVED"), "CANCELLED", event["type"])
        return {"handled": event["type"]}

    return app


def _release(db: ServiceDatabase, order_id: int) -> None:
    """Inventory's own compensation: give the order's stock back (a tombstone if nothing was reserved)."""
    with db.session() as s:
        r = s.get(inventory.Reservation, order_id)
        if r is None:
            s.add(inventory.Reservation(order_id=order_id, status="RELEASED"))
        elif r.status == "RESERVED":
            s.exec(sa.update(inventory.Stock).where(inventory.Stock.product_id == r.product_id)
                   .values(available=inventory.Stock.available + r.quantity))
            r.status = "RELEASED"
            s.add(r)
        s.commit()


def _reserve(db: ServiceDatabase, event: dict[str, Any]) -> float | None:
    """Hold the order's stock once (the order id is the key); its amount, or None when refused."""
    with db.session() as s:
        r = s.get(inventory.Reservation, event["order_id"])
        item = s.get(inventory.Stock, event["product_id"])
        if r is None:
            taken = s.exec(sa.update(inventory.Stock).where(inventory.Stock.product_id == event["product_id"],
                                                            inventory.Stock.available >= event["quantity"])
                           .values(available=inventory.Stock.available - event["quantity"]))
            if item is None or taken.rowcount != 1:
                return None
            s.add(inventory.Reservation(order_id=event["order_id"], product_id=event["product_id"],
                                        quantity=event["quantity"], status="RESERVED"))
            s.commit()
        elif r.status != "RESERVED":
            return None
        return round(item.unit_price * event["quantity"], 2)


def _choreo_inventory_app(db: _Volume, missing_compensation: bool) -> FastAPI:
    """inventory: reserves on OrderPlaced and tells payment; releases its own stock when payment does not answer."""
    app = data_service("inventory", db, description="Reserves stock; follows the saga's events (choreography).")

    @app.post("/events")
    async def on_event(event: dict[str, Any], request: Request) -> dict[str, str]:
        oid = event["order_id"]
        if event["type"] == "OrderPlaced":
            amount = _reserve(db, event)
            if amount is None:
                await _publish(request, "orders", {"type": "ReservationRefused", "order_id": oid})
            elif not await _publish(request, "payment", {"type": "StockReserved", "order_id": oid, "amount": amount}):
                if not missing_compensation:  # the seeded bug: announce the release, never do it
                    _release(db, oid)
                for service in ("payment", "orders"):
                    await _publish(request, service, {"type": "StockReleased", "order_id": oid})
        elif event["type"] == "OrderCancelled":
            _release(db, oid)
        return {"handled": event["type"]}

    return app


def _choreo_payment_app(db: _Volume) -> FastAPI:
    """payment: charges on StockReserved and says so; refunds (or voids in advance) when the order is undone."""
    app = data_service("payment", db, description="Charges orders; follows the saga's events (choreography).")

    @app.post("/events")
    async def on_event(event: dict[str, Any], request: Request) -> dict[str, str]:
        oid = event["order_id"]
        with db.session() as s:
            c = s.get(payment.Charge, oid)
            if event["type"] == "StockReserved" and c is None:
                s.add(payment.Charge(order_id=oid, amount=event["amount"], status="CAPTURED"))
            elif event["type"] in ("StockReleased", "OrderCancelled"):
                c = c or payment.Charge(order_id=oid, status="VOIDED")
                c.status = "REFUNDED" if c.status == "CAPTURED" else c.status
                s.add(c)
            s.commit()
            captured = s.get(payment.Charge, oid).status == "CAPTURED"
        if event["type"] == "StockReserved" and captured:
            await _publish(request, "orders", {"type": "PaymentCaptured", "order_id": oid})
        return {"handled": event["type"]}

    return app


# ------------------------------------------------------------------ the workflows
INVARIANTS = {"every saga ends fully committed or fully compensated": _fully_done_or_undone,
              "stock never negative": _stock_never_negative,
              "a failed order's stock is released": _failed_order_holds_no_stock}


def _check(missing_compensation: Any) -> None:
    if not isinstance(missing_compensation, bool):
        raise ConfigurationError(f"missing_compensation={missing_compensation!r}: give True (the seeded bug) "
                                 "or False (the saga with every compensation)")


def _workflow(kind: str, missing_compensation: bool, add: Any) -> Workflow:
    """One order placed by a frontend on a network that ``add(net, volumes)`` fills with the three services."""
    label = "missing compensation" if missing_compensation else "fixed"

    def build() -> Network:
        net = Network(seed=6, name=f"saga-explore-{kind}-{'bug' if missing_compensation else 'fixed'}")
        net.saga_volumes = _volumes()  # type: ignore[attr-defined]
        add(net, net.saga_volumes)  # type: ignore[attr-defined]
        return net

    async def drive(net: Network) -> None:
        try:
            await net.client("frontend", timeout=30.0).post("http://orders.svc/orders", json=ORDER)
        except httpx.TransportError:
            pass  # the frontend's own answer was lost: the invariants say what the saga did

    def state(net: Network) -> tuple:
        return tuple(saga_tables(net).items())

    return Workflow(build, drive, dict(INVARIANTS), state=state, settle="2s", name=f"{kind} saga ({label})")


def saga_workflow(missing_compensation: bool = True, *, attempts: int = 1) -> Workflow:
    """The explorer's workflow for notebook 06: one order through the orchestrated saga.

    ``missing_compensation=True`` is the seeded bug (the module docstring);
    ``False`` is the course's saga. ``attempts``: tries per step (1: one
    unanswered call is an unknown outcome at once). Invariants, checked on
    the services' databases once the network has settled: "every saga ends
    fully committed or fully compensated", "stock never negative" and "a
    failed order's stock is released"; ``state`` is those databases' rows.
    """
    _check(missing_compensation)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 5:
        raise ConfigurationError(f"attempts={attempts!r}: give the tries per step, a whole number from 1 to 5")

    def add(net: Network, v: dict[str, _Volume]) -> None:
        net.add("orders", lambda: _orders_app(v["orders"], missing_compensation, attempts))
        net.add("inventory", lambda: _participant_app("inventory", v["inventory"], inventory.router,
                                                      inventory.Settings(stock={ORDER["product_id"]: STOCK})))
        net.add("payment", lambda: _participant_app("payment", v["payment"], payment.router, payment.Settings()))

    return _workflow("orchestrated", missing_compensation, add)


def choreographed_saga_workflow(missing_compensation: bool = True) -> Workflow:
    """The same order saga choreographed: each service reacts to the others' events and compensates on its own.

    orders announces ``OrderPlaced``; inventory reserves and sends
    ``StockReserved``; payment charges and sends ``PaymentCaptured``, and
    orders approves. Each event is sent once; a sender that gets no answer
    cannot tell what happened and undoes its own part: inventory releases its
    stock and sends ``StockReleased`` (payment refunds, orders cancels);
    orders cancels and sends ``OrderCancelled``. ``missing_compensation=True``:
    inventory sends ``StockReleased`` but never releases. The same tables,
    invariants and state as :func:`saga_workflow`.
    """
    _check(missing_compensation)

    def add(net: Network, v: dict[str, _Volume]) -> None:
        net.add("orders", lambda: _choreo_orders_app(v["orders"]))
        net.add("inventory", lambda: _choreo_inventory_app(v["inventory"], missing_compensation))
        net.add("payment", lambda: _choreo_payment_app(v["payment"]))

    return _workflow("choreographed", missing_compensation, add)


def exploration_table(explorations: dict[str, Exploration]) -> pd.DataFrame:
    """One row per named exploration: runs, distinct final states, exhausted, the shortest script and what broke."""
    rows = []
    for name, e in explorations.items():
        cx = e.counterexample
        rows.append({"workflow": name, "runs": e.runs, "distinct_states": e.distinct_states, "exhausted": e.exhausted,
                     "violating_runs": e.violations, "shortest_script": None if cx is None else cx.script,
                     "violated": "" if cx is None else ", ".join(cx.violated)})
    return pd.DataFrame(rows)
