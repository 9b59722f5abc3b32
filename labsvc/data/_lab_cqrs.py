"""CQRS, measured: the read model's lag and convergence, and what a broker outage does to each way of publishing.

The command side is :mod:`labsvc.data.order_command`, the query side
:mod:`labsvc.data.order_history`. :class:`CqrsShop` wires both to a broker
on a network, with two :class:`~labsvc.data.Pump` loops driving the outbox
relay and the projector, and measures the read model's lag
(:func:`lag_summary`) and convergence; :func:`outbox_experiment` compares
outbox and direct publishing through a broker outage.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import pandas as pd

from labsvc.core.clock import Clock, MonotonicClock, parse_duration
from labsvc.core.errors import ConfigurationError, LabsvcError
from labsvc.core.load import LoadRun, open_loop
from labsvc.messaging import Broker, HttpBrokerClient, broker_app
from labsvc.core.network import Network
from labsvc.data import order_command, order_history
from labsvc.data._lab_seed import CUSTOMER_NAMES
from labsvc.data._order_events import GROUP, TOPIC
from labsvc.data._pump import Pump
from labsvc.data.order_command import PUBLISH_MODES, check_publish
from labsvc.data.order_history import Fields, check_fields
from labsvc.core.simtime import experiment, network_methods

__all__ = ["CqrsShop", "Convergence", "lag_summary", "outbox_experiment", "OutboxResult"]


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


@network_methods
class CqrsShop:
    """The command side, a broker and the read model on one network, with their pumps.

    >>> shop = CqrsShop(publish="outbox", seed=1, name="cqrs-demo")      # doctest: +SKIP
    >>> async with shop:                                                  # doctest: +SKIP
    ...     shop.start_pumps()
    ...     run = await shop.load(rate=200, duration="1s")
    ...     report = await shop.converge()
    ...     lag = await shop.lag()

    ``clock`` is the time both services stamp events with (a
    :class:`~labsvc.core.clock.FakeClock` in tests). ``broker_latency`` is added
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
        check_publish(publish)
        self.publish = publish
        self.seed = seed
        self.clock: Clock = clock or MonotonicClock()
        self._fields = check_fields(fields)
        self.broker = Broker(clock=broker_clock, lease=lease)
        self.lease = parse_duration(lease, name="lease")
        self.net = Network(seed=seed, name=name)
        self.net.add("broker", broker_app(self.broker))
        self.net.add("orders", lambda: order_command.create_app(order_command.Settings(publish, clock=self.clock)))
        # A lambda, so that a redeploy (redeploy_read_model) runs the fields of that moment.
        self.net.add("order-history", lambda: order_history.create_app(
            order_history.Settings(fields=self._fields, clock=self.clock)))
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
        self._fields = check_fields(fields)
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


@experiment
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
