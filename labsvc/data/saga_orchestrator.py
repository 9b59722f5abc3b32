"""The order service that places orders with a saga: local transactions in three services, undone by compensations.

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

The saga is **orchestrated**: this service holds the sequence, calls each
participant over HTTP (:mod:`labsvc.data.inventory` and
:mod:`labsvc.data.payment`) and decides what to compensate (in a
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

The steps themselves are in :mod:`labsvc.data._saga_steps`
(:class:`~labsvc.data._saga_steps.Orchestrator`). With
``Settings.events_topic``, every order that reaches a final state also gets
an ``OrderApproved`` / ``OrderCancelled`` event in a transactional outbox,
which ``POST /outbox/relay`` publishes (the capstone). Serve it on its own
with::

    python -m labsvc serve labsvc.data.saga_orchestrator:app          # in memory
    python -m labsvc serve labsvc.data.saga_orchestrator:create_app   # a new app per instance
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlmodel import select

from labsvc.core.clock import Clock, MonotonicClock, parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.core.service import Request, http
from labsvc.data._database import data_service, service_database
from labsvc.data._handlers import all_rows
from labsvc.data._outbox import Outbox
from labsvc.data._saga_steps import (
    FINAL_STATES,
    SAGA_STEPS,
    Orchestrator,
    OrderLine,
    SagaLogRow,
    SagaOrder,
    SagaOrdersBase,
    SagaOutboxRow,
    new_epoch,
)

__all__ = ["SAGA_STEPS", "FINAL_STATES", "Settings", "create_app", "app", "order_saga_app", "OrderLine", "SagaOrder",
           "SagaLogRow"]


@dataclass(frozen=True)
class Settings:
    """How the order service runs its sagas.

    ``attempts`` tries per step and ``compensation_attempts`` per
    compensation, ``backoff`` doubling between them (on ``clock``; a new
    :class:`~labsvc.core.clock.MonotonicClock` per app when None);
    ``timeout`` per call. ``compensate=False`` is the broken saga: failures
    only mark the order cancelled and leave stock reserved and charges
    captured. ``events_topic``: also report final states through an outbox
    to that topic on ``http://broker.svc`` (None: no outbox).
    """

    clock: Clock | None = None
    compensate: bool = True
    attempts: int = 3
    compensation_attempts: int = 5
    backoff: float | str = "5ms"
    timeout: float | str = "100ms"
    events_topic: str | None = None

    def __post_init__(self) -> None:
        parse_duration(self.backoff, name="backoff")
        parse_duration(self.timeout, name="timeout")
        if self.attempts < 1 or self.compensation_attempts < 1:
            raise ConfigurationError("attempts and compensation_attempts must be at least 1")


def orchestrator(request: Request) -> Orchestrator:
    """The orchestrator of the instance that received ``request``."""
    return request.app.state.orchestrator


# ------------------------------------------------------------------ routes
router = APIRouter()


@router.post("/orders", status_code=201)
async def place(body: OrderLine, request: Request) -> dict[str, Any]:
    """Run the whole saga; 201 with the order in its final state (or COMPENSATING if a compensation must wait)."""
    order = await orchestrator(request).place(http(request), body)
    return order.model_dump()


@router.post("/sagas/recover")
async def recover(request: Request) -> dict[str, Any]:
    """Finish sagas left half-way: pending compensations, and PENDING orders nobody is running."""
    return await orchestrator(request).recover(http(request))


@router.get("/orders")
async def list_orders(request: Request) -> list[dict[str, Any]]:
    """Every order with its saga's state."""
    return all_rows(orchestrator(request).db, SagaOrder, SagaOrder.id)


@router.get("/orders/{order_id}")
async def get_order(order_id: int, request: Request) -> dict[str, Any]:
    """One order with its saga's state, or 404."""
    return orchestrator(request).load(order_id).model_dump()


@router.get("/sagas/log")
async def saga_log(request: Request, order_id: int | None = None) -> list[dict[str, Any]]:
    """Every step and compensation run so far (of one order with ``order_id``)."""
    with orchestrator(request).db.session() as s:
        query = select(SagaLogRow).order_by(SagaLogRow.seq)
        if order_id is not None:
            query = query.where(SagaLogRow.order_id == order_id)
        return [r.model_dump() for r in s.exec(query).all()]


# ------------------------------------------------------------------ the app
def create_app(settings: Settings | None = None) -> FastAPI:
    """A new order-service app: its own database, orchestrator and (with ``events_topic``) outbox."""
    settings = settings or Settings()
    clock = settings.clock or MonotonicClock()
    epoch = new_epoch()
    db = service_database("orders", SagaOrdersBase.metadata, setup=epoch.new)
    app = data_service("orders", db, description="Places orders with an orchestrated saga.")
    outbox = Outbox(db, SagaOutboxRow, topic=settings.events_topic, clock=clock) if settings.events_topic else None
    if outbox is not None:
        outbox.install(app)
    saga = Orchestrator(db, clock=clock, compensate=settings.compensate, attempts=settings.attempts,
                        compensation_attempts=settings.compensation_attempts,
                        backoff=parse_duration(settings.backoff, name="backoff"),
                        timeout=parse_duration(settings.timeout, name="timeout"), outbox=outbox, epoch=epoch)
    app.state.settings = settings
    app.state.orchestrator = saga
    app.state.running = saga.running
    app.include_router(router)
    return app


def order_saga_app(*, clock: Clock | None = None, compensate: bool = True, attempts: int = 3,
                   compensation_attempts: int = 5, backoff: float | str = "5ms", timeout: float | str = "100ms",
                   events_topic: str | None = None) -> FastAPI:
    """The order service, orchestrating the place-order saga.

    ``POST /orders`` runs the whole saga and answers 201 with the order in
    its final state (or ``COMPENSATING`` if a compensation must wait for a
    participant to come back). ``attempts`` tries per step and
    ``compensation_attempts`` per compensation, ``backoff`` doubling
    between them (on ``clock``); ``timeout`` per call. ``compensate=False``
    is the broken saga: failures only mark the order cancelled and leave
    stock reserved and charges captured. With ``events_topic``, final states
    are also written to an outbox that ``POST /outbox/relay`` publishes to
    that topic on ``http://broker.svc``. The same as
    ``create_app(Settings(clock, compensate, ...))``.
    """
    return create_app(Settings(clock=clock, compensate=compensate, attempts=attempts,
                               compensation_attempts=compensation_attempts, backoff=backoff, timeout=timeout,
                               events_topic=events_topic))


#: One app with the default settings (in memory, no outbox), for ``python -m labsvc serve ...:app``.
app = create_app()
