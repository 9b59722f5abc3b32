"""The order saga both ways, under the same faults, measured: orchestration over HTTP, choreography on the broker.

The orchestrated saga is notebook 06's (:class:`~labsvc.data._lab_saga.SagaShop`):
the order service calls inventory and payment and decides every compensation.
The choreographed one is :mod:`labsvc.data._choreo_services` in a
:class:`ChoreoShop`: a broker and three services that only publish and
consume events, each driven by two :class:`~labsvc.data.Pump` loops (its
outbox relay and its consumer).

:func:`saga_styles_experiment` places the same seeded orders (same
products, same quantities, the same cards declined) at the same rate
through both, with the same faults (:class:`StyleFaults`,
:data:`STYLE_SCENARIOS`), lets each finish (the orchestrator's recovery
pass; the choreography's queues drained), and measures outcomes,
invariants (:func:`~labsvc.data._lab_saga.check_invariants`), messages,
coupling, where one order's flow can be read back, and time to a final
state.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.core.simtime import experiment, network_methods
from labsvc.data import inventory, payment
from labsvc.data._choreo_services import SAGA_TOPIC, ChoreoOrder, inventory_app, orders_app, payment_app
from labsvc.data._lab_saga import SagaFaults, SagaShop, check_invariants, outcome_of
from labsvc.data._pump import Pump
from labsvc.data.inventory import PRODUCT_PRICES, Reservation, Stock
from labsvc.data.payment import Charge
from labsvc.data.saga_orchestrator import FINAL_STATES
from labsvc.core.clock import MonotonicClock
from labsvc.messaging import Broker, HttpBrokerClient, broker_app

__all__ = ["STYLES", "StyleFaults", "STYLE_SCENARIOS", "ChoreoShop", "StyleRun", "SagaStylesResult",
           "saga_styles_experiment", "service_tables", "order_body"]

#: The two ways of running the saga.
STYLES = ("orchestrated", "choreographed")
PARTICIPANTS = ("orders", "inventory", "payment")


@dataclass(frozen=True)
class StyleFaults:
    """The faults both styles get.

    ``stock``: units of each product. ``decline_rate``: share of cards the
    payment provider declines (the same orders in both styles).
    ``payment_down``: payment refuses connections from order ``start *
    orders`` to order ``end * orders`` (fractions of the run; orders arrive
    at a fixed rate, so this is the same stretch of time in both styles).
    ``lost_rate``: share of hops between services that the network loses
    (a 503 before the callee sees it): the orchestrator's calls to
    inventory and payment, or the services' calls to the broker (publish,
    pull, ack).
    """

    stock: int = 1000
    decline_rate: float = 0.0
    payment_down: tuple[float, float] | None = None
    lost_rate: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.stock, bool) or not isinstance(self.stock, int) or self.stock < 0:
            raise ConfigurationError(f"stock={self.stock!r} must be a whole number of units, 0 or more")
        for name in ("decline_rate", "lost_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigurationError(f"{name}={getattr(self, name)!r} must be a share between 0 and 1")
        if self.payment_down is not None:
            a, b = self.payment_down
            if not 0 <= a < b <= 1:
                raise ConfigurationError(f"payment_down={self.payment_down!r} must be fractions 0 <= start < end <= 1")

    def window(self, orders: int) -> tuple[int, int]:
        """The orders at which payment goes down and comes back (-1, -1: never)."""
        if self.payment_down is None:
            return -1, -1
        return int(self.payment_down[0] * orders), int(self.payment_down[1] * orders)


#: The fault mixes the notebook runs through both styles.
STYLE_SCENARIOS: dict[str, StyleFaults] = {
    "no faults": StyleFaults(),
    "declines and shortage": StyleFaults(stock=8, decline_rate=0.2),
    "payment down": StyleFaults(payment_down=(0.25, 0.5)),
    "lost messages": StyleFaults(lost_rate=0.1),
    "all at once": StyleFaults(stock=8, decline_rate=0.2, payment_down=(0.25, 0.5), lost_rate=0.1),
}


def _scenario(faults: StyleFaults | str) -> tuple[str, StyleFaults]:
    if isinstance(faults, StyleFaults):
        return "custom", faults
    if faults not in STYLE_SCENARIOS:
        raise ConfigurationError(f"faults={faults!r} is not a scenario; use one of {list(STYLE_SCENARIOS)} "
                                 f"or a StyleFaults")
    return faults, STYLE_SCENARIOS[faults]


# ------------------------------------------------------------------ the choreography on a network
@network_methods
class ChoreoShop:
    """A broker, orders, inventory and payment (choreographed) on one network, with six pumps.

    ``lease``: how long a pulled event may stay unacknowledged before the
    broker hands it out again. The pumps long-poll (``wait``), so an idle
    system costs few hops.
    """

    def __init__(self, faults: StyleFaults | None = None, *, seed: int = 0, name: str = "choreo",
                 lease: float = 0.05, wait: float = 0.05) -> None:
        self.faults = faults or StyleFaults()
        self.seed = seed
        self.clock = MonotonicClock()
        self.broker = Broker(lease=lease)
        self.net = Network(seed=seed, name=name)
        self.net.add("broker", broker_app(self.broker))
        stock = inventory.Settings(stock=self.faults.stock)
        provider = payment.Settings(seed=seed, decline_rate=self.faults.decline_rate)
        self.net.add("orders", lambda: orders_app(self.clock))
        self.net.add("inventory", lambda: inventory_app(self.clock, stock))
        self.net.add("payment", lambda: payment_app(self.clock, provider))
        self.pumps = []
        for svc in PARTICIPANTS:
            self.pumps.append(Pump(self.net, f"http://{svc}.svc/outbox/relay", caller=f"{svc}-relay",
                                   body={"wait": wait}, done=lambda a: a["published"] == 0, clock=self.clock))
            self.pumps.append(Pump(self.net, f"http://{svc}.svc/events/poll", caller=f"{svc}-consumer",
                                   body={"wait": wait, "lease": lease}, done=lambda a: a["pulled"] == 0,
                                   clock=self.clock))

    async def start(self) -> "ChoreoShop":
        """Start the network, declare each service's consumer group, start the pumps."""
        await self.net.start()
        broker = HttpBrokerClient(self.net.client("operator"), "http://broker.svc")
        for svc in PARTICIPANTS:
            await broker.declare(SAGA_TOPIC, svc)
        for p in self.pumps:
            p.start()
        return self

    async def stop(self) -> None:
        """Stop the pumps, then the network (safe twice)."""
        for p in self.pumps:
            await p.stop()
        await self.net.stop()

    async def __aenter__(self) -> "ChoreoShop":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def _get(self, url: str) -> Any:
        r = await self.net.client("auditor").get(url)
        r.raise_for_status()
        return r.json()

    async def idle(self) -> bool:
        """True when no event is waiting: every outbox sent, nothing ready or in flight at the broker."""
        for svc in PARTICIPANTS:
            if (await self._get(f"http://{svc}.svc/outbox"))["pending"]:
                return False
        stats = self.broker.stats()
        return int((stats["ready"] + stats["in_flight"]).sum()) == 0

    async def settle(self, *, deadline: float = 5.0, every: float = 0.01) -> float:
        """Wait (simulated time) until the system is idle twice in a row, or ``deadline``; seconds waited."""
        loop = asyncio.get_running_loop()
        t0, quiet = loop.time(), 0
        while loop.time() - t0 < deadline and quiet < 2:
            quiet = quiet + 1 if await self.idle() else 0
            await asyncio.sleep(every)
        return loop.time() - t0

    async def snapshot(self) -> dict[str, pd.DataFrame]:
        """Each service's data through its API: orders, stock, reservations, charges, and every emitted event."""
        urls = {"orders": "http://orders.svc/orders", "stock": "http://inventory.svc/stock",
                "reservations": "http://inventory.svc/reservations", "charges": "http://payment.svc/charges"}
        columns = {"orders": list(ChoreoOrder.model_fields), "stock": list(Stock.model_fields),
                   "reservations": list(Reservation.model_fields), "charges": list(Charge.model_fields)}
        out = {k: pd.DataFrame(await self._get(u), columns=columns[k]) for k, u in urls.items()}
        events = [e for svc in PARTICIPANTS for e in await self._get(f"http://{svc}.svc/events")]
        out["events"] = pd.DataFrame(events).sort_values(["created_at", "order_id"], kind="stable", ignore_index=True)
        inbox = [{**row, "service": svc} for svc in PARTICIPANTS for row in await self._get(f"http://{svc}.svc/inbox")]
        out["inbox"] = pd.DataFrame(inbox)
        return out


