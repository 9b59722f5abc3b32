"""The inventory service of the saga: stock per product, and reservations keyed by order id.

The order service (:mod:`labsvc.data.saga_orchestrator`) reserves stock
for an order, and releases it when the order's saga fails later on:

- ``POST /reservations`` (body :class:`ReserveBody`) takes stock with one
  conditional ``UPDATE ... WHERE available >= quantity``, so stock can never
  go below zero however many requests race. It answers the product's unit
  price. Asking again for the same order answers the same reservation
  (``"replayed": true``): the order id is the idempotency key;
- ``DELETE /reservations/{order_id}`` gives the stock back (the saga's
  compensation). A release that arrives *before* its reservation (the
  reservation request timed out and was still on its way) leaves a
  ``RELEASED`` tombstone, so the late reservation is refused (409);
- ``GET /stock`` and ``GET /reservations`` show the tables, for auditing.

Serve it on its own with::

    python -m labsvc serve labsvc.data.inventory:app          # 50 of each product, in memory
    python -m labsvc serve labsvc.data.inventory:create_app   # a new app per instance
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import Request
from labsvc.data._database import ServiceDatabase, data_service, service_database
from labsvc.data._handlers import all_rows, database_of

__all__ = ["PRODUCT_PRICES", "Settings", "create_app", "app", "inventory_app", "ReserveBody", "Stock", "Reservation"]

#: Unit price of each product the inventory holds.
PRODUCT_PRICES = {1: 12.0, 2: 25.0, 3: 7.5, 4: 40.0, 5: 18.0}


@dataclass(frozen=True)
class Settings:
    """How to run the inventory service.

    ``stock``: the units of every product (an int) or per product (a dict
    ``{product_id: units}``). ``prices``: unit price per product (None:
    :data:`PRODUCT_PRICES`); only these products exist.
    """

    stock: int | dict[int, int] = 50
    prices: dict[int, float] | None = None

    def __post_init__(self) -> None:
        units, prices = self.units(), self.price_list()
        if any(not isinstance(v, int) or v < 0 for v in units.values()) or set(units) - set(prices):
            raise ConfigurationError(f"stock={self.stock!r} must give a whole number >= 0 for products {sorted(prices)}")

    def price_list(self) -> dict[int, float]:
        """Unit price per product."""
        return dict(self.prices or PRODUCT_PRICES)

    def units(self) -> dict[int, int]:
        """Initial units per product."""
        return {p: self.stock for p in self.price_list()} if isinstance(self.stock, int) else dict(self.stock)


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


def seed_stock(settings: Settings, db: ServiceDatabase) -> None:
    """Fill the ``stock`` table on start-up (products already there keep their rows)."""
    prices = settings.price_list()
    with db.session() as s:
        for p, n in settings.units().items():
            if s.get(Stock, p) is None:
                s.add(Stock(product_id=p, initial=n, available=n, unit_price=prices[p]))
        s.commit()


# ------------------------------------------------------------------ routes
router = APIRouter()


@router.post("/reservations", status_code=201)
async def reserve(body: ReserveBody, request: Request) -> dict[str, Any]:
    """Hold ``quantity`` units for the order, once (409 when out of stock or released before)."""
    with database_of(request).session() as s:
        existing = s.get(Reservation, body.order_id)
        if existing is not None:
            if existing.status == "RESERVED":
                price = s.get(Stock, existing.product_id).unit_price
                return {"order_id": body.order_id, "status": "RESERVED", "unit_price": price, "replayed": True}
            raise Problem(409, "Reservation released", type=problem_type("reservation-released"),
                          detail=f"the reservation of order {body.order_id} was released; it cannot be made again")
        item = s.get(Stock, body.product_id)
        if item is None:
            products = sorted(request.app.state.settings.price_list())
            raise Problem(404, "Unknown product", type=problem_type("unknown-product"),
                          detail=f"no product {body.product_id}; products are {products}")
        taken = s.exec(sa.update(Stock).where(Stock.product_id == body.product_id, Stock.available >= body.quantity)
                       .values(available=Stock.available - body.quantity))
        if taken.rowcount != 1:
            s.rollback()
            raise Problem(409, "Out of stock", type=problem_type("out-of-stock"),
                          detail=f"product {body.product_id}: fewer than {body.quantity} left")
        s.add(Reservation(order_id=body.order_id, product_id=body.product_id, quantity=body.quantity,
                          status="RESERVED"))
        s.commit()
        return {"order_id": body.order_id, "status": "RESERVED", "unit_price": item.unit_price, "replayed": False}


@router.delete("/reservations/{order_id}")
async def release(order_id: int, request: Request) -> dict[str, Any]:
    """Give the order's stock back (the compensation); remembers a release that comes first."""
    with database_of(request).session() as s:
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


@router.get("/stock")
async def stock_levels(request: Request) -> list[dict[str, Any]]:
    """Every product's initial and available units."""
    return all_rows(database_of(request), Stock, Stock.product_id)


@router.get("/reservations")
async def reservations(request: Request) -> list[dict[str, Any]]:
    """Every reservation (RESERVED or RELEASED)."""
    return all_rows(database_of(request), Reservation, Reservation.order_id)


# ------------------------------------------------------------------ the app
def create_app(settings: Settings | None = None) -> FastAPI:
    """A new inventory app: its own database, stocked on start-up."""
    settings = settings or Settings()
    db = service_database("inventory", InventoryBase.metadata, setup=lambda db: seed_stock(settings, db))
    app = data_service("inventory", db, description="Owns stock and reservations.")
    app.state.settings = settings
    app.include_router(router)
    return app


def inventory_app(stock: int | dict[int, int] = 50, *, prices: dict[int, float] | None = None) -> FastAPI:
    """The inventory service: stock per product, and reservations keyed by order id.

    ``stock`` is the units of every product (an int) or per product (a dict).
    Reserving takes stock with one conditional ``UPDATE`` (``... WHERE
    available >= quantity``), so stock can never go below zero, however many
    requests race. The same as ``create_app(Settings(stock, prices))``.
    """
    return create_app(Settings(stock=stock, prices=prices))


#: One app with the default settings (50 units of each product, in memory), for ``python -m labsvc serve ...:app``.
app = create_app()
