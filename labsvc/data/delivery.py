"""The delivery service: one delivery per order, and where it stands.

It owns the ``deliveries`` table and nothing else. Other services learn a
delivery's status only through its API:

- ``POST /deliveries`` schedules (or updates) the delivery of an order;
- ``GET /deliveries/{order_id}`` tracks one (404 if there is none);
- ``GET /deliveries?order_ids=1,2`` answers for several orders in one call,
  which is what lets an API composer batch its questions
  (:mod:`labsvc.data.order_summary`).

With ``Settings.events_topic`` it also listens for order events (the
capstone): ``POST /deliveries/poll`` takes a round of events from the
broker (``http://broker.svc``) as an idempotent consumer in
``Settings.group``, and every ``OrderApproved`` order gets a delivery in
``preparing``. Serve it on its own with::

    python -m labsvc serve labsvc.data.delivery:app          # in memory, no events
    python -m labsvc serve labsvc.data.delivery:create_app   # a new app per instance
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from labsvc.core.service import Request
from labsvc.data._consume import PollBody, consume_round
from labsvc.data._database import ServiceDatabase, data_service, service_database
from labsvc.data._handlers import database_of, get_or_404, id_list
from labsvc.messaging import IdempotentConsumer

__all__ = ["DELIVERY_STATUSES", "Settings", "create_app", "app", "delivery_app", "DeliveryIn", "Delivery"]

DELIVERY_STATUSES = ("preparing", "shipped", "delivered")


@dataclass(frozen=True)
class Settings:
    """How to run the delivery service.

    ``url``: a SQLAlchemy database URL (None: in memory, one per instance).
    ``events_topic``: the broker topic of order events to listen to (None:
    no listening, no ``/deliveries/poll``); ``group``: its consumer group.
    """

    url: str | None = None
    events_topic: str | None = None
    group: str = "delivery"


class DeliveryBase(SQLModel, registry=registry()):
    """Tables the delivery service owns."""


class Delivery(DeliveryBase, table=True):
    """One delivery per order and where it stands."""

    __tablename__ = "deliveries"
    order_id: int = Field(primary_key=True)
    status: str


class DeliveryIn(BaseModel):
    """The body of ``POST /deliveries``."""

    order_id: int = PydanticField(ge=1)
    status: str = PydanticField(default="preparing", pattern="^(preparing|shipped|delivered)$")


def _delivery_dict(d: Delivery) -> dict[str, Any]:
    return {"order_id": d.order_id, "status": d.status}


# ------------------------------------------------------------------ routes
router = APIRouter()


@router.post("/deliveries", status_code=201)
async def schedule(body: DeliveryIn, request: Request) -> dict[str, Any]:
    """Schedule the delivery of an order, or move it to ``body.status``."""
    with database_of(request).session() as s:
        row = s.get(Delivery, body.order_id)
        if row is None:
            row = Delivery(order_id=body.order_id, status=body.status)
        row.status = body.status
        s.add(row)
        s.commit()
        return _delivery_dict(row)


@router.get("/deliveries/{order_id}")
async def track(order_id: int, request: Request) -> dict[str, Any]:
    """Where the delivery of one order stands, or 404."""
    with database_of(request).session() as s:
        row = get_or_404(s, Delivery, order_id, "delivery", detail=f"no delivery for order {order_id}")
    return _delivery_dict(row)


@router.get("/deliveries")
async def batch(request: Request, order_ids: str | None = None) -> list[dict[str, Any]]:
    """Every delivery, or those of ``order_ids`` (``1,2,3``): one call for many orders."""
    with database_of(request).session() as s:
        query = select(Delivery)
        if order_ids:
            query = query.where(Delivery.order_id.in_(id_list(order_ids, "order_ids")))  # type: ignore[attr-defined]
        return [_delivery_dict(d) for d in s.exec(query.order_by(Delivery.order_id)).all()]


# Only with Settings.events_topic:
events_router = APIRouter()


def prepare_approved(db: ServiceDatabase, event: dict[str, Any]) -> bool:
    """Apply one order event: an ``OrderApproved`` order gets a delivery in ``preparing``; True if one was added."""
    if event.get("type") != "OrderApproved":
        return False
    with db.session() as s:
        if s.get(Delivery, event["order_id"]) is not None:
            return False
        s.add(Delivery(order_id=event["order_id"], status="preparing"))
        s.commit()
    return True


@events_router.post("/deliveries/poll")
async def poll(request: Request, body: PollBody | None = None) -> dict[str, Any]:
    """One round of the order-event consumer: pull, apply each event once, acknowledge."""
    state = request.app.state
    db = database_of(request)
    return await consume_round(request, body, topic=state.settings.events_topic, group=state.settings.group,
                               consumer=state.consumer, apply=lambda event: prepare_approved(db, event))


# ------------------------------------------------------------------ the app
def create_app(settings: Settings | None = None) -> FastAPI:
    """A new delivery app (its own database; an idempotent consumer of its own with ``events_topic``)."""
    settings = settings or Settings()
    db = service_database("delivery", DeliveryBase.metadata, url=settings.url)
    app = data_service("delivery", db, description="Owns deliveries and their status.")
    app.state.settings = settings
    if settings.events_topic is not None:
        app.state.consumer = IdempotentConsumer()
        app.include_router(events_router)
    app.include_router(router)
    return app


def delivery_app(*, url: str | None = None, events_topic: str | None = None, group: str = "delivery") -> FastAPI:
    """The delivery service: one delivery per order, with its status.

    With ``events_topic``, it also listens for order events
    (``POST /deliveries/poll``, an idempotent consumer in ``group``): every
    ``OrderApproved`` order gets a delivery in ``preparing``.
    The same as ``create_app(Settings(url, events_topic, group))``.
    """
    return create_app(Settings(url=url, events_topic=events_topic, group=group))


#: One app with the default settings (in memory, no events), for ``python -m labsvc serve ...:app``.
app = create_app()
