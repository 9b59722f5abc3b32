"""CQRS: the order service takes commands, a separate service answers queries.

**Command side** (``orders``, :func:`order_command_app`): places, ships and
cancels orders in its own database. Each change is also an *event*
(``OrderPlaced``, ``OrderShipped``, ``OrderCancelled``) that carries the
order's new state and the time it was committed. Two ways to get the
events to the broker:

- ``publish="direct"``: commit, then publish over HTTP. Two writes to two
  systems with no transaction around them (a *dual write*): when the broker
  is down, the order is saved but its event is lost, and the caller gets an
  error for an order that exists;
- ``publish="outbox"`` (the *transactional outbox*): the event is written
  to an ``outbox`` table in the *same* transaction as the order, and a
  relay (``POST /outbox/relay``) publishes pending rows later, retrying
  until the broker takes them. Nothing is lost, placing an order does not
  need the broker, and the outbox doubles as an event feed
  (``GET /events``) from which a read model can be rebuilt.

**Query side** (``order-history``, :func:`order_history_app`): its own
database holds ``order_view``, a table shaped for the query ("orders with
customer name and status"), projected from the events by an idempotent
consumer (``POST /projection/poll``): each event id is applied once (the
:class:`~labsvc.messaging.IdempotentConsumer` in memory, and an ``inbox``
table written in the same transaction as the view, which also survives a
restart), and a view row only moves to a newer order version. The inbox
records when each event was committed on the command side and when it
became visible here: the read model's *lag*.

:class:`CqrsShop` wires both to a broker on a network, with two
:class:`~labsvc.data.Pump` loops driving the relay and the projector.
"""

from __future__ import annotations

import asyncio
import itertools
import keyword
import math
import random
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, Field as PydanticField
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, col, func, select

from ..clock import Clock, MonotonicClock, parse_duration
from ..errors import ConfigurationError, LabsvcError
from ..load import LoadRun, open_loop
from ..messaging import Broker, HttpBrokerClient, IdempotentConsumer, broker_app
from ..network import Network
from ..problems import Problem, problem_type
from ..service import Request, http, instance_name
from ._database import data_service, service_database
from ._pump import Pump
from ._remote import fetch_json
from ._shared import CUSTOMER_NAMES

__all__ = [
    "PUBLISH_MODES", "ORDER_STATUSES", "EVENT_TYPES", "order_command_app", "order_history_app", "CqrsShop",
    "Convergence", "lag_summary", "outbox_experiment", "OutboxResult", "PlaceOrder",
]

PUBLISH_MODES = ("outbox", "direct")
ORDER_STATUSES = ("PLACED", "SHIPPED", "CANCELLED")
EVENT_TYPES = {"PLACED": "OrderPlaced", "SHIPPED": "OrderShipped", "CANCELLED": "OrderCancelled"}
# Which status may follow which: shipped orders cannot be cancelled here, and
# cancelled ones cannot ship.
_TRANSITIONS = {"PLACED": {"SHIPPED", "CANCELLED"}, "SHIPPED": set(), "CANCELLED": set()}
TOPIC = "orders"
GROUP = "order-history"


def _check_publish(publish: str) -> None:
    if publish not in PUBLISH_MODES:
        raise ConfigurationError(f"publish={publish!r} is not known; use one of {PUBLISH_MODES}")


# ------------------------------------------------------------------ command side
class OrderCommandBase(SQLModel, registry=registry()):
    """Tables the order (command) service owns."""


class CommandOrder(OrderCommandBase, table=True):
    """An order as the command side keeps it; ``version`` grows with every change."""

    __tablename__ = "orders"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(index=True)
    customer_name: str
    total: float
    status: str = "PLACED"
    version: int = 1
    committed_at: float


