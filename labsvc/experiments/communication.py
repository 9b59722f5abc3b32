"""Synchronous REST calls against messages through a broker (notebook 07).

One business flow, wired two ways:

- ``"sync"``: the user posts an order to **orders**, which calls **payment**
  over REST, which calls **notification**; the user's answer waits for the
  whole chain (201), and fails if any link is down (503);
- ``"async"``: **orders** publishes an ``orders`` message to the **broker**
  (a :func:`~labsvc.messaging.broker_app` service on the network) and
  answers 202 at once; a consumer inside **payment** pulls it over HTTP,
  charges the card, publishes to ``payments``, and acknowledges; a consumer
  inside **notification** pulls that and records the notification.

Every hop, the broker's included, goes through the network, so the call log
shows ``orders -> broker``, ``payment -> broker`` and so on. Consumers are
idempotent (:class:`~labsvc.messaging.IdempotentConsumer`), because a broker
that never loses a message sometimes delivers one twice.

>>> flow = OrderFlow("async", seed=1, name="doc-flow")      # doctest: +SKIP
>>> async with flow:                                         # doctest: +SKIP
...     r = await flow.place(flow.net.client("users"), 1, amount=12.5)
>>> r.status_code                                            # doctest: +SKIP
202

The experiments (:func:`outage_experiment`, :func:`compare_styles`,
:func:`delivery_experiment`) return dataclasses of tidy DataFrames; the
``plot_*`` functions draw them and return matplotlib Figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
from fastapi import Request
from fastapi.responses import JSONResponse
from matplotlib.figure import Figure
from pydantic import BaseModel, Field

from ..errors import ConfigurationError, LabsvcError
from ..load import LoadRun, open_loop
from ..messaging import Broker, HttpBrokerClient, IdempotentConsumer, broker_app
from ..network import Network
from ..problems import Problem, problem_type
from ..service import create_service, http
from ._common import NetworkClock, instance_of, run_schedule, seconds, shade

__all__ = [
    "STYLES",
    "FLOW",
    "OrderFlow",
    "FlowResult",
    "DeliveryResult",
    "outage_experiment",
    "compare_styles",
    "outage_summary",
    "delivery_experiment",
    "delivery_summary",
    "plot_completion",
    "plot_backlog",
]

STYLES = ("sync", "async")
#: The services of the flow, in the order an order passes them.
FLOW = ("orders", "payment", "notification")
BROKER_URL = "http://broker.svc"
# (topic, consumer group) pairs; declared when the flow is built, like a
# RabbitMQ definitions file, so no message is published before its queue exists.
QUEUES = (("orders", "payment"), ("payments", "notification"))


class OrderIn(BaseModel):
    """An order as the services exchange it (``submitted_at`` is when the user sent it, network seconds)."""

    order_id: int = Field(ge=1)
    customer: str = Field(min_length=1)
    amount: float
    submitted_at: float = 0.0


class PoisonMessage(ValueError):
    """A message no retry can fix (here: an order whose amount is not positive)."""


class OrderFlow:
    """order -> payment -> notification on a network of its own, ``"sync"`` or ``"async"``.

    ``work`` is each service's own processing time per order. For the async
    flow: ``lease`` is how long a pulled message may stay unacknowledged
    before the broker hands it out again, ``max_deliveries`` how often before
    it is dead-lettered, ``idempotent`` whether payment remembers the orders
    it already charged, and ``crash_before_ack`` the (seeded) share of
    deliveries whose consumer does the work but never acknowledges it, as if
    it crashed in between.
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
        crash_before_ack: float = 0.0,
    ) -> None:
        if style not in STYLES:
            raise ConfigurationError(f"style={style!r} is not known; use one of {STYLES}")
        if not 0.0 <= crash_before_ack <= 1.0:
            raise ConfigurationError(f"crash_before_ack={crash_before_ack!r} is a share of deliveries in [0, 1]")
        self.style = style
        self.seed = seed
        self.work = seconds(work, "work")
        self.timeout = seconds(timeout, "timeout")
        self.idempotent = bool(idempotent)
        self.crash_before_ack = float(crash_before_ack)
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
        await self.net.start()
        return self

    async def stop(self) -> None:
        """Stop everything; consumers leave their groups cleanly."""
        await self.net.stop()

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


def _charge_effect(flow: OrderFlow, ledger: list[dict]):
    async def charge(message: Any) -> None:
        order = message.payload
        await asyncio.sleep(flow.work)
        if not order.get("amount", 0) > 0:
            raise PoisonMessage(f"order {order.get('order_id')} has amount {order.get('amount')!r}; nothing to charge")
        ledger.append({"order_id": order["order_id"], "amount": order["amount"], "at": flow.clock.now()})

    return charge


