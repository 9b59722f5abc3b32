"""The external payment provider of the saga: charges and refunds, keyed by order id.

It stands for a provider we do not run (a card processor): the order
service (:mod:`labsvc.data.saga_orchestrator`) can only call its API, and
must live with its answers, including late ones:

- ``POST /charges`` (body :class:`ChargeBody`) captures a payment once per
  order; asking again answers the recorded charge at once
  (``"replayed": true``). Some cards are declined (402). Some charges are
  captured but answered late, after the caller gave up: the caller cannot
  tell whether the money was taken;
- ``POST /refunds`` refunds a captured charge (the saga's compensation). A
  refund that arrives *before* its charge voids it in advance, so the late
  charge is refused (409);
- ``GET /charges`` shows every charge, for auditing.

Its faults are its own and seeded per order (:class:`Settings`). Serve it
on its own with::

    python -m labsvc serve labsvc.data.payment:app          # no faults, in memory
    python -m labsvc serve labsvc.data.payment:create_app   # a new app per instance
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import Request
from labsvc.data._database import data_service, service_database
from labsvc.data._handlers import all_rows, database_of

__all__ = ["Settings", "create_app", "app", "payment_app", "ChargeBody", "RefundBody", "Charge"]


@dataclass(frozen=True)
class Settings:
    """The provider's own faults, seeded per order with ``seed``.

    ``decline_rate``: share of orders whose card is declined (402).
    ``slow_rate``: share of charges captured and then answered
    ``slow_delay`` seconds late (real time, as a caller's timeout is).
    """

    seed: int = 0
    decline_rate: float = 0.0
    slow_rate: float = 0.0
    slow_delay: float = 0.5

    def __post_init__(self) -> None:
        for name in ("decline_rate", "slow_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigurationError(f"{name}={value!r} must be between 0 and 1")


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


def _chance(settings: Settings, what: str, order_id: int) -> float:
    """A number in [0, 1) fixed by the seed, the kind of fault and the order."""
    return random.Random(f"{settings.seed}/{what}/{order_id}").random()


# ------------------------------------------------------------------ routes
router = APIRouter()


@router.post("/charges", status_code=201)
async def charge(body: ChargeBody, request: Request) -> dict[str, Any]:
    """Capture the order's payment once (402 when declined, 409 when refunded or voided before)."""
    settings: Settings = request.app.state.settings
    with database_of(request).session() as s:
        c = s.get(Charge, body.order_id)
        fresh = c is None
        if fresh:
            declined = _chance(settings, "decline", body.order_id) < settings.decline_rate
            c = Charge(order_id=body.order_id, amount=body.amount, status="DECLINED" if declined else "CAPTURED")
            s.add(c)
            s.commit()
    if c.status == "DECLINED":
        raise Problem(402, "Payment declined", type=problem_type("payment-declined"),
                      detail=f"the card was declined for order {body.order_id}")
    if c.status in ("REFUNDED", "VOIDED"):
        raise Problem(409, "Charge voided", type=problem_type("charge-voided"),
                      detail=f"order {body.order_id} was refunded or voided; it cannot be charged again")
    if fresh and _chance(settings, "slow", body.order_id) < settings.slow_rate:
        # Captured, answered late: the caller's timeout fires first and the
        # answer is lost (real time, because the caller's timeout is real time).
        await asyncio.sleep(settings.slow_delay)
    return {"order_id": c.order_id, "amount": c.amount, "status": c.status, "replayed": not fresh}


@router.post("/refunds")
async def refund(body: RefundBody, request: Request) -> dict[str, Any]:
    """Refund the order's charge (the compensation); a refund before the charge voids it in advance."""
    with database_of(request).session() as s:
        c = s.get(Charge, body.order_id)
        if c is None:
            c = Charge(order_id=body.order_id, status="VOIDED")  # refund before the charge: void it
        elif c.status == "CAPTURED":
            c.status = "REFUNDED"
        s.add(c)
        s.commit()
        return {"order_id": c.order_id, "status": c.status}


@router.get("/charges")
async def charges(request: Request) -> list[dict[str, Any]]:
    """Every charge and its status."""
    return all_rows(database_of(request), Charge, Charge.order_id)


# ------------------------------------------------------------------ the app
def create_app(settings: Settings | None = None) -> FastAPI:
    """A new payment-provider app (its own database)."""
    settings = settings or Settings()
    db = service_database("payment", PaymentBase.metadata)
    app = data_service("payment", db, description="External payment provider (charges, refunds).")
    app.state.settings = settings
    app.include_router(router)
    return app


def payment_app(*, seed: int = 0, decline_rate: float = 0.0, slow_rate: float = 0.0, slow_delay: float = 0.5) -> FastAPI:
    """The external payment provider: charges and refunds keyed by order id.

    Faults of its own, seeded per order: ``decline_rate`` of orders get
    402 (card declined); ``slow_rate`` of charges are captured and then
    answered ``slow_delay`` seconds late, so a caller with a shorter timeout
    does not know the charge happened. A repeated charge is answered from
    the record at once. The same as ``create_app(Settings(seed, ...))``.
    """
    return create_app(Settings(seed=seed, decline_rate=decline_rate, slow_rate=slow_rate, slow_delay=slow_delay))


#: One app with the default settings (no faults, in memory), for ``python -m labsvc serve ...:app``.
app = create_app()