class OutboxRow(OrderCommandBase, table=True):
    """An event waiting to be published (``published_at`` is None) or already sent."""

    __tablename__ = "outbox"
    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True)
    order_id: int = Field(index=True)
    type: str
    payload: dict = Field(sa_type=sa.JSON)
    created_at: float
    published_at: float | None = Field(default=None, index=True)


class PlaceOrder(BaseModel):
    """The body of ``POST /orders`` on the command side."""

    customer_id: int = PydanticField(ge=1)
    customer_name: str = PydanticField(min_length=1, max_length=100)
    total: float = PydanticField(gt=0, le=100_000)


class RelayBody(BaseModel):
    """The body of ``POST /outbox/relay``."""

    max: int = PydanticField(default=100, ge=1, le=10_000, description="most events to publish in this round")
    wait: float = PydanticField(default=0.0, ge=0, le=30, description="seconds to wait for a first event")


def _order_dict(o: CommandOrder) -> dict[str, Any]:
    return {"id": o.id, "customer_id": o.customer_id, "customer_name": o.customer_name, "total": o.total,
            "status": o.status, "version": o.version, "committed_at": o.committed_at}


# Each opening of a command database is a new epoch: an in-memory database
# that restarts numbers its orders from 1 again, and its events must not be
# taken for the old ones by a consumer that remembers event ids.
_EPOCHS = itertools.count(1)


def _event(o: CommandOrder, epoch: int) -> dict[str, Any]:
    return {"event_id": f"e{epoch}-order-{o.id}-v{o.version}", "type": EVENT_TYPES[o.status], "order_id": o.id,
            "version": o.version, "committed_at": o.committed_at, "order": _order_dict(o)}


def _stats(rows: list[tuple[str, int, float]]) -> dict[str, Any]:
    """Counts and sums per status from (status, count, total) rows: both sides answer this shape."""
    by_status = {s: 0 for s in ORDER_STATUSES}
    orders, total = 0, 0.0
    for status, n, t in rows:
        by_status[status] = int(n)
        orders += int(n)
        total += float(t or 0.0)
    return {"orders": orders, "total": round(total, 2), **by_status}


