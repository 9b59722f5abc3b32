"""The experiments of notebook 07 on :class:`~labsvc.messaging._lab_order_flow.OrderFlow` and their summaries.

:func:`outage_experiment` (and :func:`compare_styles`) stop one service of
the flow for a while; :func:`delivery_experiment` loses acknowledgements and
sends poison messages; :func:`crash_experiment` crashes the payment
instance between a charge and its ack, with applied ids kept in memory or
in payment's database. Their plots are in :mod:`labsvc.messaging.plots`;
both are re-exported by :mod:`labsvc.messaging.lab`.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.core.load import LoadRun, open_loop
from labsvc.core.experiment import run_schedule, seconds
from labsvc.messaging._lab_order_flow import FLOW, STYLES, OrderFlow, _settle
from labsvc.core.simtime import experiment


# -- experiments -----------------------------------------------------------------

@dataclass
class FlowResult:
    """What one run of the order flow produced.

    ``orders``: one row per order (submitted_at, status the user saw,
    accepted, completed_at, completion_latency in seconds, completed).
    ``backlog``: sampled queue depth over time (async only). ``load`` is the
    :class:`~labsvc.core.load.LoadRun`; ``calls`` the call log; ``events`` when
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


@experiment
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


@experiment
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


@experiment
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

    A delivery whose ack is lost (it never reaches the broker; the consumer
    keeps running) comes back after its ``lease``; an
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


@experiment
async def crash_experiment(
    *,
    inbox: str = "memory",
    crash_at: tuple[int, ...] = (4, 11),
    restart_after: float | str = "0.2s",
    orders: int = 16,
    rate: float = 40,
    lease: float | str = "0.15s",
    settle: float | str = "3s",
    seed: int = 0,
    name: str | None = None,
) -> DeliveryResult:
    """Send ``orders`` orders while the payment instance crashes after charging each order of ``crash_at``.

    Each crash comes after the charge was committed to payment's database
    and before the ack: the instance stops at once, loses its memory and is
    restarted ``restart_after`` later with its database intact. The broker
    hands the unacknowledged message out again. With ``inbox="memory"`` the
    restarted consumer has forgotten the message and charges again; with
    ``inbox="database"`` the id was committed with the charge and the
    redelivery is skipped.
    """
    flow = OrderFlow("async", seed=seed, name=name or f"crash-{inbox}", lease=lease, inbox=inbox,
                     crash_at=crash_at, restart_after=restart_after)

    async def send(client, i):
        return await flow.place(client, i + 1, amount=10.0 + i % 7)

    async with flow:
        run = await open_loop(flow.net, send, rate=rate, requests=orders, caller="users", timeout=2.0, progress=False)
        await _settle(flow, {i + 1 for i, ok in zip(run.df["i"], run.df["ok"]) if ok}, seconds(settle, "settle"))
        pay = await flow.payments()
        notified = await flow.notifications()
        stats = flow.broker.stats().set_index("group")
        log = flow.broker.delivery_log
        calls = flow.net.calls
    ledger = pay["ledger"]
    charges = ledger.groupby("order_id").size()
    summary = pd.Series({
        "consumer": f"{inbox} inbox",
        "orders": orders,
        "crashes": len(flow.crashes),
        "redelivered": int(stats.loc["payment", "redelivered"]),
        "charges": int(len(ledger)),
        "double_charged": int((charges > 1).sum()),
        "notified": int(notified["order_id"].nunique()),
    }, name=inbox)
    return DeliveryResult(f"{inbox} inbox", summary, ledger, pd.DataFrame(), log, calls)