def _payment_app(flow: OrderFlow):
    ledger: list[dict] = []
    inbox = IdempotentConsumer(_charge_effect(flow, ledger))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = None
        if flow.style == "async":
            me = instance_of(flow.net, "payment", app)
            task = asyncio.get_running_loop().create_task(_payment_consumer(flow, inbox, me))
        try:
            yield
        finally:
            await _stop_consumer(flow, task, "payment", "orders", "payment", app)

    app = create_service("payment", description="charges orders", lifespan=lifespan)

    @app.post("/payments", status_code=201)
    async def pay(order: OrderIn, request: Request):
        await asyncio.sleep(flow.work)
        if order.amount <= 0:
            raise Problem(422, "Nothing to charge", type=problem_type("invalid-amount"),
                          detail=f"order {order.order_id} has amount {order.amount}; it must be positive")
        ledger.append({"order_id": order.order_id, "amount": order.amount, "at": flow.clock.now()})
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
        return {"ledger": ledger, "duplicates_skipped": inbox.duplicates}

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


async def _payment_consumer(flow: OrderFlow, inbox: IdempotentConsumer, me: str) -> None:
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
                if flow.idempotent:
                    await inbox.aprocess(d)
                else:
                    await inbox.effect(d.message)  # a naive consumer: every delivery charges
                order = d.payload
                # Publish on every delivery, duplicates included: the first
                # publish may be the one that was lost. The fixed message id
                # lets the next consumer drop the copies.
                await bus.publish("payments", {"order_id": order["order_id"], "amount": order["amount"]},
                                  key=d.key, message_id=f"payment-{order['order_id']}")
                if lost_acks.random() < flow.crash_before_ack:
                    continue  # did the work, "crashed" before the ack: the lease runs out, it comes back
                await d.ack()
            except PoisonMessage:
                await _quietly(d.nack(requeue=True))  # the broker dead-letters it after max_deliveries
            except (httpx.HTTPError, LabsvcError):
                continue  # not acked: the lease brings it back


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


# -- experiments -----------------------------------------------------------------

@dataclass
class FlowResult:
    """What one run of the order flow produced.

    ``orders``: one row per order (submitted_at, status the user saw,
    accepted, completed_at, completion_latency in seconds, completed).
    ``backlog``: sampled queue depth over time (async only). ``load`` is the
    :class:`~labsvc.load.LoadRun`; ``calls`` the call log; ``events`` when
    the outage started and ended (network seconds).
    """

    style: str
    down: str | None
    orders: pd.DataFrame
    backlog: pd.DataFrame
    calls: pd.DataFrame
    events: pd.DataFrame
    load: LoadRun
    window: tuple[float | None, float | None] = (None, None)

    @property
    def lost(self) -> int:
        """Orders never completed."""
        return int((~self.orders["completed"]).sum())

    def summary(self) -> pd.Series:
        """One row of :func:`outage_summary`."""
        return outage_summary({self.style: self}).iloc[0]


async def _sample_backlog(flow: OrderFlow, rows: list[dict], every: float) -> None:
    while True:
        now = flow.net.now()
        for r in flow.backlog().to_dict("records"):
            rows.append({"time": now, **r})
        await asyncio.sleep(every)


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