def order_command_app(publish: str = "outbox", *, clock: Clock | None = None, topic: str = TOPIC):
    """The order service (command side) with ``publish="outbox"`` or ``"direct"``.

    ``POST /orders``, ``POST /orders/{id}/ship``, ``POST /orders/{id}/cancel``
    change state; ``GET /orders``, ``GET /orders/{id}``, ``GET /orders/stats``
    read it; ``POST /outbox/relay`` and ``GET /outbox`` run and show the
    outbox; ``GET /events`` is the event feed (outbox mode only).
    """
    _check_publish(publish)
    clock = clock or MonotonicClock()
    epoch = {"n": 0}

    def new_epoch(_db: Any) -> None:
        epoch["n"] = next(_EPOCHS)

    db = service_database("orders", OrderCommandBase.metadata, setup=new_epoch)
    app = data_service("orders", db, description=f"Order commands; events published by {publish}.")
    app.state.publish = publish
    new_event = asyncio.Event()  # wakes a waiting relay (one per instance)
    relay_lock = asyncio.Lock()  # one relay round at a time, so rows go out in order

    async def record(request: Request, order: CommandOrder, s: Any) -> None:
        """Save the order's change and its event: one transaction (outbox) or two writes (direct)."""
        event = _event(order, epoch["n"])
        if publish == "outbox":
            s.add(OutboxRow(event_id=event["event_id"], order_id=order.id, type=event["type"], payload=event,
                            created_at=order.committed_at))
            s.commit()
            new_event.set()
            return
        s.commit()
        try:
            await HttpBrokerClient(http(request), "http://broker.svc").publish(
                topic, event, key=f"order-{order.id}", message_id=event["event_id"])
        except (httpx.HTTPError, LabsvcError) as exc:
            # The order is committed; its event is not. Nothing will ever send it.
            raise Problem(503, "Event not published", type=problem_type("event-not-published"),
                          detail=f"order {order.id} was saved but its {event['type']} event could not be "
                                 f"published ({type(exc).__name__})", order_id=order.id) from None

    @app.post("/orders", status_code=201)
    async def place(body: PlaceOrder, request: Request) -> dict[str, Any]:
        with db.session() as s:
            order = CommandOrder(customer_id=body.customer_id, customer_name=body.customer_name,
                                 total=round(body.total, 2), committed_at=0.0)
            s.add(order)
            s.flush()  # assigns the id inside the transaction
            order.committed_at = clock.now()
            await record(request, order, s)
            return _order_dict(order)

    async def change(order_id: int, status: str, request: Request) -> dict[str, Any]:
        with db.session() as s:
            order = s.get(CommandOrder, order_id)
            if order is None:
                raise Problem(404, "Order not found", type=problem_type("not-found"), detail=f"no order with id {order_id}")
            if status not in _TRANSITIONS[order.status]:
                raise Problem(409, "Not allowed now", type=problem_type("invalid-transition"),
                              detail=f"order {order_id} is {order.status}; it cannot become {status}")
            order.status = status
            order.version += 1
            order.committed_at = clock.now()
            s.add(order)
            await record(request, order, s)
            return _order_dict(order)

    @app.post("/orders/{order_id}/ship")
    async def ship(order_id: int, request: Request) -> dict[str, Any]:
        return await change(order_id, "SHIPPED", request)

    @app.post("/orders/{order_id}/cancel")
    async def cancel(order_id: int, request: Request) -> dict[str, Any]:
        return await change(order_id, "CANCELLED", request)

    @app.get("/orders/stats")
    async def stats() -> dict[str, Any]:
        with db.session() as s:
            rows = s.exec(select(CommandOrder.status, func.count(), func.sum(CommandOrder.total))
                          .group_by(CommandOrder.status)).all()
        return _stats(rows)

    @app.get("/orders")
    async def list_orders() -> list[dict[str, Any]]:
        with db.session() as s:
            return [_order_dict(o) for o in s.exec(select(CommandOrder).order_by(CommandOrder.id)).all()]

    @app.get("/orders/{order_id}")
    async def get_order(order_id: int) -> dict[str, Any]:
        with db.session() as s:
            order = s.get(CommandOrder, order_id)
        if order is None:
            raise Problem(404, "Order not found", type=problem_type("not-found"), detail=f"no order with id {order_id}")
        return _order_dict(order)

    @app.get("/outbox")
    async def outbox() -> dict[str, Any]:
        with db.session() as s:
            pending = s.exec(select(func.count()).where(col(OutboxRow.published_at).is_(None))).one()
            total = s.exec(select(func.count()).select_from(OutboxRow)).one()
        return {"pending": int(pending), "published": int(total - pending)}

    @app.post("/outbox/relay")
    async def relay(request: Request, body: RelayBody | None = None) -> dict[str, Any]:
        body = body or RelayBody()
        broker = HttpBrokerClient(http(request), "http://broker.svc")
        published = 0
        async with relay_lock:
            rows = _pending(db, body.max)
            if not rows and body.wait > 0:
                new_event.clear()
                if not _pending(db, 1):
                    try:
                        async with asyncio.timeout(body.wait):
                            await new_event.wait()
                    except TimeoutError:
                        pass
                rows = _pending(db, body.max)
            for row in rows:
                try:
                    await broker.publish(topic, row.payload, key=f"order-{row.order_id}", message_id=row.event_id)
                except (httpx.HTTPError, LabsvcError) as exc:
                    raise Problem(503, "Broker unavailable", type=problem_type("dependency-unavailable"),
                                  detail=f"published {published} event(s), then: {type(exc).__name__}; the rest "
                                         f"stay in the outbox for the next round", published=published) from None
                # A crash right here publishes this row again next round: consumers dedupe by event id.
                with db.session() as s:
                    s.exec(sa.update(OutboxRow).where(OutboxRow.seq == row.seq).values(published_at=clock.now()))
                    s.commit()
                published += 1
        return {"published": published, "pending": len(_pending(db, 10_000))}

    @app.get("/events")
    async def events(after: int = 0, limit: int = 500) -> dict[str, Any]:
        if publish != "outbox":
            raise Problem(404, "No event feed", type=problem_type("no-event-feed"),
                          detail="this order service publishes directly and keeps no outbox, so it has no event feed")
        with db.session() as s:
            rows = s.exec(select(OutboxRow).where(OutboxRow.seq > after).order_by(OutboxRow.seq).limit(limit)).all()
        return {"events": [r.payload for r in rows], "last": rows[-1].seq if rows else after}

    return app


