"""The shared-database anti-pattern, and the same services each owning their data.

Two services: **customers** (it owns customer records) and **orders** (it
owns orders, and prints receipts that show the customer's name).

- ``design="shared"``: both services open the *same* database. The orders
  code maps the ``customers`` table itself and joins it in SQL: quick to
  write, and invisible coupling. When the customers team ships version 2,
  which splits ``name`` into ``first_name`` and ``last_name`` (a migration
  run on start-up), every receipt query of the orders service fails with
  ``OperationalError: no such column: customers.name``: a 500 problem,
  although nobody touched the orders service.
- ``design="per-service"``: each service has its own database, and the
  orders service asks ``GET http://customers.svc/customers/{id}`` for the
  name. Version 2 runs the same migration inside its own database and keeps
  its API (``name`` is still there, now built from the two columns), so the
  orders service never notices.

:func:`schema_change_experiment` runs both and returns every request.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from ..errors import ConfigurationError
from ..network import Network
from ..problems import Problem, problem_type
from ..service import Request, http
from ._database import ServiceDatabase, data_service, service_database
from ._remote import fetch_json

__all__ = [
    "SCHEMA_DESIGNS", "CUSTOMER_NAMES", "customers_app", "orders_app", "schema_change_experiment",
    "SchemaChangeResult", "CustomerIn", "OrderIn",
]

SCHEMA_DESIGNS = ("shared", "per-service")
CUSTOMER_NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov",
                  "Donald Knuth", "Frances Allen", "John Backus")


def _check_design(design: str) -> None:
    if design not in SCHEMA_DESIGNS:
        raise ConfigurationError(f"design={design!r} is not known; use one of {SCHEMA_DESIGNS}")


# ------------------------------------------------------------------ the customers service's code
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


def _split(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last


def _migrate_to_v2(db: ServiceDatabase) -> None:
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


def customers_app(version: int = 1, *, url: str | None = None, directory: str | None = None):
    """The customers service, version 1 (one ``name`` column) or 2 (``first_name`` + ``last_name``).

    Both versions answer the same API: ``POST /customers``, ``GET /customers/{id}``,
    ``GET /customers?ids=1,2``; version 2 adds ``first_name`` and ``last_name``
    to its answers (an additive change, which keeps old callers working).
    """
    if version not in (1, 2):
        raise ConfigurationError(f"version={version!r}: the customers service has versions 1 and 2")
    if version == 1:
        db = service_database("customers", CustomersV1Base.metadata, url=url, directory=directory)
    else:
        db = service_database("customers", CustomersV2Base.metadata, url=url, directory=directory, setup=_migrate_to_v2)
    app = data_service("customers", db, version=f"{version}.0.0",
                       description="Owns customer records. Version 2 stores the name in two columns.")
    app.state.version = version

    def to_dict(c: Any) -> dict[str, Any]:
        if version == 1:
            return {"id": c.id, "name": c.name, "email": c.email}
        return {"id": c.id, "name": f"{c.first_name} {c.last_name}".strip(), "email": c.email,
                "first_name": c.first_name, "last_name": c.last_name}

    model = CustomerV1 if version == 1 else CustomerV2

    @app.post("/customers", status_code=201)
    async def register(body: CustomerIn) -> dict[str, Any]:
        if version == 1:
            row: Any = CustomerV1(name=body.name.strip(), email=body.email)
        else:
            first, last = _split(body.name)
            row = CustomerV2(first_name=first, last_name=last, email=body.email)
        with db.session() as s:
            s.add(row)
            s.commit()
            return to_dict(row)

    @app.get("/customers/{customer_id}")
    async def get_customer(customer_id: int) -> dict[str, Any]:
        with db.session() as s:
            row = s.get(model, customer_id)
        if row is None:
            raise Problem(404, "Customer not found", type=problem_type("not-found"),
                          detail=f"no customer with id {customer_id}")
        return to_dict(row)

    @app.get("/customers")
    async def list_customers(ids: str | None = None) -> list[dict[str, Any]]:
        with db.session() as s:
            query = select(model)
            if ids:
                wanted = _id_list(ids, "ids")
                query = query.where(model.id.in_(wanted))  # type: ignore[union-attr]
            return [to_dict(c) for c in s.exec(query.order_by(model.id)).all()]

    return app


def _id_list(text: str, field: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise Problem(422, "Invalid request", type=problem_type("validation-error"),
                      detail=f"fix these fields and send again: {field}",
                      errors=[{"field": f"query.{field}", "message": "a comma-separated list of ids, e.g. 1,2,3",
                               "type": "int_parsing"}]) from None


# ------------------------------------------------------------------ the orders service's code
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


def orders_app(design: str = "per-service", *, url: str | None = None, directory: str | None = None):
    """The orders service in the ``"shared"`` or the ``"per-service"`` design.

    ``POST /orders``, ``GET /orders``, ``GET /orders/{id}`` serve its own data;
    ``GET /orders/{id}/receipt`` also needs the customer's name: read from the
    shared ``customers`` table in SQL (shared) or asked from the customers API
    (per-service).
    """
    _check_design(design)
    db = service_database("orders", OrdersBase.metadata, url=url, directory=directory)
    app = data_service("orders", db, description=f"Owns orders; gets customer names ({design} design).")
    app.state.design = design

    async def customer_name(request: Request, customer_id: int) -> str:
        if design == "shared":
            with db.session() as s:
                row = s.exec(select(CustomerRecord.name).where(CustomerRecord.id == customer_id)).first()
            if row is None:
                raise Problem(404, "Customer not found", type=problem_type("not-found"),
                              detail=f"no customer with id {customer_id}")
            return row
        doc = await fetch_json(http(request), "GET", f"http://customers.svc/customers/{customer_id}")
        return doc["name"]

    def order_dict(o: OrderRow) -> dict[str, Any]:
        return {"id": o.id, "customer_id": o.customer_id, "total": o.total}

    @app.post("/orders", status_code=201)
    async def place(body: OrderIn, request: Request) -> dict[str, Any]:
        try:
            await customer_name(request, body.customer_id)
        except Problem as exc:
            if exc.status != 404:
                raise
            raise Problem(422, "Unknown customer", type=problem_type("validation-error"),
                          detail="fix these fields and send again: body.customer_id",
                          errors=[{"field": "body.customer_id", "message": f"no customer {body.customer_id}",
                                   "type": "unknown_customer"}]) from None
        with db.session() as s:
            order = OrderRow(customer_id=body.customer_id, total=round(body.total, 2))
            s.add(order)
            s.commit()
            return order_dict(order)

    @app.get("/orders")
    async def list_orders(limit: int = 1000) -> list[dict[str, Any]]:
        with db.session() as s:
            return [order_dict(o) for o in s.exec(select(OrderRow).order_by(OrderRow.id).limit(limit)).all()]

    def load(order_id: int) -> OrderRow:
        with db.session() as s:
            order = s.get(OrderRow, order_id)
        if order is None:
            raise Problem(404, "Order not found", type=problem_type("not-found"), detail=f"no order with id {order_id}")
        return order

    @app.get("/orders/{order_id}")
    async def get_order(order_id: int) -> dict[str, Any]:
        return order_dict(load(order_id))

    @app.get("/orders/{order_id}/receipt")
    async def receipt(order_id: int, request: Request) -> dict[str, Any]:
        order = load(order_id)
        return {"order_id": order.id, "customer_id": order.customer_id,
                "customer_name": await customer_name(request, order.customer_id), "total": order.total}

    return app


# ------------------------------------------------------------------ the experiment
@dataclass
class SchemaChangeResult:
    """What happened to every request before and after customers version 2 shipped.

    ``requests`` has one row per request: ``design``, ``phase`` (``"v1"`` or
    ``"v2"``, the customers version running), ``service`` and ``path`` called,
    ``status``, ``ok``, the ``customer_name`` read, and for failures the
    problem's ``problem_type``, ``error_class`` and ``detail``.
    ``columns`` holds the ``customers`` table's columns in each phase.
    """

    design: str
    requests: pd.DataFrame
    columns: dict[str, list[str]]
    downtime: float

    def summary(self) -> pd.DataFrame:
        """Requests and success share per design, phase and service called."""
        g = self.requests.groupby(["design", "phase", "service"], sort=False)
        out = g.agg(requests=("ok", "size"), ok=("ok", "sum"), availability=("ok", "mean"),
                    error_class=("error_class", lambda s: ", ".join(sorted({x for x in s if isinstance(x, str) and x})))).reset_index()
        return out

    @property
    def problem(self) -> dict[str, Any] | None:
        """The first problem document a receipt request got after the change (None if all worked)."""
        bad = self.requests[(self.requests["phase"] == "v2") & ~self.requests["ok"]]
        return None if bad.empty else bad.iloc[0]["problem"]


async def schema_change_experiment(design: str, *, orders: int = 6, customers: int = 3, seed: int = 0,
                                   name: str | None = None) -> SchemaChangeResult:
    """Read every order's receipt, ship customers version 2, read them again.

    The databases are files in a temporary folder (removed at the end), so
    the data survives the customers service's restart as it would on a real
    database server.
    """
    _check_design(design)
    if orders < 1 or customers < 1:
        raise ConfigurationError("orders and customers must be at least 1")
    rng = random.Random(f"schema/{seed}")
    folder = tempfile.mkdtemp(prefix="labsvc-schema-")
    try:
        if design == "shared":
            url_c = url_o = f"sqlite:///{folder}/shared.db"
        else:
            url_c, url_o = f"sqlite:///{folder}/customers.db", f"sqlite:///{folder}/orders.db"
        release = {"customers": 1}
        net = Network(seed=seed, name=name or f"schema-{design}")
        net.add("customers", lambda: customers_app(release["customers"], url=url_c))
        net.add("orders", lambda: orders_app(design, url=url_o))
        rows: list[dict[str, Any]] = []
        columns: dict[str, list[str]] = {}
        async with net:
            client = net.client("frontend")
            people = rng.sample(CUSTOMER_NAMES, k=min(customers, len(CUSTOMER_NAMES)))
            ids = []
            for person in people:
                r = await client.post("http://customers.svc/customers",
                                      json={"name": person, "email": person.split()[0].lower() + "@example.com"})
                ids.append(r.json()["id"])
            order_ids = []
            for _ in range(orders):
                r = await client.post("http://orders.svc/orders",
                                      json={"customer_id": rng.choice(ids), "total": round(rng.uniform(5, 150), 2)})
                order_ids.append(r.json()["id"])

            async def read_all(phase: str) -> None:
                columns[phase] = net.instance("customers-1").app.state.database.columns("customers")
                for oid in order_ids:
                    rows.append(await _request(client, design, phase, "orders", f"http://orders.svc/orders/{oid}/receipt"))
                for cid in ids:
                    rows.append(await _request(client, design, phase, "customers", f"http://customers.svc/customers/{cid}"))

            await read_all("v1")
            release["customers"] = 2
            report = await net.restart("customers")
            await read_all("v2")
        return SchemaChangeResult(design, pd.DataFrame(rows, columns=_COLUMNS), columns, float(report["downtime"].sum()))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_COLUMNS = ["design", "phase", "service", "path", "status", "ok", "customer_name", "problem_type", "error_class",
            "detail", "problem"]


async def _request(client: Any, design: str, phase: str, service: str, url: str) -> dict[str, Any]:
    r = await client.get(url)
    ok = r.status_code < 400
    doc = r.json() if r.headers.get("content-type", "").endswith("json") else {}
    return {
        "design": design, "phase": phase, "service": service, "path": url.split(".svc", 1)[1],
        "status": r.status_code, "ok": ok,
        "customer_name": (doc.get("customer_name") or doc.get("name")) if ok else None,
        "problem_type": None if ok else doc.get("type"), "error_class": None if ok else doc.get("error_class"),
        "detail": None if ok else doc.get("detail"), "problem": None if ok else doc,
    }