async def outage_experiment(
    style: str,
    *,
    down: str | None = "payment",
    at: float | str = "0.6s",
    outage: float | str = "0.8s",
    rate: float = 40,
    duration: float | str = "2s",
    settle: float | str = "3s",
    seed: int = 0,
    sample_every: float | str = "20ms",
    name: str | None = None,
    **flow_options: Any,
) -> FlowResult:
    """Place orders at ``rate`` per second while ``down`` is stopped from ``at`` for ``outage``.

    ``down=None`` runs without an outage (the happy path). After the load,
    waits up to ``settle`` for the asynchronous flow to catch up, then
    reports every order's fate.
    """
    if down is not None and down not in FLOW:
        raise ConfigurationError(f"down={down!r} is not a service of the flow; use one of {FLOW} or None")
    at_s, outage_s, every = seconds(at, "at"), seconds(outage, "outage"), seconds(sample_every, "sample_every")
    flow = OrderFlow(style, seed=seed, name=name or f"outage-{style}", **flow_options)
    submitted: dict[int, float] = {}
    events: list[dict] = []
    backlog_rows: list[dict] = []

    async def send(client, i):
        submitted[i + 1] = flow.net.now()
        return await flow.place(client, i + 1, amount=10.0 + i % 7)

    async with flow:
        sampler = asyncio.get_running_loop().create_task(_sample_backlog(flow, backlog_rows, every))
        schedule = []
        if down is not None:
            target = f"{down}-1"
            schedule = [(at_s, f"{down} down", lambda: flow.net.stop_instance(target)),
                        (at_s + outage_s, f"{down} back", lambda: flow.net.start_instance(target))]
        try:
            run, _ = await asyncio.gather(
                open_loop(flow.net, send, rate=rate, duration=duration, caller="users", timeout=2.0, progress=False),
                run_schedule(flow.net, schedule, events),
            )
            accepted = {i + 1 for i, ok in zip(run.df["i"], run.df["ok"]) if ok}
            await _settle(flow, accepted, seconds(settle, "settle"))
        finally:
            sampler.cancel()
        now = flow.net.now()
        backlog_rows += [{"time": now, **r} for r in flow.backlog().to_dict("records")]  # the state at the end
        notified = await flow.notifications()
        calls = flow.net.calls

    orders = run.df[["i", "status", "latency", "ok"]].rename(columns={"ok": "accepted", "latency": "user_latency"})
    orders.insert(0, "order_id", orders.pop("i") + 1)
    orders.insert(1, "submitted_at", orders["order_id"].map(submitted))
    done = notified.drop_duplicates("order_id").set_index("order_id")["at"]
    orders["completed_at"] = orders["order_id"].map(done)
    orders["completed"] = orders["completed_at"].notna()
    orders["completion_latency"] = orders["completed_at"] - orders["submitted_at"]
    ev = pd.DataFrame(events, columns=["time", "event"])
    window = (float(ev["time"].iloc[0]), float(ev["time"].iloc[-1])) if len(ev) == 2 else (None, None)
    backlog = pd.DataFrame(backlog_rows, columns=["time", "topic", "group", "ready", "in_flight", "backlog"])
    return FlowResult(style, down, orders, backlog, calls, ev, run, window)


async def compare_styles(**options: Any) -> dict[str, FlowResult]:
    """:func:`outage_experiment` for both styles, side by side (each on its own network).

    The two runs share this event loop, so they run at the same time.
    """
    name = options.pop("name", None)
    results = await asyncio.gather(*(
        outage_experiment(style, name=f"{name}-{style}" if name else None, **options) for style in STYLES))
    return dict(zip(STYLES, results))


def outage_summary(results: dict[str, FlowResult]) -> pd.DataFrame:
    """One row per style: what the user saw, and what the business got done.

    ``availability`` is the share of orders the user saw accepted;
    ``completed`` the share that reached the notification service by the
    end; ``lost`` orders never completed; latencies in milliseconds.
    """
    rows = []
    for style, r in results.items():
        o = r.orders
        done = o.loc[o["completed"], "completion_latency"]
        rows.append({
            "style": style,
            "orders": len(o),
            "availability": float(o["accepted"].mean()) if len(o) else math.nan,
            "completed": float(o["completed"].mean()) if len(o) else math.nan,
            "lost": int((~o["completed"]).sum()),
            "user_p50_ms": float(o["user_latency"].quantile(0.5)) * 1000,
            "completion_p50_ms": float(done.quantile(0.5)) * 1000 if len(done) else math.nan,
            "completion_max_ms": float(done.max()) * 1000 if len(done) else math.nan,
            "max_backlog": int(r.backlog.loc[r.backlog["group"] == "payment", "backlog"].max())
            if len(r.backlog) else 0,
        })
    return pd.DataFrame(rows)


@dataclass
class DeliveryResult:
    """What an at-least-once run produced: the broker's counters, the ledger, the dead letters."""

    consumer: str
    summary: pd.Series
    ledger: pd.DataFrame
    dead_letters: pd.DataFrame
    delivery_log: pd.DataFrame
    calls: pd.DataFrame = field(repr=False)

    def history(self, message_id: str | None = None, *, redelivered_only: bool = False) -> pd.DataFrame:
        """The payment group's deliveries, acks, nacks and dead-letterings (of one message, if given).

        ``time`` counts from the first event of the run, in seconds.
        """
        log = self.delivery_log
        out = log[log["group"] == "payment"].assign(time=log["time"] - log["time"].min())
        if message_id is not None:
            out = out[out["message_id"] == message_id]
        if redelivered_only:
            out = out[out["redelivered"]]
        return out[["time", "event", "message_id", "consumer", "delivery_count", "redelivered", "reason"]].reset_index(
            drop=True)