def _pending(db: Any, limit: int) -> list[OutboxRow]:
    with db.session() as s:
        return list(s.exec(select(OutboxRow).where(col(OutboxRow.published_at).is_(None))
                           .order_by(OutboxRow.seq).limit(limit)).all())


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


class PollBody(BaseModel):
    """The body of ``POST /projection/poll``."""

    max: int = PydanticField(default=50, ge=1, le=1000, description="most events to take in this round")
    wait: float = PydanticField(default=0.0, ge=0, le=30, description="seconds to wait for a first event")
    lease: float = PydanticField(default=5.0, gt=0, description="seconds before an unacked event comes back")


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
        body = body or PollBody()
        broker = HttpBrokerClient(http(request), "http://broker.svc")
        applied = duplicates = 0
        try:
            deliveries = await broker.pull(topic, group, consumer=instance_name(request), max=body.max,
                                           lease=body.lease, wait=body.wait)
            for d in deliveries:
                if await consumer.ahandle(d, lambda m: apply(m.payload)):
                    applied += 1
                else:
                    duplicates += 1
        except (httpx.HTTPError, LabsvcError) as exc:
            raise Problem(503, "Broker unavailable", type=problem_type("dependency-unavailable"),
                          detail=f"applied {applied} event(s), then: {type(exc).__name__}; unacknowledged "
                                 f"events come back after their lease") from None
        return {"pulled": len(deliveries), "applied": applied, "duplicates": duplicates}

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


# ------------------------------------------------------------------ the system
@dataclass
class Convergence:
    """Whether the read model caught up with the command side, and how long it took.

    ``seconds`` counts from the call (the end of the load) to the first
    moment both sides answered the same stats; ``stats`` is the last
    comparison (one row per side).
    """

    converged: bool
    seconds: float
    checks: int
    stats: pd.DataFrame


def lag_summary(lag: pd.DataFrame) -> pd.Series:
    """Events, and the read model's lag in ms: p50, p90, p99, max."""
    ms = lag["lag_ms"] if len(lag) else pd.Series(dtype=float)
    out = {"events": float(len(lag))}
    for p in (50, 90, 99):
        out[f"p{p}_ms"] = float(ms.quantile(p / 100)) if len(ms) else math.nan
    out["max_ms"] = float(ms.max()) if len(ms) else math.nan
    return pd.Series(out, name="read-model lag")