def order_body(seed: int, i: int) -> dict[str, Any]:
    """The seeded body of order ``i``: the same as :meth:`SagaShop.order_body`, so both styles get the same orders."""
    rng = random.Random(f"saga/{seed}/{i}")
    return {"customer_id": rng.randint(1, 50), "product_id": rng.choice(sorted(PRODUCT_PRICES)),
            "quantity": rng.randint(1, 3)}


# ------------------------------------------------------------------ one run of one style
@dataclass
class StyleRun:
    """One style's run: every service's data, the invariants, and what the flow cost.

    ``orders`` has ``outcome`` and ``seconds_to_final`` columns; ``flow``
    is where each step of each order can be read back (``source`` names the
    table it came from); ``unfinished_at_load_end`` counts orders not
    final when the last order had been placed and faults were cleared.
    """

    style: str
    orders: pd.DataFrame
    stock: pd.DataFrame
    reservations: pd.DataFrame
    charges: pd.DataFrame
    invariants: pd.DataFrame
    calls: pd.DataFrame = field(repr=False)
    flow: pd.DataFrame = field(repr=False)
    unfinished_at_load_end: int = 0
    broker_stats: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    tables: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def coupling(self) -> pd.DataFrame:
        """Per service: the services it calls (from the call log) and whose events it reacts to (its inbox)."""
        hops = self.calls[self.calls["caller"].isin(PARTICIPANTS) & (self.calls["caller"] != self.calls["callee"])]
        rows = []
        for svc in PARTICIPANTS:
            calls = sorted(set(hops.loc[hops["caller"] == svc, "callee"]))
            mine = self.flow[(self.flow["source"] == f"{svc}.inbox") & self.flow["acted"].astype(bool)] \
                if "acted" in self.flow else self.flow.iloc[0:0]
            reacts = sorted(set(mine["producer"])) if len(mine) else []
            rows.append({"style": self.style, "service": svc, "calls": ", ".join(calls) or "-",
                         "reacts_to_events_of": ", ".join(reacts) or "-",
                         "knows_about": len(set(calls) - {"broker"} | set(reacts))})
        return pd.DataFrame(rows)

    def flow_of(self, order_id: int) -> pd.DataFrame:
        """Everything recorded about one order's saga, oldest first, with the table each row came from."""
        rows = self.flow[self.flow["order_id"] == order_id]
        return rows.sort_values("at", kind="stable", ignore_index=True)

    def summary(self) -> dict[str, Any]:
        """One row of the comparison."""
        o = self.orders
        hops = self.calls[self.calls["caller"].isin(PARTICIPANTS) & (self.calls["caller"] != self.calls["callee"])]
        secs = o["seconds_to_final"].dropna()
        one = int(o["id"].min()) if len(o) else 0
        sources = self.flow_of(one)["source"].str.split(".").str[0].nunique() if len(o) else 0
        delivered = int(self.broker_stats["delivered"].sum()) if len(self.broker_stats) else 0
        return {"style": self.style, "orders": len(o), "approved": int((o["status"] == "APPROVED").sum()),
                "cancelled": int((o["status"] == "CANCELLED").sum()),
                "stuck": int((~o["status"].isin(FINAL_STATES)).sum()),
                "unfinished_at_load_end": self.unfinished_at_load_end,
                "invariants_held": f"{int(self.invariants['holds'].sum())}/{len(self.invariants)}",
                "calls_between_services": len(hops),
                "events_published": int((self.flow["source"].str.endswith(".outbox")).sum()),
                "deliveries": delivered,
                "redeliveries": int(self.broker_stats["redelivered"].sum()) if len(self.broker_stats) else 0,
                "services_read_for_one_order": int(sources),
                "median_ms_to_final": round(float(secs.median()) * 1000, 1) if len(secs) else None,
                "max_ms_to_final": round(float(secs.max()) * 1000, 1) if len(secs) else None}


