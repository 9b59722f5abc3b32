"""The order flow of notebook 07: orders -> payment -> notification, as a REST chain or through a broker.

:class:`OrderFlow` builds the three services (and, for the ``"async"``
style, the broker) on a network of its own; the consumers inside payment and
notification pull their messages over HTTP. The experiments that run it are
in :mod:`labsvc.messaging._lab_flow`; both are re-exported by
:mod:`labsvc.messaging.lab`.

Payment keeps its ledger of charges in its own SQLite database, a file in a
directory the flow creates when it starts and removes when it stops, so the
ledger survives a crash and restart of the payment instance (its memory
does not). Where payment's consumer remembers the messages it applied is
the flow's ``inbox``: ``"memory"`` (:class:`IdempotentConsumer`) or
``"database"`` (:class:`DurableIdempotentConsumer`, an inbox table in that
same database, written in the charge's transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
from pathlib import Path
from typing import Any, Iterable

import httpx
import pandas as pd
import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from labsvc.core.errors import ConfigurationError, LabsvcError
from labsvc.messaging import Broker, DurableIdempotentConsumer, HttpBrokerClient, IdempotentConsumer, broker_app
from labsvc.messaging import inbox_table
from labsvc.core.network import Network
from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import create_service, http
from labsvc.core.experiment import NetworkClock, instance_of, seconds
from labsvc.core.simtime import network_methods

STYLES = ("sync", "async")
#: The services of the flow, in the order an order passes them.
FLOW = ("orders", "payment", "notification")
BROKER_URL = "http://broker.svc"
# (topic, consumer group) pairs; declared when the flow is built, like a
# RabbitMQ definitions file, so no message is published before its queue exists.
QUEUES = (("orders", "payment"), ("payments", "notification"))
#: Where payment's consumer remembers the messages it applied (with ``idempotent=True``).
INBOXES = ("memory", "database")

#: Payment's own tables: the ledger (one row per charge) and the inbox of the durable consumer.
PAYMENT_TABLES = sa.MetaData()
LEDGER = sa.Table(
    "ledger", PAYMENT_TABLES,
    sa.Column("charge_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.Integer, nullable=False),
    sa.Column("amount", sa.Float, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)
inbox_table(PAYMENT_TABLES)


class OrderIn(BaseModel):
    """An order as the services exchange it (``submitted_at`` is when the user sent it, network seconds)."""

    order_id: int = Field(ge=1)
    customer: str = Field(min_length=1)
    amount: float
    submitted_at: float = 0.0


class PoisonMessage(ValueError):
    """A message no retry can fix (here: an order whose amount is not positive)."""


@network_methods
class OrderFlow:
    """order -> payment -> notification on a network of its own, ``"sync"`` or ``"async"``.

    ``work`` is each service's own processing time per order. For the async
    flow: ``lease`` is how long a pulled message may stay unacknowledged
    before the broker hands it out again, ``max_deliveries`` how often before
    it is dead-lettered, ``idempotent`` whether payment remembers the orders
    it already charged and ``inbox`` where (:data:`INBOXES`), and
    ``crash_before_ack`` the (seeded) share of deliveries whose consumer does
    the work but whose acknowledgement is lost (it never reaches the broker).
    ``crash_at`` lists orders whose first charge is followed by a real crash
    of the payment instance, before the ack: the instance stops at once,
    loses its memory and is restarted ``restart_after`` later, with its
    database intact.
    """

    def __init__(
        self,
        style: str = "sync",
        *,
        seed: int = 0,
        name: str | None = None,
        work: float | str = "2ms",
        timeout: float | str = "1s",
        lease: float | str = "0.3s",
        max_deliveries: int = 5,
        idempotent: bool = True,
        inbox: str = "memory",
        crash_before_ack: float = 0.0,
        crash_at: Iterable[int] = (),
        restart_after: float | str = "0.2s",
    ) -> None:
        if style not in STYLES:
            raise ConfigurationError(f"style={style!r} is not known; use one of {STYLES}")
        if inbox not in INBOXES:
            raise ConfigurationError(f"inbox={inbox!r} is not known; use one of {INBOXES}")
        if not 0.0 <= crash_before_ack <= 1.0:
            raise ConfigurationError(f"crash_before_ack={crash_before_ack!r} is a share of deliveries in [0, 1]")
        self.crash_at = frozenset(crash_at)
        if self.crash_at and style != "async":
            raise ConfigurationError("crash_at crashes payment's consumer between charge and ack: use style='async'")
        self.restart_after = seconds(restart_after, "restart_after")
        self.crashes: list[dict] = []  # one row per crash: order_id, instance, at
        self.style = style
        self.seed = seed
        self.work = seconds(work, "work")
        self.timeout = seconds(timeout, "timeout")
        self.idempotent = bool(idempotent)
        self.inbox = inbox
        self.crash_before_ack = float(crash_before_ack)
        self._data: tempfile.TemporaryDirectory | None = None
        self.net = Network(seed=seed, name=name or f"flow-{style}")
        self.clock = NetworkClock(self.net)
        self.broker: Broker | None = None
        if style == "async":
            self.broker = Broker(lease=lease, max_deliveries=max_deliveries)
            for topic, group in QUEUES:
                self.broker.declare(topic, group)
            self.net.add("broker", broker_app(self.broker))
        self.net.add("orders", lambda: _orders_app(self))
        self.net.add("payment", lambda: _payment_app(self))
        self.net.add("notification", lambda: _notification_app(self))

    # -- life cycle ------------------------------------------------------
    async def start(self) -> OrderFlow:
        """Start every service (and the broker): consumers begin pulling."""
        if self._data is None:
            self._data = tempfile.TemporaryDirectory(prefix="labsvc-flow-")
        await self.net.start()
        return self

    async def stop(self) -> None:
        """Stop everything; consumers leave their groups cleanly; the services' databases are deleted."""
        try:
            await self.net.stop()
        finally:
            if self._data is not None:
                self._data.cleanup()
                self._data = None

    def database_url(self, service: str) -> str:
        """The SQLite URL of ``service``'s own database (a file that outlives a restart, not the flow)."""
        if self._data is None:
            raise ConfigurationError("the flow's databases exist while it runs: start the flow first")
        return f"sqlite:///{Path(self._data.name) / f'{service}.db'}"

    async def __aenter__(self) -> OrderFlow:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -- using it ----------------------------------------------------------
    async def place(self, client: Any, order_id: int, *, amount: float = 10.0, customer: str | None = None) -> httpx.Response:
        """Post order ``order_id`` to the orders service as ``client``'s caller."""
        body = {"order_id": order_id, "customer": customer or f"customer-{order_id % 5}",
                "amount": amount, "submitted_at": self.net.now()}
        return await client.post("http://orders.svc/orders", json=body)

    async def drain(self, within: float | str = "2s", orders: set[int] | None = None) -> float:
        """Wait until nothing is queued and ``orders`` (if given) are notified, at most ``within``.

        Returns the seconds it took. The synchronous flow is done as soon as
        its requests have returned, so it returns 0 at once.
        """
        return await _settle(self, orders or set(), seconds(within, "within"))

    def backlog(self) -> pd.DataFrame:
        """Messages waiting (ready) or being worked on (in flight) per queue, now."""
        if self.broker is None:
            return pd.DataFrame(columns=["topic", "group", "ready", "in_flight", "backlog"])
        stats = self.broker.stats()[["topic", "group", "ready", "in_flight"]]
        return stats.assign(backlog=stats["ready"] + stats["in_flight"])

    async def notifications(self, caller: str = "observer") -> pd.DataFrame:
        """The notifications sent so far, fetched from the notification service over HTTP."""
        r = await self.net.client(caller).get("http://notification.svc/notifications")
        return pd.DataFrame(r.json(), columns=["order_id", "at", "deliveries"])

    async def payments(self, caller: str = "observer") -> dict[str, Any]:
        """The payment service's ledger (one row per charge) and consumer counters, over HTTP."""
        data = (await self.net.client(caller).get("http://payment.svc/payments")).json()
        ledger = pd.DataFrame(data["ledger"], columns=["order_id", "amount", "at"])
        return {"ledger": ledger, "duplicates_skipped": data["duplicates_skipped"]}

    async def dead_letters(self, caller: str = "observer") -> pd.DataFrame:
        """Messages the payment group gave up on, asked of the broker over HTTP."""
        columns = ["message_id", "order_id", "amount", "reason", "delivery_count"]
        if self.broker is None:
            return pd.DataFrame(columns=columns)
        bus = HttpBrokerClient(self.net.client(caller), BROKER_URL)
        rows = [{"message_id": d["message"]["id"], "order_id": d["message"]["payload"].get("order_id"),
                 "amount": d["message"]["payload"].get("amount"), "reason": d["reason"],
                 "delivery_count": d["delivery_count"]} for d in await bus.dead_letters("orders", "payment")]
        return pd.DataFrame(rows, columns=columns)

    def __repr__(self) -> str:
        return f"<OrderFlow {self.style} on {self.net!r}>"