async def delivery_experiment(
    *,
    idempotent: bool = True,
    crash_before_ack: float = 0.25,
    orders: int = 30,
    poison: tuple[int, ...] = (7,),
    rate: float = 60,
    lease: float | str = "0.15s",
    max_deliveries: int = 4,
    settle: float | str = "3s",
    seed: int = 0,
    name: str | None = None,
) -> DeliveryResult:
    """Send ``orders`` orders through the async flow while payment loses some acknowledgements.

    A delivery whose ack is lost comes back after its ``lease``; an
    idempotent payment consumer recognises it, a naive one charges again.
    Orders listed in ``poison`` carry an amount of 0 that no retry can fix:
    after ``max_deliveries`` they land in the dead letters.
    """
    kind = "idempotent" if idempotent else "naive"
    flow = OrderFlow("async", seed=seed, name=name or f"delivery-{kind}", lease=lease, max_deliveries=max_deliveries,
                     idempotent=idempotent, crash_before_ack=crash_before_ack)

    async def send(client, i):
        order_id = i + 1
        return await flow.place(client, order_id, amount=0.0 if order_id in poison else 10.0 + i % 7)

    async with flow:
        run = await open_loop(flow.net, send, rate=rate, requests=orders, caller="users", timeout=2.0, progress=False)
        good = {i + 1 for i, ok in zip(run.df["i"], run.df["ok"]) if ok} - set(poison)
        await _settle(flow, good, seconds(settle, "settle"))
        pay = await flow.payments()
        dead = await flow.dead_letters()
        notified = await flow.notifications()
        stats = flow.broker.stats().set_index("group")
        log = flow.broker.delivery_log
        calls = flow.net.calls
    ledger = pay["ledger"]
    charges = ledger.groupby("order_id").size()
    summary = pd.Series({
        "consumer": kind,
        "orders": orders,
        "deliveries": int(stats.loc["payment", "delivered"]),
        "redelivered": int(stats.loc["payment", "redelivered"]),
        "duplicates_skipped": int(pay["duplicates_skipped"]),
        "charges": int(len(ledger)),
        "double_charged": int((charges > 1).sum()),
        "notified": int(notified["order_id"].nunique()),
        "dead_letters": int(len(dead)),
    }, name=kind)
    return DeliveryResult(kind, summary, ledger, dead, log, calls)


def delivery_summary(results: list[DeliveryResult] | dict[str, DeliveryResult]) -> pd.DataFrame:
    """The summaries of several :func:`delivery_experiment` runs, one row each."""
    items = results.values() if isinstance(results, dict) else results
    return pd.DataFrame([r.summary for r in items]).reset_index(drop=True)


# -- plots ---------------------------------------------------------------------

_STYLE_COLORS = {"sync": "#457b9d", "async": "#2a9d8f"}


def plot_completion(results: dict[str, FlowResult], title: str = "when did each order complete?") -> Figure:
    """Completion latency of every order against when it was placed, one panel per style.

    Orders that never completed are red crosses at the bottom; the outage
    is shaded.
    """
    fig = Figure(figsize=(8, 2.6 * len(results)), layout="constrained")
    axes = fig.subplots(len(results), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (style, r) in zip(axes, results.items()):
        o = r.orders
        done, lost = o[o["completed"]], o[~o["completed"]]
        ax.scatter(done["submitted_at"], done["completion_latency"] * 1000, s=10,
                   color=_STYLE_COLORS.get(style, "#264653"), label="completed")
        if len(lost):
            ax.scatter(lost["submitted_at"], [0] * len(lost), marker="x", s=18, color="#e76f51",
                       label=f"lost ({len(lost)})")
        shade(ax, *r.window, label=f"{r.down} down")
        ax.set_ylabel("completion (ms)")
        ax.set_title(f"{style}: user saw {o['accepted'].mean():.0%} accepted, {o['completed'].mean():.0%} completed",
                     fontsize=10)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    axes[-1].set_xlabel("order placed at (s)")
    fig.suptitle(title)
    return fig


def plot_backlog(result: FlowResult, title: str | None = None) -> Figure:
    """Messages waiting for each consumer group over time, with the outage shaded."""
    fig = Figure(figsize=(8, 2.8), layout="constrained")
    ax = fig.add_subplot()
    b = result.backlog
    for group, rows in b.groupby("group", sort=False):
        ax.step(rows["time"], rows["backlog"], where="post", label=f"waiting for {group}")
    shade(ax, *result.window, label=f"{result.down} down")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("messages")
    ax.set_title(title or f"broker backlog ({result.style} flow)")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return fig
