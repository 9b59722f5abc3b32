"""The customers service: it owns the customer records, and nobody else reads its tables.

Notebook 06 ships two versions of it. Version 1 keeps a customer's full name
in one ``name`` column. Version 2 splits it into ``first_name`` and
``last_name``, and migrates the data when it starts (:func:`migrate_to_v2`).
Both versions answer the same API, because the API is the contract other
services rely on, not the table:

- ``POST /customers`` registers a customer (body :class:`CustomerIn`);
- ``GET /customers/{id}`` reads one (404 if there is none);
- ``GET /customers?ids=1,2`` reads several in one call (what an API composer
  needs).

Version 2 adds ``first_name`` and ``last_name`` to its answers: an additive
change, which keeps old callers working.

Each instance opens its own database when it starts: in memory by default
(gone when the instance stops), or the file or URL that :class:`Settings`
names. Serve it on its own with::

    python -m labsvc serve labsvc.data.customers:app          # version 1, in memory
    python -m labsvc serve labsvc.data.customers:create_app   # a new app per instance
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from labsvc.core.errors import ConfigurationError
from labsvc.core.service import Request
from labsvc.data._database import ServiceDatabase, data_service, service_database
from labsvc.data._handlers import database_of, get_or_404, id_list

__all__ = ["Settings", "create_app", "app", "customers_app", "CustomerIn", "CustomerV1", "CustomerV2", "migrate_to_v2"]


@dataclass(frozen=True)
class Settings:
    """How to run the customers service.

    ``version``: 1 (one ``name`` column) or 2 (``first_name`` + ``last_name``).
    ``url``: a SQLAlchemy database URL, or ``directory``: a folder for
    ``customers.db``; neither: a private in-memory database per instance.
    """

    version: int = 1
    url: str | None = None
    directory: str | None = None

    def __post_init__(self) -> None:
        if self.version not in (1, 2):
            raise ConfigurationError(f"version={self.version!r}: the customers service has versions 1 and 2")


# ------------------------------------------------------------------ tables and bodies
class CustomersV1Base(SQLModel, registry=registry()):
    """Tables declared by version 1 of the customers service."""


class CustomerV1(CustomersV1Base, table=True):
    """A customer, version 1: the full name in one column."""

    __tablename__ = "customers"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    email: str


class CustomersV2Base(SQLModel, registry=registry()):
    """Tables declared by version 2: the name split in two columns."""


class CustomerV2(CustomersV2Base, table=True):
    """A customer, version 2: first and last name in two columns."""

    __tablename__ = "customers"
    id: int | None = Field(default=None, primary_key=True)
    first_name: str
    last_name: str
    email: str


class CustomerIn(BaseModel):
    """The body of ``POST /customers`` (the same in both versions: the API is the contract)."""

    name: str = PydanticField(min_length=1, max_length=100, description="full name, e.g. 'Ada Lovelace'")
    email: str = PydanticField(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")


def migrate_to_v2(db: ServiceDatabase) -> None:
    """Version 2's start-up migration: split ``customers.name`` into first and last name."""
    if "name" not in db.columns("customers"):
        return  # already migrated (or created by version 2)
    with db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE customers ADD COLUMN first_name VARCHAR NOT NULL DEFAULT ''"))
        conn.execute(sa.text("ALTER TABLE customers ADD COLUMN last_name VARCHAR NOT NULL DEFAULT ''"))
        conn.execute(sa.text(
            "UPDATE customers SET "
            "first_name = CASE WHEN instr(name, ' ') > 0 THEN substr(name, 1, instr(name, ' ') - 1) ELSE name END, "
            "last_name = CASE WHEN instr(name, ' ') > 0 THEN substr(name, instr(name, ' ') + 1) ELSE '' END"
        ))
        conn.execute(sa.text("ALTER TABLE customers DROP COLUMN name"))


def _model(request: Request) -> Any:
    """The customer table class of the version this instance runs."""
    return CustomerV1 if request.app.state.version == 1 else CustomerV2


def _customer_dict(c: Any) -> dict[str, Any]:
    if isinstance(c, CustomerV1):
        return {"id": c.id, "name": c.name, "email": c.email}
    return {"id": c.id, "name": f"{c.first_name} {c.last_name}".strip(), "email": c.email,
            "first_name": c.first_name, "last_name": c.last_name}


# ------------------------------------------------------------------ routes
router = APIRouter()


@router.post("/customers", status_code=201)
async def register(body: CustomerIn, request: Request) -> dict[str, Any]:
    """Register a customer; version 2 stores the name in two columns."""
    if request.app.state.version == 1:
        row: Any = CustomerV1(name=body.name.strip(), email=body.email)
    else:
        first, _, last = body.name.strip().partition(" ")
        row = CustomerV2(first_name=first, last_name=last, email=body.email)
    with database_of(request).session() as s:
        s.add(row)
        s.commit()
        return _customer_dict(row)


@router.get("/customers/{customer_id}")
async def get_customer(customer_id: int, request: Request) -> dict[str, Any]:
    """One customer, or 404."""
    with database_of(request).session() as s:
        row = get_or_404(s, _model(request), customer_id, "customer")
    return _customer_dict(row)


@router.get("/customers")
async def list_customers(request: Request, ids: str | None = None) -> list[dict[str, Any]]:
    """Every customer, or those whose id is in ``ids`` (``1,2,3``)."""
    model = _model(request)
    with database_of(request).session() as s:
        query = select(model)
        if ids:
            query = query.where(model.id.in_(id_list(ids, "ids")))  # type: ignore[union-attr]
        return [_customer_dict(c) for c in s.exec(query.order_by(model.id)).all()]


# ------------------------------------------------------------------ the app
def create_app(settings: Settings | None = None) -> FastAPI:
    """A new customers app (its own database, opened when the instance starts)."""
    settings = settings or Settings()
    if settings.version == 1:
        db = service_database("customers", CustomersV1Base.metadata, url=settings.url, directory=settings.directory)
    else:
        db = service_database("customers", CustomersV2Base.metadata, url=settings.url, directory=settings.directory,
                              setup=migrate_to_v2)
    app = data_service("customers", db, version=f"{settings.version}.0.0",
                       description="Owns customer records. Version 2 stores the name in two columns.")
    app.state.settings = settings
    app.state.version = settings.version
    app.include_router(router)
    return app


def customers_app(version: int = 1, *, url: str | None = None, directory: str | None = None) -> FastAPI:
    """The customers service, version 1 (one ``name`` column) or 2 (``first_name`` + ``last_name``).

    Both versions answer the same API: ``POST /customers``, ``GET /customers/{id}``,
    ``GET /customers?ids=1,2``; version 2 adds ``first_name`` and ``last_name``
    to its answers (an additive change, which keeps old callers working).
    The same as ``create_app(Settings(version, url, directory))``.
    """
    return create_app(Settings(version=version, url=url, directory=directory))


#: One app with the default settings (version 1, in memory), for ``python -m labsvc serve ...:app``.
app = create_app()