# -- the three services ----------------------------------------------------------

def _orders_app(flow: OrderFlow):
    app = create_service("orders", description="takes orders from users")
    placed: dict[int, dict] = {}

    @app.post("/orders", status_code=201)
    async def place(order: OrderIn, request: Request):
        await asyncio.sleep(flow.work)
        placed[order.order_id] = order.model_dump()
        client = http(request, timeout=flow.timeout)
        if flow.style == "sync":
            try:
                r = await client.post("http://payment.svc/payments", json=order.model_dump())
            except httpx.HTTPError as exc:
                raise Problem(503, "Payment unavailable", type=problem_type("dependency-unavailable"),
                              detail=f"the order could not be paid now ({type(exc).__name__}); try again later")
            if r.status_code >= 400:
                raise Problem(503 if r.status_code >= 500 else r.status_code, "Payment failed",
                              type=problem_type("payment-failed"), detail=r.json().get("detail", ""))
            return {"order_id": order.order_id, "status": "completed"}
        try:
            await HttpBrokerClient(client, BROKER_URL).publish(
                "orders", order.model_dump(), key=order.customer, message_id=f"order-{order.order_id}")
        except (httpx.HTTPError, LabsvcError) as exc:
            raise Problem(503, "Broker unavailable", type=problem_type("dependency-unavailable"),
                          detail=f"the order could not be queued ({type(exc).__name__}); try again later")
        return JSONResponse({"order_id": order.order_id, "status": "accepted"}, status_code=202)

    return app


