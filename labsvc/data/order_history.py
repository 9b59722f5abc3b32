"""The order-history service of CQRS, query side: a read model built from the order service's events.

Its own database holds ``order_view``, a table shaped for the question it
answers ("orders with customer name and status"), and nothing in it is
written by anyone but this service. It fills the table by *projecting*
the order events (:mod:`labsvc.data.order_command`):

- ``POST /projection/poll`` takes a round of events from the broker
  (``http://broker.svc``) as an idempotent consumer: each event id is
  applied once (an :class:`~labsvc.messaging.IdempotentConsumer` in memory,
  and an ``inbox`` table written in the same transaction as the view, which
  also survives a restart), and a view row only moves to a newer order
  version, so duplicates and late events change nothing;
- ``POST /projection/rebuild`` empties the read model and replays the
  order service's event feed (``GET http://orders.svc/events``): how a new
  read model, or a new version of it, catches up;
- ``GET /projection/events`` lists the applied events: when each was
  committed on the command side and when it became visible here, the read
  model's *lag*.

Queries: ``GET /order-views`` (filters ``customer_id``, ``status``), ``GET
/order-views/{order_id}``, ``GET /order-views/stats``. ``Settings.fields``
adds computed fields to every row. Serve it on its own with::

    python -m labsvc serve labsvc.data.order_history:app          # in memory
    python -m labsvc serve labsvc.data.order_history:create_app   # a new app per instance
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError
from labsvc.core.service import Request, http
from labsvc.data._consume import PollBody, consume_round
from labsvc.data._database import ServiceDatabase, data_service, service_database
from labsvc.data._handlers import database_of, get_or_404
from labsvc.data._order_events import GROUP, TOPIC, order_stats
from labsvc.data._remote import fetch_json
from labsvc.messaging import IdempotentConsumer

__all__ = ["Fields", "Settings", "create_app", "app", "order_history_app", "Projection", "OrderView", "InboxRow",
           "check_fields"]

#: Computed fields of the read model: ``{name: function(view row as a dict) -> JSON-able value}``.
Fields = dict[str, Callable[[dict[str, Any]], Any]]

_VIEW_COLUMNS = ("order_id", "customer_id", "customer_name", "total", "status", "version", "committed_at", "visible_at")


def check_fields(fields: Fields | None) -> Fields:
    """A copy of ``fields`` once each name is a new identifier and each value a function (else ConfigurationError)."""
    fields = dict(fields or {})
    for name, fn in fields.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ConfigurationError(f"field name {name!r} must be a Python identifier, e.g. 'size'")
        if name in _VIEW_COLUMNS or name == "extras":
            raise ConfigurationError(f"field {name!r} is already a column of the read model; pick another name")
        if not callable(fn):
            raise ConfigurationError(f"field {name!r} needs a function view -> value, got {fn!r}")
    return fields


@dataclass(frozen=True)
class Settings:
    """How to run the order-history service.

    ``fields``: computed fields added to every view row, e.g. ``{"size":
    lambda view: "large" if view["total"] >= 100 else "small"}``.
    ``clock``: what stamps ``visible_at`` (a new
    :class:`~labsvc.core.clock.MonotonicClock` per app when None).
    ``topic`` and ``group``: where the events come from, and this read
    model's consumer group.
    """

    fields: Fields | None = None
    clock: Clock | None = None
    topic: str = TOPIC
    group: str = GROUP

    def __post_init__(self) -> None:
        check_fields(self.fields)


# ------------------------------------------------------------------ tables
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


def _view_dict(v: OrderView) -> dict[str, Any]:
    return {**{c: getattr(v, c) for c in _VIEW_COLUMNS}, **(v.extras or {})}


# Where each view column comes from in the event's ``order``.
_FROM_ORDER = (("order_id", "id"), ("customer_id", "customer_id"), ("customer_name", "customer_name"),
               ("total", "total"), ("status", "status"), ("version", "version"), ("committed_at", "committed_at"))


class Projection:
    """Applies order events to the read model of one instance, each event once."""

    def __init__(self, db: ServiceDatabase, clock: Clock, fields: Fields) -> None:
        self.db, self.clock, self.fields = db, clock, fields

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one event in one transaction; returns whether the view changed."""
        with self.db.session() as s:
            if s.get(InboxRow, event["event_id"]) is not None:
                return False  # seen before (e.g. by an earlier instance): nothing to do
            order = event["order"]
            view = s.get(OrderView, event["order_id"])
            changed = view is None or view.version < event["version"]
            now = self.clock.now()
            if changed:
                data = {column: order[key] for column, key in _FROM_ORDER}
                data["visible_at"] = now
                data["extras"] = {name: fn(dict(data)) for name, fn in self.fields.items()}
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

    def reset(self) -> None:
        """Empty the read model and the inbox (before a rebuild)."""
        with self.db.session() as s:
            s.exec(sa.delete(OrderView))
            s.exec(sa.delete(InboxRow))
            s.commit()


