"""The shared-database anti-pattern, measured: ship a schema change in one service and watch the other.

Two services: **customers** (:mod:`labsvc.data.customers`, it owns customer
records) and **orders** (:mod:`labsvc.data.orders`, it owns orders, and
prints receipts that show the customer's name).

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

from labsvc.core.errors import ConfigurationError
from labsvc.core.network import Network
from labsvc.data import customers as customers_service
from labsvc.data import orders as orders_service
from labsvc.data._lab_seed import CUSTOMER_NAMES, order_body, register_customers
from labsvc.data.orders import check_design
from labsvc.core.simtime import experiment

__all__ = ["SchemaChangeResult", "schema_change_experiment"]


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


@experiment
async def schema_change_experiment(design: str, *, orders: int = 6, customers: int = 3, seed: int = 0,
                                   name: str | None = None) -> SchemaChangeResult:
    """Read every order's receipt, ship customers version 2, read them again.

    The databases are files in a temporary folder (removed at the end), so
    the data survives the customers service's restart as it would on a real
    database server.
    """
    check_design(design)
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
        net.add("customers", lambda: _customers_app(release["customers"], url_c))
        net.add("orders", lambda: _orders_app(design, url_o))
        rows: list[dict[str, Any]] = []
        columns: dict[str, list[str]] = {}
        async with net:
            client = net.client("frontend")
            people = rng.sample(CUSTOMER_NAMES, k=min(customers, len(CUSTOMER_NAMES)))
            ids = await register_customers(client, people)
            order_ids = []
            for _ in range(orders):
                r = await client.post("http://orders.svc/orders", json=order_body(rng, ids))
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


def _customers_app(version: int, url: str) -> Any:
    return customers_service.create_app(customers_service.Settings(version=version, url=url))


def _orders_app(design: str, url: str) -> Any:
    return orders_service.create_app(orders_service.Settings(design=design, url=url))


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