class CqrsShop:
    """The command side, a broker and the read model on one network, with their pumps.

    >>> shop = CqrsShop(publish="outbox", seed=1, name="cqrs-demo")      # doctest: +SKIP
    >>> async with shop:                                                  # doctest: +SKIP
    ...     shop.start_pumps()
    ...     run = await shop.load(rate=200, duration="1s")
    ...     report = await shop.converge()
    ...     lag = await shop.lag()

    ``clock`` is the time both services stamp events with (a
    :class:`~labsvc.clock.FakeClock` in tests). ``broker_latency`` is added
    to every hop to the broker, as if it ran on another machine.
    Without running pumps, :meth:`drain` moves every pending event through
    relay and projector, one round at a time.
    """

    def __init__(
        self,
        *,
        publish: str = "outbox",
        seed: int = 0,
        name: str = "cqrs",
        fields: Fields | None = None,
        clock: Clock | None = None,
        broker_clock: Clock | None = None,
        broker_latency: float | str | None = None,
        lease: float | str = "1s",
        batch: int = 50,
        wait: float = 0.2,
    ) -> None:
        _check_publish(publish)
        self.publish = publish
        self.seed = seed
        self.clock: Clock = clock or MonotonicClock()
        self._fields = _check_fields(fields)
        self.broker = Broker(clock=broker_clock, lease=lease)
        self.lease = parse_duration(lease, name="lease")
        self.net = Network(seed=seed, name=name)
        self.net.add("broker", broker_app(self.broker))
        self.net.add("orders", lambda: order_command_app(publish, clock=self.clock))
        self.net.add("order-history", lambda: order_history_app(fields=self._fields, clock=self.clock))
        self.broker_latency = broker_latency
        self.relay = Pump(self.net, "http://orders.svc/outbox/relay", caller="outbox-relay",
                          body={"max": batch, "wait": wait},
                          done=lambda a: a["published"] == 0)
        self.projector = Pump(self.net, "http://order-history.svc/projection/poll", caller="projector",
                              body={"max": batch, "wait": wait, "lease": self.lease},
                              done=lambda a: a["pulled"] == 0)
        self.load_started: float | None = None
        self.load_ended: float | None = None

    # -- life cycle ------------------------------------------------------
    async def start(self) -> "CqrsShop":
        """Start the network and declare the read model's consumer group (before any event exists)."""
        await self.net.start()
        await HttpBrokerClient(self.net.client("order-history"), "http://broker.svc").declare(TOPIC, GROUP)
        if self.broker_latency is not None:
            self.net.fault("broker", latency=self.broker_latency)
        return self

    def start_pumps(self) -> None:
        """Run relay (outbox mode) and projector in the background."""
        if self.publish == "outbox":
            self.relay.start()
        self.projector.start()

    async def stop_pumps(self) -> None:
        """Stop the relay and the projector loops (the network keeps running)."""
        await self.relay.stop()
        await self.projector.stop()

    async def stop(self) -> None:
        """Stop the pumps, then the network."""
        await self.stop_pumps()
        await self.net.stop()

    async def __aenter__(self) -> "CqrsShop":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -- commands --------------------------------------------------------
    def order_body(self, i: int) -> dict[str, Any]:
        """The seeded body of order ``i``."""
        rng = random.Random(f"cqrs/{self.seed}/{i}")
        customer = rng.randrange(len(CUSTOMER_NAMES))
        return {"customer_id": customer + 1, "customer_name": CUSTOMER_NAMES[customer],
                "total": round(rng.uniform(5, 200), 2)}

    def follow_up(self, i: int, ship_share: float, cancel_share: float) -> str | None:
        """What happens to order ``i`` after it is placed: ``"ship"``, ``"cancel"`` or nothing (seeded)."""
        x = random.Random(f"cqrs-follow/{self.seed}/{i}").random()
        return "ship" if x < ship_share else ("cancel" if x < ship_share + cancel_share else None)

    async def place(self, i: int, *, ship_share: float = 0.0, cancel_share: float = 0.0,
                    client: Any = None) -> httpx.Response:
        """Place order ``i`` (and ship or cancel it, seeded); returns the last response."""
        client = client or self.net.client("frontend")
        r = await client.post("http://orders.svc/orders", json=self.order_body(i))
        action = self.follow_up(i, ship_share, cancel_share)
        if r.status_code == 201 and action is not None:
            r = await client.post(f"http://orders.svc/orders/{r.json()['id']}/{action}")
        return r

    async def load(self, *, rate: float, duration: float | str | None = None, requests: int | None = None,
                   ship_share: float = 0.3, cancel_share: float = 0.1,
                   on_request: Callable[[int], None] | None = None) -> LoadRun:
        """Open-loop load on the command side: order ``i`` is due at ``i / rate``.

        ``on_request(i)`` runs just before request ``i`` is sent (to inject a
        fault at a given point of the run).
        """

        async def one(client: Any, i: int) -> httpx.Response:
            if on_request is not None:
                on_request(i)
            return await self.place(i, ship_share=ship_share, cancel_share=cancel_share, client=client)

        self.load_started = self.clock.now()
        run = await open_loop(self.net, one, rate=rate, duration=duration, requests=requests, caller="frontend",
                              progress=False)
        self.load_ended = self.clock.now()
        return run

    # -- observing -------------------------------------------------------
    async def _get(self, url: str) -> Any:
        r = await self.net.client("observer").get(url)
        if r.status_code >= 400:
            raise LabsvcError(f"GET {url} answered {r.status_code}: {r.text}")
        return r.json()

    async def stats(self) -> pd.DataFrame:
        """Counts and sums of both sides, one row each (``side`` = ``command`` / ``query``)."""
        command, query = await asyncio.gather(self._get("http://orders.svc/orders/stats"),
                                              self._get("http://order-history.svc/order-views/stats"))
        return pd.DataFrame([{"side": "command", **command}, {"side": "query", **query}])

    async def orders(self) -> pd.DataFrame:
        """Every order as the command side has it."""
        return pd.DataFrame(await self._get("http://orders.svc/orders"))

    async def views(self) -> pd.DataFrame:
        """Every row of the read model."""
        return pd.DataFrame(await self._get("http://order-history.svc/order-views"))

    async def lag(self) -> pd.DataFrame:
        """One row per applied event: committed on the command side, visible in the read model, and the lag.

        ``t`` is the commit time in seconds since the load started.
        """
        df = pd.DataFrame(await self._get("http://order-history.svc/projection/events"),
                          columns=["event_id", "type", "order_id", "version", "committed_at", "visible_at",
                                   "changed_view"])
        df["lag_ms"] = (df["visible_at"] - df["committed_at"]) * 1000
        origin = self.load_started if self.load_started is not None else (df["committed_at"].min() if len(df) else 0.0)
        df["t"] = df["committed_at"] - origin
        return df.sort_values("committed_at", ignore_index=True)

    async def idle(self) -> bool:
        """True when nothing is on its way: outbox empty, no event ready or in flight at the broker."""
        outbox = await self._get("http://orders.svc/outbox")
        broker = pd.DataFrame(await self._get("http://broker.svc/stats"))
        mine = broker[(broker["topic"] == TOPIC) & (broker["group"] == GROUP)] if len(broker) else broker
        queued = int((mine["ready"] + mine["in_flight"]).sum()) if len(mine) else 0
        return outbox["pending"] == 0 and queued == 0

    async def converge(self, *, deadline: float | str = "5s", every: float | str = "5ms") -> Convergence:
        """Compare both sides until they agree, the pipeline is idle but they still differ, or ``deadline``.

        A bounded loop that yields to the event loop between checks (so the
        pumps keep working); it never waits longer than ``deadline``.
        """
        limit = parse_duration(deadline, name="deadline")
        pause = parse_duration(every, name="every")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        checks = 0
        idle_checks = 0
        while True:
            stats = await self.stats()
            checks += 1
            same = stats.drop(columns="side").iloc[0].equals(stats.drop(columns="side").iloc[1])
            elapsed = loop.time() - t0
            if same:
                return Convergence(True, elapsed, checks, stats)
            # Idle yet different, several times in a row: nothing will ever fix it.
            idle_checks = idle_checks + 1 if await self.idle() else 0
            if idle_checks >= 3 or elapsed >= limit:
                return Convergence(False, elapsed, checks, stats)
            await asyncio.sleep(pause)

    async def drain(self, *, max_rounds: int = 1000) -> dict[str, int]:
        """Move every pending event through relay and projector (pumps must be stopped).

        Deterministic: rounds without waiting, until the outbox is empty and
        the broker has nothing ready for the read model.
        """
        if self.relay.running or self.projector.running:
            raise ConfigurationError("stop the pumps (await shop.stop_pumps()) before draining by hand")
        relayed = await self.relay.drain(max_rounds=max_rounds, wait=0.0) if self.publish == "outbox" else 0
        projected = await self.projector.drain(max_rounds=max_rounds, wait=0.0)
        return {"relay_rounds": relayed, "projector_rounds": projected}

    async def redeploy_read_model(self, fields: Fields | None = None) -> dict[str, Any]:
        """Ship a new read model (with ``fields``) and rebuild it from the event feed.

        The new instance starts with an empty database, replays every event
        from ``GET http://orders.svc/events`` and then keeps consuming the
        broker (events it already replayed come again and are skipped).
        """
        if self.publish != "outbox":
            raise ConfigurationError("only the outbox design keeps an event feed to rebuild from; use publish='outbox'")
        self._fields = _check_fields(fields)
        await self.net.restart("order-history")
        r = await self.net.client("operator").post("http://order-history.svc/projection/rebuild")
        if r.status_code >= 400:
            raise LabsvcError(f"rebuild failed: {r.status_code} {r.text}")
        return r.json()

    def __repr__(self) -> str:
        return f"<CqrsShop publish={self.publish!r} network={self.net.name!r}>"