def _since(times: pd.Series, t0: float) -> pd.Series:
    """Times as seconds since the load started, to the microsecond (identical on a rerun)."""
    return (pd.to_numeric(times) - t0).round(6)


def _invariants(orders: pd.DataFrame, data: dict[str, pd.DataFrame], accepted: list[int]) -> pd.DataFrame:
    """:func:`check_invariants`, plus: no charge kept for an order that was not approved."""
    inv = check_invariants(orders, data["stock"], data["reservations"], data["charges"], accepted=accepted)
    captured = set(data["charges"].loc[data["charges"]["status"] == "CAPTURED", "order_id"]) \
        if len(data["charges"]) else set()
    approved = set(orders.loc[orders["status"] == "APPROVED", "id"])
    bad = sorted(int(x) for x in captured - approved)
    extra = pd.DataFrame([{"invariant": "no charge without an approved order", "holds": not bad,
                           "violations": len(bad), "examples": bad[:5]}])
    return pd.concat([inv, extra], ignore_index=True)


def _placing(net: Any, lo: int, hi: int, accepted: list[int], place: Any) -> Any:
    """The load's sender for both styles: payment is down from order ``lo`` to order ``hi`` (the same window in
    both), ``place(client, i)`` places order ``i``, and every accepted order's id is kept in ``accepted``."""

    async def one(client: Any, i: int) -> httpx.Response:
        if i == lo:
            net.fault("payment", down=True)
        elif i == hi:
            net.fault("payment", down=False)
        r = await place(client, i)
        if r.status_code == 201:
            accepted.append(int(r.json()["id"]))
        return r

    return one