def _charge(flow: OrderFlow, conn: sa.Connection, order: dict) -> None:
    """Write one charge to payment's ledger through ``conn`` (an open transaction)."""
    if not order.get("amount", 0) > 0:
        raise PoisonMessage(f"order {order.get('order_id')} has amount {order.get('amount')!r}; nothing to charge")
    conn.execute(LEDGER.insert().values(order_id=order["order_id"], amount=order["amount"], at=flow.clock.now()))


def _payment_inbox(flow: OrderFlow, engine: sa.Engine) -> IdempotentConsumer | DurableIdempotentConsumer:
    """Payment's consumer of ``orders`` messages, remembering applied ids in memory or in the database."""
    if flow.idempotent and flow.inbox == "database":
        # the charge and the inbox row commit in one transaction
        return DurableIdempotentConsumer(engine, lambda conn, m: _charge(flow, conn, m.payload),
                                         metadata=PAYMENT_TABLES)

    def charge(message: Any) -> None:
        with engine.begin() as conn:  # the charge commits on its own; the id is remembered in memory
            _charge(flow, conn, message.payload)

    return IdempotentConsumer(charge)


def _payment_app(flow: OrderFlow):
    state: dict[str, Any] = {}  # engine and inbox, opened by the lifespan: a restart opens them again

    @contextlib.asynccontextmanager
    async def lifespan(app):
        engine = sa.create_engine(flow.database_url("payment"))
        PAYMENT_TABLES.create_all(engine)
        state["engine"], state["inbox"] = engine, _payment_inbox(flow, engine)
        task = None
        if flow.style == "async":
            me = instance_of(flow.net, "payment", app)
            task = asyncio.get_running_loop().create_task(_payment_consumer(flow, state["inbox"], me))
        try:
            yield
        finally:
            await _stop_consumer(flow, task, "payment", "orders", "payment", app)
            engine.dispose()

    app = create_service("payment", description="charges orders", lifespan=lifespan)

    @app.post("/payments", status_code=201)
    async def pay(order: OrderIn, request: Request):
        await asyncio.sleep(flow.work)
        if order.amount <= 0:
            raise Problem(422, "Nothing to charge", type=problem_type("invalid-amount"),
                          detail=f"order {order.order_id} has amount {order.amount}; it must be positive")
        with state["engine"].begin() as conn:
            _charge(flow, conn, order.model_dump())
        try:
            r = await http(request, timeout=flow.timeout).post(
                "http://notification.svc/notifications", json=order.model_dump())
        except httpx.HTTPError as exc:
            raise Problem(503, "Notification unavailable", type=problem_type("dependency-unavailable"),
                          detail=f"charged, but the customer could not be notified ({type(exc).__name__})")
        if r.status_code >= 400:
            raise Problem(503, "Notification failed", type=problem_type("dependency-unavailable"))
        return {"order_id": order.order_id, "status": "paid"}

    @app.get("/payments")
    async def payments():
        with state["engine"].connect() as conn:
            rows = conn.execute(sa.select(LEDGER.c.order_id, LEDGER.c.amount, LEDGER.c.at)
                                .order_by(LEDGER.c.charge_id)).mappings().all()
        return {"ledger": [dict(r) for r in rows], "duplicates_skipped": state["inbox"].duplicates}

    return app