# ------------------------------------------------------------------ outbox vs direct
@dataclass
class OutboxResult:
    """One row per design (``table``) and the runs behind it (``runs``, ``convergence``)."""

    table: pd.DataFrame
    runs: dict[str, LoadRun]
    convergence: dict[str, Convergence]


async def outbox_experiment(*, orders: int = 150, rate: float = 300, outage: tuple[float, float] = (0.3, 0.6),
                            seed: int = 0, name: str = "cqrs-outbox") -> OutboxResult:
    """Place ``orders`` with each design while the broker is down for part of the run.

    The broker goes down just before order ``outage[0] * orders`` is sent
    and comes back before order ``outage[1] * orders``. Then each design is
    given the chance to converge. ``table`` columns: ``publish``,
    ``requested``, ``accepted`` (answered 2xx), ``failed``, ``command_orders``
    (what the order database holds), ``read_model_orders``, ``missing``
    (orders the read model will never see), ``converged``.
    """
    lo, hi = int(outage[0] * orders), int(outage[1] * orders)
    if not 0 <= lo < hi <= orders:
        raise ConfigurationError(f"outage={outage!r} must be two fractions 0 <= start < end <= 1")
    rows, runs, reports = [], {}, {}
    for publish in PUBLISH_MODES:
        shop = CqrsShop(publish=publish, seed=seed, name=f"{name}-{publish}")
        async with shop:
            shop.start_pumps()

            def outage_at(i: int) -> None:
                if i == lo:
                    shop.net.fault("broker", down=True)
                elif i == hi:
                    shop.net.clear_faults("broker")

            run = await shop.load(rate=rate, requests=orders, ship_share=0.0, cancel_share=0.0, on_request=outage_at)
            shop.net.clear_faults("broker")
            report = await shop.converge(deadline="3s")
            stats = report.stats.set_index("side")
        accepted = int(run.df["ok"].sum())
        rows.append({"publish": publish, "requested": orders, "accepted": accepted, "failed": orders - accepted,
                     "command_orders": int(stats.loc["command", "orders"]),
                     "read_model_orders": int(stats.loc["query", "orders"]),
                     "missing": int(stats.loc["command", "orders"] - stats.loc["query", "orders"]),
                     "converged": report.converged})
        runs[publish], reports[publish] = run, report
    return OutboxResult(pd.DataFrame(rows), runs, reports)
