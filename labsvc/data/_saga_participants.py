"""The saga's participants: the inventory service and the external payment provider.

Both key their records by order id, so every call from the orchestrator is
idempotent and each compensation (release, refund) also works when it
arrives before its action.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from ..errors import ConfigurationError
from ..problems import Problem, problem_type
from ._database import data_service, service_database

__all__ = ["PRODUCT_PRICES", "inventory_app", "payment_app"]

#: Unit price of each product the inventory holds.
PRODUCT_PRICES = {1: 12.0, 2: 25.0, 3: 7.5, 4: 40.0, 5: 18.0}


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
