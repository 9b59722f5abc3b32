"""CQRS query side: the order-history service and its read model, projected from order events.

An idempotent consumer applies each event once (in memory and in an
``inbox`` table) and records when it became visible: the read model's lag.
"""

from __future__ import annotations

import keyword
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, func, select

from ..clock import Clock, MonotonicClock
from ..errors import ConfigurationError
from ..messaging import IdempotentConsumer
from ..problems import Problem, problem_type
from ..service import Request, http
from ._cqrs_command import GROUP, TOPIC, _stats
from ._consume import PollBody, consume_round
from ._database import data_service, service_database
from ._remote import fetch_json

__all__ = ["order_history_app", "Fields"]


# ------------------------------------------------------------------ query side
class OrderHistoryBase(SQLModel, registry=registry()):
    """Tables the order-history (query) service owns."""


class OrderView(OrderHistoryBase, table=True):
    """A row of the read model: the order as the query needs it, plus computed ``extras``."""

    __tablename__ = "order_view"
    order_id: int = Field(primary_key=True)
    customer_id: int = Field(index=True)
    customer_name: str
    total: float
    status: str
    version: int
    committed_at: float
    visible_at: float
    extras: dict = Field(default_factory=dict, sa_type=sa.JSON)


class InboxRow(OrderHistoryBase, table=True):
    """An applied event: deduplication across restarts, and the lag measurement."""

    __tablename__ = "inbox"
    event_id: str = Field(primary_key=True)
    type: str
    order_id: int
    version: int
    committed_at: float
    visible_at: float
    changed_view: bool


_VIEW_COLUMNS = ("order_id", "customer_id", "customer_name", "total", "status", "version", "committed_at", "visible_at")
Fields = dict[str, Callable[[dict[str, Any]], Any]]


def _check_fields(fields: Fields | None) -> Fields:
    fields = dict(fields or {})
    for name, fn in fields.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ConfigurationError(f"field name {name!r} must be a Python identifier, e.g. 'size'")
        if name in _VIEW_COLUMNS or name == "extras":
            raise ConfigurationError(f"field {name!r} is already a column of the read model; pick another name")
        if not callable(fn):
            raise ConfigurationError(f"field {name!r} needs a function view -> value, got {fn!r}")
    return fields


def _view_dict(v: OrderView) -> dict[str, Any]:
    return {**{c: getattr(v, c) for c in _VIEW_COLUMNS}, **(v.extras or {})}


def order_history_app(*, fields: Fields | None = None, clock: Clock | None = None, topic: str = TOPIC,
                      group: str = GROUP):
    """The order-history service (query side): a read model projected from order events.

    ``fields`` adds computed fields to every view row: ``{"size": lambda view:
    "large" if view["total"] >= 100 else "small"}``; each function gets the
    row as a dict and returns a JSON-able value.

    ``GET /order-views`` (filters ``customer_id``, ``status``),
    ``GET /order-views/{order_id}``, ``GET /order-views/stats`` answer queries;
    ``POST /projection/poll`` consumes events from the broker,
    ``POST /projection/rebuild`` replays the command side's event feed,
    ``GET /projection/events`` lists the applied events with their lag.
    """
    fields = _check_fields(fields)
    clock = clock or MonotonicClock()
    db = service_database("order-history", OrderHistoryBase.metadata)
    app = data_service("order-history", db, description="Read model of orders, projected from events.")
    app.state.fields = sorted(fields)
    consumer = IdempotentConsumer()
    app.state.consumer = consumer

    def apply(event: dict[str, Any]) -> bool:
        """Apply one event in one transaction; returns whether the view changed."""
        with db.session() as s:
            if s.get(InboxRow, event["event_id"]) is not None:
                return False  # seen before (e.g. by an earlier instance): nothing to do
            order = event["order"]
            view = s.get(OrderView, event["order_id"])
            changed = view is None or view.version < event["version"]
            now = clock.now()
            if changed:
                data = {c: order[k] for c, k in (("order_id", "id"), ("customer_id", "customer_id"),
                                                 ("customer_name", "customer_name"), ("total", "total"),
                                                 ("status", "status"), ("version", "version"),
                                                 ("committed_at", "committed_at"))}
                data["visible_at"] = now
                data["extras"] = {name: fn(dict(data)) for name, fn in fields.items()}
                if view is None:
                    view = OrderView(**data)
                else:
                    for k, v in data.items():
                        setattr(view, k, v)
                s.add(view)
            s.add(InboxRow(event_id=event["event_id"], type=event["type"], order_id=event["order_id"],
                           version=event["version"], committed_at=event["committed_at"], visible_at=now,
                           changed_view=changed))
            s.commit()
            return changed

    @app.post("/projection/poll")
    async def poll(request: Request, body: PollBody | None = None) -> dict[str, Any]:
        return await consume_round(request, body, topic=topic, group=group, consumer=consumer, apply=apply)

    @app.post("/projection/rebuild")
    async def rebuild(request: Request) -> dict[str, Any]:
        with db.session() as s:
            s.exec(sa.delete(OrderView))
            s.exec(sa.delete(InboxRow))
            s.commit()
        client = http(request)
        after, replayed = 0, 0
        while True:
            page = await fetch_json(client, "GET", f"http://orders.svc/events?after={after}&limit=500")
            for event in page["events"]:
                apply(event)
                replayed += 1
            if not page["events"]:
                break
            after = page["last"]
        return {"replayed": replayed}

    @app.get("/order-views/stats")
    async def stats() -> dict[str, Any]:
        with db.session() as s:
            rows = s.exec(select(OrderView.status, func.count(), func.sum(OrderView.total))
                          .group_by(OrderView.status)).all()
        return _stats(rows)

    @app.get("/order-views")
    async def views(customer_id: int | None = None, status: str | None = None) -> list[dict[str, Any]]:
        with db.session() as s:
            query = select(OrderView).order_by(OrderView.order_id)
            if customer_id is not None:
                query = query.where(OrderView.customer_id == customer_id)
            if status is not None:
                query = query.where(OrderView.status == status)
            return [_view_dict(v) for v in s.exec(query).all()]

    @app.get("/order-views/{order_id}")
    async def view(order_id: int) -> dict[str, Any]:
        with db.session() as s:
            v = s.get(OrderView, order_id)
        if v is None:
            raise Problem(404, "Order view not found", type=problem_type("not-found"),
                          detail=f"no order {order_id} in the read model (yet?)")
        return _view_dict(v)

    @app.get("/projection/events")
    async def applied_events() -> list[dict[str, Any]]:
        with db.session() as s:
            rows = s.exec(select(InboxRow).order_by(InboxRow.visible_at)).all()
        return [r.model_dump() for r in rows]

    return app