async def _orchestrated(faults: StyleFaults, orders: int, rate: float, seed: int, name: str) -> StyleRun:
    shop = SagaShop(SagaFaults(stock=faults.stock, decline_rate=faults.decline_rate,
                               payment_error_rate=faults.lost_rate),
                    seed=seed, name=name, timeout="50ms", backoff="2ms")
    lo, hi = faults.window(orders)
    accepted: list[int] = []
    async with shop:
        if faults.lost_rate:
            shop.net.fault("inventory", error_rate=faults.lost_rate)

        one = _placing(shop.net, lo, hi, accepted, lambda client, i: shop.place(i, client))
        t0 = asyncio.get_running_loop().time()
        await open_loop(shop.net, one, rate=rate, requests=orders, caller="frontend", timeout=30.0, progress=False)
        shop.net.clear_faults()
        before = await shop.orders()
        await shop.recover()
        data = await shop.snapshot()
        calls = shop.net.calls
        tables = service_tables(shop.net)
    table = data["orders"]
    log = data["log"].assign(at=lambda d: _since(d["at"], t0))
    span = log.groupby("order_id")["at"].agg(["min", "max"])
    table["outcome"] = [outcome_of(s, r) for s, r in zip(table["status"], table["reason"])]
    final = table["status"].isin(FINAL_STATES)
    table["seconds_to_final"] = (span["max"] - span["min"]).round(6).reindex(table["id"]).to_numpy()
    table.loc[~final, "seconds_to_final"] = None
    flow = log.rename(columns={"kind": "what"}).assign(source="orders.saga_log")
    return StyleRun("orchestrated", table, data["stock"], data["reservations"], data["charges"],
                    _invariants(table, data, accepted), calls, flow,
                    int((~before["status"].isin(FINAL_STATES)).sum()), tables=tables)


async def _choreographed(faults: StyleFaults, orders: int, rate: float, seed: int, name: str) -> StyleRun:
    shop = ChoreoShop(faults, seed=seed, name=name)
    lo, hi = faults.window(orders)
    accepted: list[int] = []
    async with shop:
        if faults.lost_rate:
            shop.net.fault("broker", error_rate=faults.lost_rate)

        one = _placing(shop.net, lo, hi, accepted,
                       lambda client, i: client.post("http://orders.svc/orders", json=order_body(seed, i)))
        t0 = asyncio.get_running_loop().time()
        await open_loop(shop.net, one, rate=rate, requests=orders, caller="frontend", timeout=30.0, progress=False)
        shop.net.clear_faults()
        before = pd.DataFrame(await shop._get("http://orders.svc/orders"))
        await shop.settle()
        data = await shop.snapshot()
        calls = shop.net.calls
        stats = shop.broker.stats()
        tables = service_tables(shop.net)
    table = data["orders"]
    table["created_at"], table["finished_at"] = _since(table["created_at"], t0), _since(table["finished_at"], t0)
    table["outcome"] = [outcome_of(s, r) for s, r in zip(table["status"], table["reason"])]
    table["seconds_to_final"] = (table["finished_at"] - table["created_at"]).round(6)
    ev = data["events"]
    emitted = ev.assign(source=ev["producer"] + ".outbox", at=_since(ev["created_at"], t0), what=ev["type"])
    inbox = data["inbox"]
    consumed = inbox.assign(source=inbox["service"] + ".inbox", what=inbox["type"],
                            at=_since(inbox["at"], t0)) if len(inbox) else inbox
    flow = pd.concat([emitted[["order_id", "at", "source", "what", "producer"]],
                      consumed[["order_id", "at", "source", "what", "producer", "acted"]] if len(consumed) else None],
                     ignore_index=True)
    return StyleRun("choreographed", table, data["stock"], data["reservations"], data["charges"],
                    _invariants(table, data, accepted), calls, flow,
                    int((~before["status"].isin(FINAL_STATES)).sum()), stats[stats["topic"] == SAGA_TOPIC], tables)


