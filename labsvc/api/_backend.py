"""The catalog backend: FastAPI + SQLModel over its own SQLite database.

Built after the contract (``contracts/catalog.json``) and tested against it.
What it shows, one guide rule at a time (API 설계 관점):

- **ORM** (SQLModel on SQLAlchemy): the handlers speak Python classes, not
  SQL; the same code runs on an in-memory database, a file, or any URL
  SQLAlchemy knows (so the service does not lean on one database);
- **DTOs**: the table row (:class:`ProductRow`) keeps what only the catalog
  needs (the internal row ``id``, the ``cost_price``, the ``supplier_code``);
  the API answers with :class:`Product`, which carries the public ``sku`` and
  the sale ``price`` only. ``response_model`` makes FastAPI drop anything else;
- **no configuration needed**: :class:`CatalogSettings` has a sensible
  default for everything (an in-memory database with ten demo products), and
  environment variables only override it, so
  ``python -m labsvc serve labsvc.api:catalog_backend`` just starts.

The database is opened in the app's lifespan and disposed on shutdown, and it
is handed to requests through the lifespan *state*, so every instance (every
lifespan run) has its own database, even two runs of one app object.

Handlers are ``async def`` and call SQLite synchronously: a local SQLite
statement takes microseconds, less than a hop to a worker thread would.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

from fastapi import FastAPI, Path as PathParam, Query, Request, Response
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field as PydanticField, create_model
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import registry
from sqlalchemy.pool import StaticPool
from sqlmodel import Field, Session, SQLModel, create_engine, select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import create_service

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "SKU_PATTERN", "DEMO_PRODUCTS", "ProductRow", "Product", "NewProduct", "PriceChange", "CatalogSettings",
    "CatalogDatabase", "catalog_backend", "deviating_backend_app", "DEVIATIONS", "settings_table", "dto_exposure",
    "RenamedPriceProduct", "LeakyProduct",
]

SKU_PATTERN = r"^[A-Z]{3}-[0-9]{3}$"
MAX_PRICE = 10_000.0

# (sku, name, sale price, cost price, supplier code): the shop's ten products.
DEMO_PRODUCTS = [
    ("BEA-001", "espresso beans", 14.0, 8.2, "SUP-ROAST-7"),
    ("KET-002", "pour-over kettle", 39.0, 21.5, "SUP-STEEL-2"),
    ("MUG-003", "ceramic mug", 9.5, 3.1, "SUP-CLAY-1"),
    ("GRI-004", "hand grinder", 54.0, 30.0, "SUP-STEEL-2"),
    ("FIL-005", "paper filters", 4.0, 1.2, "SUP-PAPER-3"),
    ("FRO-006", "milk frother", 24.0, 12.9, "SUP-STEEL-2"),
    ("TUM-007", "travel tumbler", 19.0, 7.4, "SUP-STEEL-2"),
    ("SCA-008", "scale", 29.0, 15.0, "SUP-TECH-4"),
    ("JAR-009", "cold brew jar", 22.0, 9.8, "SUP-CLAY-1"),
    ("NOT-010", "tasting notebook", 7.5, 2.0, "SUP-PAPER-3"),
]


class _CatalogTables(SQLModel, registry=registry()):
    """The catalog's own table registry: its tables live in its own database and nowhere else."""


class ProductRow(_CatalogTables, table=True):
    """A product as the catalog stores it: public and internal columns side by side."""

    __tablename__ = "catalog_product"

    id: int | None = Field(default=None, primary_key=True)  # internal: rows are renumbered on a migration
    sku: str = Field(index=True, unique=True, max_length=7)  # public, stable: what clients use
    name: str = Field(max_length=80)
    price: float  # the sale price: public
    cost_price: float | None = None  # what the shop pays: never leaves the service
    supplier_code: str = "UNASSIGNED"  # the purchasing department's code: never leaves the service
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