# ------------------------------------------------------------------ routes
router = APIRouter()


@router.post("/projection/poll")
async def poll(request: Request, body: PollBody | None = None) -> dict[str, Any]:
    """One round of the projector: pull events from the broker, apply each once, acknowledge."""
    state = request.app.state
    return await consume_round(request, body, topic=state.settings.topic, group=state.settings.group,
                               consumer=state.consumer, apply=state.projection.apply)


@router.post("/projection/rebuild")
async def rebuild(request: Request) -> dict[str, Any]:
    """Empty the read model and replay the order service's whole event feed."""
    projection = request.app.state.projection
    projection.reset()
    client = http(request)
    after, replayed = 0, 0
    while True:
        page = await fetch_json(client, "GET", f"http://orders.svc/events?after={after}&limit=500")
        for event in page["events"]:
            projection.apply(event)
            replayed += 1
        if not page["events"]:
            break
        after = page["last"]
    return {"replayed": replayed}


@router.get("/order-views/stats")
async def stats(request: Request) -> dict[str, Any]:
    """Orders and totals per status, as the read model sees them (the command side answers the same shape)."""
    return order_stats(database_of(request), OrderView)


@router.get("/order-views")
async def views(request: Request, customer_id: int | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """Rows of the read model, optionally of one customer and one status."""
    with database_of(request).session() as s:
        query = select(OrderView).order_by(OrderView.order_id)
        if customer_id is not None:
            query = query.where(OrderView.customer_id == customer_id)
        if status is not None:
            query = query.where(OrderView.status == status)
        return [_view_dict(v) for v in s.exec(query).all()]


@router.get("/order-views/{order_id}")
async def view(order_id: int, request: Request) -> dict[str, Any]:
    """One row of the read model, or 404 (the event may not have arrived yet)."""
    with database_of(request).session() as s:
        v = get_or_404(s, OrderView, order_id, "order view", detail=f"no order {order_id} in the read model (yet?)")
    return _view_dict(v)


@router.get("/projection/events")
async def applied_events(request: Request) -> list[dict[str, Any]]:
    """Every applied event with when it was committed and when it became visible."""
    with database_of(request).session() as s:
        rows = s.exec(select(InboxRow).order_by(InboxRow.visible_at)).all()
    return [r.model_dump() for r in rows]


# ------------------------------------------------------------------ the app
def create_app(settings: Settings | None = None) -> FastAPI:
    """A new order-history app: its own database, projection and idempotent consumer."""
    settings = settings or Settings()
    fields = check_fields(settings.fields)
    db = service_database("order-history", OrderHistoryBase.metadata)
    app = data_service("order-history", db, description="Read model of orders, projected from events.")
    app.state.settings = settings
    app.state.fields = sorted(fields)
    app.state.consumer = IdempotentConsumer()
    app.state.projection = Projection(db, settings.clock or MonotonicClock(), fields)
    app.include_router(router)
    return app


def order_history_app(*, fields: Fields | None = None, clock: Clock | None = None, topic: str = TOPIC,
                      group: str = GROUP) -> FastAPI:
    """The order-history service (query side): a read model projected from order events.

    ``fields`` adds computed fields to every view row: ``{"size": lambda view:
    "large" if view["total"] >= 100 else "small"}``; each function gets the
    row as a dict and returns a JSON-able value.

    ``GET /order-views`` (filters ``customer_id``, ``status``),
    ``GET /order-views/{order_id}``, ``GET /order-views/stats`` answer queries;
    ``POST /projection/poll`` consumes events from the broker,
    ``POST /projection/rebuild`` replays the command side's event feed,
    ``GET /projection/events`` lists the applied events with their lag.
    The same as ``create_app(Settings(fields, clock, topic, group))``.
    """
    return create_app(Settings(fields=fields, clock=clock, topic=topic, group=group))


#: One app with the default settings (no extra fields, in memory), for ``python -m labsvc serve ...:app``.
app = create_app()