def _notification_app(flow: OrderFlow):
    sent: dict[int, dict] = {}

    def record(order_id: int) -> None:
        row = sent.setdefault(order_id, {"order_id": order_id, "at": flow.clock.now(), "deliveries": 0})
        row["deliveries"] += 1

    inbox = IdempotentConsumer(lambda message: record(message.payload["order_id"]))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = None
        if flow.style == "async":
            me = instance_of(flow.net, "notification", app)
            task = asyncio.get_running_loop().create_task(_notification_consumer(flow, inbox, me))
        try:
            yield
        finally:
            await _stop_consumer(flow, task, "notification", "payments", "notification", app)

    app = create_service("notification", description="tells customers their order is paid", lifespan=lifespan)

    @app.post("/notifications", status_code=201)
    async def notify(order: OrderIn):
        await asyncio.sleep(flow.work)
        record(order.order_id)
        return {"order_id": order.order_id, "status": "sent"}

    @app.get("/notifications")
    async def notifications():
        return list(sent.values())

    return app


# -- the consumers (async style) ------------------------------------------------

PULL_BATCH = 10
PULL_WAIT = 0.05  # long poll: the broker answers as soon as a message arrives
BROKER_DOWN_BACKOFF = 0.02


async def _payment_consumer(flow: OrderFlow, inbox: IdempotentConsumer | DurableIdempotentConsumer, me: str) -> None:
    """Pull orders, charge each once, publish the payment, then acknowledge."""
    bus = HttpBrokerClient(flow.net.client("payment", caller_instance=me, timeout=flow.timeout), BROKER_URL)
    lost_acks = random.Random(f"{flow.seed}/{me}/crash-before-ack")
    while True:
        try:
            deliveries = await bus.pull("orders", "payment", consumer=me, max=PULL_BATCH, wait=PULL_WAIT)
        except (httpx.HTTPError, LabsvcError):
            await asyncio.sleep(BROKER_DOWN_BACKOFF)  # broker unreachable: try again shortly
            continue
        for d in deliveries:
            try:
                await asyncio.sleep(flow.work)
                if flow.idempotent:
                    inbox.process(d)
                else:
                    inbox.effect(d.message)  # a naive consumer: every delivery charges
                order = d.payload
                if await _crash_point(flow, order["order_id"], me):
                    return  # the process is gone: no publish, no ack, nothing more from this code
                # Publish on every delivery, duplicates included: the first
                # publish may be the one that was lost. The fixed message id
                # lets the next consumer drop the copies.
                await bus.publish("payments", {"order_id": order["order_id"], "amount": order["amount"]},
                                  key=d.key, message_id=f"payment-{order['order_id']}")
                if lost_acks.random() < flow.crash_before_ack:
                    continue  # did the work, the ack was lost: the lease runs out, it comes back
                await d.ack()
            except PoisonMessage:
                await _quietly(d.nack(requeue=True))  # the broker dead-letters it after max_deliveries
            except (httpx.HTTPError, LabsvcError):
                continue  # not acked: the lease brings it back