# ---------------------------------------------------------------- DTOs (what the API exposes)
class Product(BaseModel):
    """A product as clients see it: the public SKU and the sale price, nothing internal."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"additionalProperties": False})

    sku: str = PydanticField(pattern=SKU_PATTERN, examples=["BEA-001"])
    name: str = PydanticField(min_length=1, max_length=80, examples=["espresso beans"])
    price: float = PydanticField(gt=0, le=MAX_PRICE, examples=[14.0])
    currency: Literal["EUR"] = "EUR"


class NewProduct(BaseModel):
    """What a client sends to add a product (unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid")

    sku: str = PydanticField(pattern=SKU_PATTERN, examples=["NEW-001"])
    name: str = PydanticField(min_length=1, max_length=80, examples=["gooseneck kettle"])
    price: float = PydanticField(gt=0, le=MAX_PRICE, examples=[45.0])


class PriceChange(BaseModel):
    """What a client sends to change a sale price."""

    model_config = ConfigDict(extra="forbid")

    price: float = PydanticField(gt=0, le=MAX_PRICE, examples=[12.5])


class RenamedPriceProduct(BaseModel):
    """A deviating DTO: the sale price leaves the service as ``sale_price``, not ``price``."""

    model_config = ConfigDict(from_attributes=True)

    sku: str
    name: str
    sale_price: float = PydanticField(validation_alias="price")
    currency: str = "EUR"


class LeakyProduct(BaseModel):
    """A deviating DTO: the table row as it is, internal id, cost price and supplier included."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    name: str
    price: float
    cost_price: float | None
    supplier_code: str
    currency: str = "EUR"


# ---------------------------------------------------------------- configuration
ENV_DATABASE = "CATALOG_DATABASE"
ENV_SEED = "CATALOG_DEMO_DATA"
ENV_ROOT_PATH = "CATALOG_ROOT_PATH"


@dataclass(frozen=True)
class CatalogSettings:
    """Everything the catalog could be told, each with a default that just works.

    ``database``: ``"memory"`` (default: a private in-memory SQLite database
    per instance), ``"file"`` (a SQLite file in a temporary folder per
    instance, removed on shutdown) or any SQLAlchemy URL.
    ``demo_data``: load the ten demo products at start-up (default True).
    ``root_path``: the path prefix a reverse proxy serves the app under
    (default none; requests forwarded by jupyter-server-proxy set it by
    themselves, see :mod:`labsvc.api` ``swagger_url``).
    """

    database: str = "memory"
    demo_data: bool = True
    root_path: str = ""

    ENV = {"database": ENV_DATABASE, "demo_data": ENV_SEED, "root_path": ENV_ROOT_PATH}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "CatalogSettings":
        """Defaults, overridden by ``CATALOG_DATABASE``, ``CATALOG_DEMO_DATA``, ``CATALOG_ROOT_PATH`` if set."""
        env = os.environ if environ is None else environ
        kw: dict[str, Any] = {}
        if env.get(ENV_DATABASE):
            kw["database"] = env[ENV_DATABASE]
        if env.get(ENV_SEED):
            value = env[ENV_SEED].strip().lower()
            if value not in ("1", "0", "true", "false", "yes", "no"):
                raise ConfigurationError(f"{ENV_SEED}={env[ENV_SEED]!r}: use true or false (or leave it unset: true)")
            kw["demo_data"] = value in ("1", "true", "yes")
        if env.get(ENV_ROOT_PATH):
            kw["root_path"] = env[ENV_ROOT_PATH]
        return cls(**kw)

    def __post_init__(self) -> None:
        if self.database not in ("memory", "file") and "://" not in self.database:
            raise ConfigurationError(
                f"database={self.database!r}: use 'memory', 'file' or a SQLAlchemy URL such as 'sqlite:///catalog.db'"
            )
        if self.root_path and not self.root_path.startswith("/"):
            raise ConfigurationError(f"root_path={self.root_path!r} must start with '/', e.g. '/proxy/8000'")


def settings_table(settings: CatalogSettings | None = None, environ: Mapping[str, str] | None = None) -> "pd.DataFrame":
    """Each setting: its environment variable, its default and the value in effect."""
    import pandas as pd

    settings = settings or CatalogSettings.from_env(environ)
    default = CatalogSettings()
    rows = [{"setting": f.name, "environment variable": CatalogSettings.ENV[f.name],
             "default": getattr(default, f.name), "in effect": getattr(settings, f.name)} for f in fields(CatalogSettings)]
    return pd.DataFrame(rows)


class CatalogDatabase:
    """The catalog's own database: an engine opened at start-up and disposed at shutdown."""

    def __init__(self, settings: CatalogSettings) -> None:
        self.settings = settings
        self.directory: Path | None = None
        if settings.database == "memory":
            # One connection shared by every session, or each would see its own empty database.
            self.url = "sqlite://"
            self.engine: Engine = create_engine(self.url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
        elif settings.database == "file":
            self.directory = Path(tempfile.mkdtemp(prefix="labsvc-catalog-"))
            self.url = f"sqlite:///{self.directory / 'catalog.db'}"
            self.engine = create_engine(self.url, connect_args={"check_same_thread": False})
        else:
            self.url = settings.database
            args = {"check_same_thread": False} if self.url.startswith("sqlite") else {}
            self.engine = create_engine(self.url, connect_args=args)
        _CatalogTables.metadata.create_all(self.engine)
        if settings.demo_data:
            with Session(self.engine) as session:
                if session.exec(select(func.count()).select_from(ProductRow)).one() == 0:
                    for sku, name, price, cost, supplier in DEMO_PRODUCTS:
                        session.add(ProductRow(sku=sku, name=name, price=price, cost_price=cost, supplier_code=supplier))
                    session.commit()

    def session(self) -> Session:
        """A session whose objects stay readable after commit (handlers turn them into DTOs afterwards)."""
        return Session(self.engine, expire_on_commit=False)

    def close(self) -> None:
        """Dispose the engine (close its connections) and remove a temporary database folder."""
        self.engine.dispose()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


# ---------------------------------------------------------------- the service
def _unknown(sku: str) -> Problem:
    return Problem(404, "Unknown product", type=problem_type("unknown-product"),
                   detail=f"there is no product with SKU {sku}")


def catalog_backend(
    settings: CatalogSettings | None = None,
    *,
    product_dto: type[BaseModel] = Product,
    create_status: int = 201,
    problem_errors: bool = True,
    name: str = "catalog",
) -> FastAPI:
    """The catalog service. Call with no arguments: every setting has a default.

    ``product_dto`` is the class products leave the service as (the public
    :class:`Product` by default); ``create_status`` and ``problem_errors``
    exist so :func:`deviating_backend_app` can break the contract on purpose.
    """
    settings = settings or CatalogSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        db = CatalogDatabase(settings)
        try:
            yield {"catalog_db": db}
        finally:
            db.close()

    app = create_service(name, title="Catalog API", version="1.0.0", lifespan=lifespan,
                         description="The catalog backend, built after its contract (labsvc/api/contracts/catalog.json).")
    install_forwarded_prefix(app, settings.root_path)
    page_model = create_model("ProductPage", items=(list[product_dto], ...), total=(int, ...))
    to_dto = product_dto.model_validate
    problem = {"model": dict, "content": {"application/problem+json": {}}}
    sku_param = PathParam(pattern=SKU_PATTERN, description="the product's public stock-keeping unit", examples=["BEA-001"])

    def database(request: Request) -> CatalogDatabase:
        return request.state.catalog_db

    @app.get("/products", response_model=page_model, tags=["products"], summary="List products",
             responses={422: problem}, operation_id="listProducts")
    async def list_products(request: Request, limit: int = Query(20, ge=1, le=100),
                            max_price: float | None = Query(None, gt=0)):
        with database(request).session() as s:
            query = select(ProductRow)
            count = select(func.count()).select_from(ProductRow)
            if max_price is not None:
                query = query.where(ProductRow.price <= max_price)
                count = count.where(ProductRow.price <= max_price)
            rows = s.exec(query.order_by(ProductRow.sku).limit(limit)).all()
            total = s.exec(count).one()
        return {"items": [to_dto(r) for r in rows], "total": total}

    @app.post("/products", response_model=product_dto, status_code=create_status, tags=["products"],
              summary="Add a product", responses={409: problem, 422: problem}, operation_id="createProduct")
    async def create_product(new: NewProduct, request: Request, response: Response):
        with database(request).session() as s:
            if s.exec(select(ProductRow).where(ProductRow.sku == new.sku)).first() is not None:
                raise Problem(409, "Product exists", type=problem_type("duplicate-sku"),
                              detail=f"a product with SKU {new.sku} exists already")
            row = ProductRow(sku=new.sku, name=new.name, price=new.price)
            s.add(row)
            s.commit()
        response.headers["Location"] = f"/products/{row.sku}"
        return to_dto(row)

    @app.get("/products/{sku}", response_model=product_dto, tags=["products"], summary="One product",
             responses={404: problem, 422: problem}, operation_id="getProduct")
    async def get_product(request: Request, sku: str = sku_param):
        with database(request).session() as s:
            row = s.exec(select(ProductRow).where(ProductRow.sku == sku)).first()
        if row is None:
            raise _unknown(sku)
        return to_dto(row)

    @app.patch("/products/{sku}", response_model=product_dto, tags=["products"], summary="Change a sale price",
               responses={404: problem, 422: problem}, operation_id="changePrice")
    async def change_price(change: PriceChange, request: Request, sku: str = sku_param):
        with database(request).session() as s:
            row = s.exec(select(ProductRow).where(ProductRow.sku == sku)).first()
            if row is None:
                raise _unknown(sku)
            row.price = change.price
            s.add(row)
            s.commit()
        return to_dto(row)

    @app.delete("/products/{sku}", status_code=204, response_class=Response, tags=["products"],
                summary="Stop selling a product", responses={404: problem}, operation_id="deleteProduct")
    async def delete_product(request: Request, sku: str = sku_param):
        with database(request).session() as s:
            row = s.exec(select(ProductRow).where(ProductRow.sku == sku)).first()
            if row is None:
                raise _unknown(sku)
            s.delete(row)
            s.commit()
        return Response(status_code=204)

    if not problem_errors:
        _plain_errors(app)
    return app


def _plain_errors(app: FastAPI) -> None:
    """Swap labsvc's problem documents for FastAPI's default ``{"detail": ...}`` JSON errors."""

    async def plain_problem(request: Request, exc: Problem):
        return JSONResponse({"detail": exc.document.get("detail", exc.document["title"])}, status_code=exc.status)

    app.exception_handlers[StarletteHTTPException] = http_exception_handler
    app.exception_handlers[RequestValidationError] = request_validation_exception_handler
    app.exception_handlers[Problem] = plain_problem


# What each deviating backend breaks, in the words a reviewer would use.
DEVIATIONS = {
    "renamed-field": "the sale price leaves the service as 'sale_price' instead of 'price'",
    "wrong-status": "creating a product answers 200 OK instead of 201 Created",
    "leaky-dto": "products carry the internal row id, the cost price and the supplier code",
    "plain-errors": "errors are FastAPI's default {'detail': ...} JSON, not problem documents",
}


def deviating_backend_app(deviation: str = "renamed-field", settings: CatalogSettings | None = None) -> FastAPI:
    """A catalog backend that breaks the contract in one way (see :data:`DEVIATIONS`).

    The contract test must catch each: that is how it earns its place in the
    build.
    """
    if deviation not in DEVIATIONS:
        raise ConfigurationError(f"deviation={deviation!r} is not known; pick one of {sorted(DEVIATIONS)}")
    kw: dict[str, Any] = {
        "renamed-field": {"product_dto": RenamedPriceProduct},
        "wrong-status": {"create_status": 200},
        "leaky-dto": {"product_dto": LeakyProduct},
        "plain-errors": {"problem_errors": False},
    }[deviation]
    return catalog_backend(settings or CatalogSettings(), name="catalog", **kw)


def dto_exposure(row_model: type = ProductRow, dto: type[BaseModel] = Product) -> "pd.DataFrame":
    """Each column of the table: does it leave the service in the DTO?"""
    import pandas as pd

    why = {"id": "internal row number; clients use the SKU", "cost_price": "business secret (margin)",
           "supplier_code": "purchasing detail; meaningless outside the catalog",
           "created_at": "bookkeeping; not part of the contract"}
    exposed = {(f.validation_alias if isinstance(f.validation_alias, str) else name): name
               for name, f in dto.model_fields.items()}
    rows = []
    for column in row_model.__table__.columns:
        out = exposed.get(column.name)
        rows.append({"column": column.name, "in the database": True, "in the API": out is not None,
                     "API name": out or "", "why hidden": "" if out else why.get(column.name, "internal")})
    for name in dto.model_fields:
        if name not in {r["API name"] for r in rows}:
            rows.append({"column": "(none)", "in the database": False, "in the API": True, "API name": name,
                         "why hidden": ""})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- behind a proxy
def install_forwarded_prefix(app: FastAPI, root_path: str = "") -> None:
    """Serve ``app`` correctly behind jupyter-server-proxy: a fixed ``root_path``, or one from ``X-Forwarded-Prefix``.

    jupyter-server-proxy forwards ``<base>/proxy/<port>/docs`` to
    ``127.0.0.1:<port>/docs`` and says where it came from in
    ``X-Forwarded-Prefix`` (``<base>/proxy/<port>``). Setting the ASGI
    ``root_path`` from it makes FastAPI's Swagger UI load
    ``<base>/proxy/<port>/openapi.json`` (and "Try it out" call
    ``<base>/proxy/<port>/products``) instead of paths on the Jupyter server.
    Only prefixes of that shape are trusted.
    """
    from labsvc.api._swagger import ForwardedPrefixMiddleware

    app.add_middleware(ForwardedPrefixMiddleware, root_path=root_path)
