"""The orders service of the shared-database lesson: it owns orders, and prints receipts with the customer's name.

The name belongs to the customers service (:mod:`labsvc.data.customers`),
so a receipt needs data this service does not own. Notebook 06 builds it
two ways (``Settings.design``):

- ``"shared"``: both services open the *same* database, and this code maps
  the ``customers`` table itself (:class:`CustomerRecord`) and reads it in
  SQL. Quick to write, and invisible coupling: when the customers team
  renames a column, every receipt fails with ``OperationalError: no such
  column`` although nobody touched this service;
- ``"per-service"``: each service has its own database, and this service
  asks ``GET http://customers.svc/customers/{id}`` for the name. The
  customers team may change its tables as it likes, as long as its API keeps
  answering ``name``.

Routes: ``POST /orders`` (body :class:`OrderIn`; the customer must exist),
``GET /orders``, ``GET /orders/{id}`` and ``GET /orders/{id}/receipt``.
Serve it on its own with::

    python -m labsvc serve labsvc.data.orders:app          # per-service, in memory
    python -m labsvc serve labsvc.data.orders:create_app   # a new app per instance
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import Problem
from labsvc.core.service import Request, http
from labsvc.data._database import data_service, service_database
from labsvc.data._handlers import database_of, get_or_404, invalid, not_found
from labsvc.data._remote import fetch_json

__all__ = ["SCHEMA_DESIGNS", "Settings", "create_app", "app", "orders_app", "OrderIn", "OrderRow", "CustomerRecord"]

SCHEMA_DESIGNS = ("shared", "per-service")


def check_design(design: str) -> None:
    """ConfigurationError unless ``design`` is one of :data:`SCHEMA_DESIGNS`."""
    if design not in SCHEMA_DESIGNS:
        raise ConfigurationError(f"design={design!r} is not known; use one of {SCHEMA_DESIGNS}")


@dataclass(frozen=True)
class Settings:
    """How to run the orders service.

    ``design``: ``"shared"`` (read customer names from the shared database) or
    ``"per-service"`` (ask the customers API). ``url`` or ``directory``: where
    the database lives (see :func:`~labsvc.data.service_database`); neither:
    in memory, one per instance.
    """

    design: str = "per-service"
    url: str | None = None
    directory: str | None = None

    def __post_init__(self) -> None:
        check_design(self.design)


# ------------------------------------------------------------------ tables and bodies
class OrdersBase(SQLModel, registry=registry()):
    """Tables the orders service declares and owns."""


class OrderRow(OrdersBase, table=True):
    """An order: who and how much."""

    __tablename__ = "orders"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(index=True)
    total: float


class SharedSchemaBase(SQLModel, registry=registry()):
    """The orders team's own mapping of a table it does not own (shared design only)."""


class CustomerRecord(SharedSchemaBase, table=True):
    """The customers table as the orders team believes it looks."""

    # Written against the customers table as it looked when the orders team
    # wrote this code: nothing tells them when it changes.
    __tablename__ = "customers"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    email: str


class OrderIn(BaseModel):
    """The body of ``POST /orders``."""

    customer_id: int = PydanticField(ge=1, description="who orders")
    total: float = PydanticField(gt=0, le=100_000, description="amount to pay")


def _order_dict(o: OrderRow) -> dict[str, Any]:
    return {"id": o.id, "customer_id": o.customer_id, "total": o.total}


async def customer_name(request: Request, customer_id: int) -> str:
    """The customer's name: from the shared ``customers`` table in SQL, or from the customers API."""
    if request.app.state.design == "shared":
        with database_of(request).session() as s:
            row = s.exec(select(CustomerRecord.name).where(CustomerRecord.id == customer_id)).first()
        if row is None:
            raise not_found("customer", customer_id)
        return row
    doc = await fetch_json(http(request), "GET", f"http://customers.svc/customers/{customer_id}")
    return doc["name"]


# ------------------------------------------------------------------ routes
router = APIRouter()


@router.post("/orders", status_code=201)
async def place(body: OrderIn, request: Request) -> dict[str, Any]:
    """Place an order for an existing customer (422 if there is no such customer)."""
    try:
        await customer_name(request, body.customer_id)
    except Problem as exc:
        if exc.status != 404:
            raise
        raise invalid("body.customer_id", f"no customer {body.customer_id}", "unknown_customer",
                      title="Unknown customer") from None
    with database_of(request).session() as s:
        order = OrderRow(customer_id=body.customer_id, total=round(body.total, 2))
        s.add(order)
        s.commit()
        return _order_dict(order)


@router.get("/orders")
async def list_orders(request: Request, limit: int = 1000) -> list[dict[str, Any]]:
    """The first ``limit`` orders, oldest first."""
    with database_of(request).session() as s:
        return [_order_dict(o) for o in s.exec(select(OrderRow).order_by(OrderRow.id).limit(limit)).all()]


def _load(request: Request, order_id: int) -> OrderRow:
    with database_of(request).session() as s:
        return get_or_404(s, OrderRow, order_id, "order")


@router.get("/orders/{order_id}")
async def get_order(order_id: int, request: Request) -> dict[str, Any]:
    """One order, or 404."""
    return _order_dict(_load(request, order_id))


@router.get("/orders/{order_id}/receipt")
async def receipt(order_id: int, request: Request) -> dict[str, Any]:
    """The order with its customer's name: the query that needs another service's data."""
    order = _load(request, order_id)
    return {"order_id": order.id, "customer_id": order.customer_id,
            "customer_name": await customer_name(request, order.customer_id), "total": order.total}


# ------------------------------------------------------------------ the app
def create_app(settings: Settings | None = None) -> FastAPI:
    """A new orders app (its own database, opened when the instance starts)."""
    settings = settings or Settings()
    db = service_database("orders", OrdersBase.metadata, url=settings.url, directory=settings.directory)
    app = data_service("orders", db, description=f"Owns orders; gets customer names ({settings.design} design).")
    app.state.settings = settings
    app.state.design = settings.design
    app.include_router(router)
    return app


def orders_app(design: str = "per-service", *, url: str | None = None, directory: str | None = None) -> FastAPI:
    """The orders service in the ``"shared"`` or the ``"per-service"`` design.

    ``POST /orders``, ``GET /orders``, ``GET /orders/{id}`` serve its own data;
    ``GET /orders/{id}/receipt`` also needs the customer's name: read from the
    shared ``customers`` table in SQL (shared) or asked from the customers API
    (per-service). The same as ``create_app(Settings(design, url, directory))``.
    """
    return create_app(Settings(design=design, url=url, directory=directory))


#: One app with the default settings (per-service, in memory), for ``python -m labsvc serve ...:app``.
app = create_app()