# ------------------------------------------------------------------ the comparison
@dataclass
class SagaStylesResult:
    """Both styles under one fault mix: ``summary`` (one row per style), ``runs`` (:class:`StyleRun` each)."""

    scenario: str
    seed: int
    runs: dict[str, StyleRun]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per style: outcomes, invariants, messages, where the flow is read, time to final.

        ``approved`` / ``cancelled`` / ``stuck`` (not final at the end);
        ``unfinished_at_load_end`` (not final when the last order was placed);
        ``invariants_held`` ("held/checked"); ``calls_between_services`` (hops
        from one of the three services to another service, the broker
        included); ``events_published``, ``deliveries`` and ``redeliveries``
        (choreography only); ``services_read_for_one_order`` (how many
        services' tables hold the flow of one order); ``median_ms_to_final``
        and ``max_ms_to_final`` (from the order's creation to its final state).
        """
        return pd.DataFrame([{"scenario": self.scenario, **r.summary()} for r in self.runs.values()])

    @property
    def invariants(self) -> pd.DataFrame:
        """Whether each invariant held, one column per style."""
        return pd.DataFrame({s: r.invariants.set_index("invariant")["holds"] for s, r in self.runs.items()})

    @property
    def coupling(self) -> pd.DataFrame:
        """Per style and service: whom it calls, whose events it reacts to, how many services it knows."""
        return pd.concat([r.coupling() for r in self.runs.values()], ignore_index=True)

    @property
    def outcomes(self) -> pd.DataFrame:
        """Orders per outcome, one column per style."""
        return pd.DataFrame({s: r.orders["outcome"].value_counts() for s, r in self.runs.items()}).fillna(0).astype(int)


@experiment
async def saga_styles_experiment(faults: StyleFaults | str = "all at once", *, orders: int = 40, rate: float = 200,
                                 seed: int = 0, name: str | None = None) -> SagaStylesResult:
    """Run ``orders`` seeded orders at ``rate`` per second through both styles under the same ``faults``.

    ``faults`` is a :class:`StyleFaults` or one of :data:`STYLE_SCENARIOS`.
    After the last order, faults are cleared; the orchestrator runs its
    recovery pass, the choreography's pumps drain the outboxes and queues.
    """
    scenario, f = _scenario(faults)
    if isinstance(orders, bool) or not isinstance(orders, int) or orders < 1:
        raise ConfigurationError(f"orders={orders!r} must be a whole number of at least 1")
    if not rate > 0:
        raise ConfigurationError(f"rate={rate!r} must be orders per second, more than 0")
    base = name or f"styles-{seed}"
    runs = {"orchestrated": await _orchestrated(f, orders, rate, seed, f"{base}-orch"),
            "choreographed": await _choreographed(f, orders, rate, seed, f"{base}-choreo")}
    return SagaStylesResult(scenario, seed, runs)


def service_tables(net: Network) -> pd.DataFrame:
    """One row per table of each running service's own database: service, table, columns (an operator's view)."""
    rows = []
    for svc in net.services.values():
        inst = svc.instances[0]
        db = getattr(getattr(inst.app, "state", None), "database", None)
        if db is None or not db.is_open:
            continue
        for t in db.tables():
            rows.append({"service": svc.name, "table": t, "columns": ", ".join(db.columns(t))})
    return pd.DataFrame(rows, columns=["service", "table", "columns"])