async def _crash_point(flow: OrderFlow, order_id: int, me: str) -> bool:
    """Crash the payment instance ``me`` here (charged, not acked) if ``order_id`` is due for it."""
    if order_id not in flow.crash_at or any(c["order_id"] == order_id for c in flow.crashes):
        return False
    flow.crashes.append({"order_id": order_id, "instance": me, "at": flow.clock.now()})
    # A process dying at this line: the platform restarts it after restart_after.
    await flow.net.crash(me, restart_after=flow.restart_after)
    return True


async def _notification_consumer(flow: OrderFlow, inbox: IdempotentConsumer, me: str) -> None:
    """Pull payments and notify each order once."""
    bus = HttpBrokerClient(flow.net.client("notification", caller_instance=me, timeout=flow.timeout), BROKER_URL)
    while True:
        try:
            deliveries = await bus.pull("payments", "notification", consumer=me, max=PULL_BATCH, wait=PULL_WAIT)
        except (httpx.HTTPError, LabsvcError):
            await asyncio.sleep(BROKER_DOWN_BACKOFF)
            continue
        for d in deliveries:
            try:
                await asyncio.sleep(flow.work)
                await inbox.ahandle(d)
            except (httpx.HTTPError, LabsvcError):
                continue


async def _quietly(coro: Any) -> None:
    with contextlib.suppress(httpx.HTTPError, LabsvcError):
        await coro


async def _stop_consumer(flow: OrderFlow, task: asyncio.Task | None, service: str, topic: str, group: str,
                         app: Any) -> None:
    """A clean shutdown: stop pulling, then leave the group so unacked messages go back at once."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    me = instance_of(flow.net, service, app)
    bus = HttpBrokerClient(flow.net.client(service, caller_instance=me), BROKER_URL)
    await _quietly(bus.leave(topic, group, me))


# -- waiting for the flow to catch up (OrderFlow.drain and the experiments) -------

async def _settle(flow: OrderFlow, accepted: set[int], limit: float) -> float:
    """Wait (at most ``limit`` s) until every accepted order is notified and no queue holds anything.

    This is part of the measurement: how long the asynchronous flow needs to
    catch up. The sync flow has nothing in flight once the load has ended.
    """
    if flow.style == "sync":
        return 0.0
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < limit:
        if int(flow.backlog()["backlog"].sum()) == 0:
            if not accepted or accepted <= set((await flow.notifications())["order_id"]):
                break
        await asyncio.sleep(0.01)
    return loop.time() - start
