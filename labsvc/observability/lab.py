"""The experiments of notebook 11: the shop's checkout, observed.

The checkout of the example shop (:mod:`labsvc.shop`) crosses six services:
``web`` calls ``orders``, which calls ``catalog``, ``inventory``, the external
``payment`` provider and ``delivery``. :func:`observed_shop` builds it with
tracing and metrics on; :func:`one_checkout` places one order and returns
its trace id; :func:`incident_run` sends a bounded open-loop stream of
checkouts while a :class:`~labsvc.observability.Scraper` collects every
instance's ``/metrics``, and breaks ``payment`` for a while in the middle
(errors and slowness), the incident the dashboards show. :func:`slo_run` does
the same for hours of simulated time at a low rate, without scraping, so that
burn-rate alerts can be evaluated on windows of their true lengths.
:func:`observability_cost` measures on the real clock what tracing and metrics
cost per checkout (CPU work, which simulated time does not count).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.core.faults import LogNormal
from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.shop import build_shop
from labsvc.observability._scrape import Scraper
from labsvc.observability._slo import SLO, WORKBOOK_RULES, BurnRateRule, alert_summary, error_budget, evaluate
from labsvc.core.simtime import DEFAULT_TIME, follows_network

__all__ = ["observed_shop", "one_checkout", "incident_run", "ObservedRun", "CHECKOUT", "CHECKOUT_TREE",
           "STEADY_LATENCY", "slo_run", "SLORun", "observability_cost", "COST_VARIANTS"]

#: What a user sends to check out.
CHECKOUT = ("POST", "http://web.svc/orders")
#: The parent -> child span edges of one checkout's trace (:func:`~labsvc.observability.span_tree`):
#: users -> web -> orders -> {catalog, inventory, payment, delivery}, each hop a client span and a server span.
CHECKOUT_TREE = [
    ("users client POST", "web server POST /orders"),
    ("web server POST /orders", "web client POST"),
    ("web client POST", "orders server POST /orders"),
    ("orders server POST /orders", "orders client GET"),
    ("orders client GET", "catalog server GET /products/{product_id}"),
    ("orders server POST /orders", "orders client POST"),
    ("orders client POST", "inventory server POST /reservations"),
    ("orders server POST /orders", "orders client POST"),
    ("orders client POST", "payment server POST /charges"),
    ("orders server POST /orders", "orders client POST"),
    ("orders client POST", "delivery server POST /deliveries"),
]
#: The inventory's everyday latency (its database, say): a median of 2 ms with a long tail.
STEADY_LATENCY = LogNormal("2ms", 0.6)


def observed_shop(mode: str = "inprocess", *, seed: int = 11, name: str = "nb11-shop", tracing: bool = True,
                  metrics: bool = True) -> Network:
    """The microservice shop with OpenTelemetry tracing and RED metrics switched on.

    ``tracing=False, metrics=False`` leaves only the network's call log, all
    an SLO computed from answered checkouts needs (:func:`slo_run`), at about
    half the CPU per request.
    """
    net = build_shop("microservices", seed=seed, mode=mode, name=name)
    if tracing or metrics:
        net.observe(tracing=tracing, metrics=metrics)
    net.fault("inventory", latency=STEADY_LATENCY)
    return net


@follows_network
async def one_checkout(net: Network, product_id: int = 3, caller: str = "users") -> str:
    """Place one order through ``web`` and return the trace id it ran under."""
    trace_id = net.new_trace_id()
    r = await net.client(caller, trace_id=trace_id).post(CHECKOUT[1], json={"product_id": product_id, "quantity": 1})
    r.raise_for_status()
    return trace_id


@dataclass
class ObservedRun:
    """What an observed load run left behind: each request, hop, span, log line and scraped sample."""

    requests: pd.DataFrame
    calls: pd.DataFrame
    spans: pd.DataFrame
    logs: pd.DataFrame
    samples: pd.DataFrame
    incident: tuple[float, float]  # network time when payment broke and when it was healed
    t0: float  # network time when the load started
    scrape_failures: pd.DataFrame  # scrapes that got no answer (they cross the same broken network)

    def checkouts(self) -> pd.DataFrame:
        """The hops users made into web: one row per checkout, on the network's time axis."""
        c = self.calls
        return c[(c["caller"] == "users") & (c["callee"] == "web") & (c["start"] >= self.t0)].reset_index(drop=True)


@follows_network
async def incident_run(net: Network, *, rate: float = 120, duration: float | str = "4s",
                       incident: tuple[Any, Any] = ("1.5s", "2.5s"), error_rate: float = 0.4,
                       incident_latency: Any = "80ms", scrape_interval: float | str = "100ms",
                       seed: int = 11) -> ObservedRun:
    """Checkouts at ``rate`` per second for ``duration``; ``payment`` fails and slows down during ``incident``.

    ``incident`` is (start, end) from the start of the load. ``net`` must be
    started and observed (:func:`observed_shop`).
    """
    start, end = (parse_duration(x, name="incident") for x in incident)
    t0 = net.now()
    when: list[float] = []  # when the fault really began and ended (a busy loop wakes up late)

    async def break_payment() -> None:
        await asyncio.sleep(start)
        net.fault("payment", error_rate=error_rate, latency=incident_latency)
        when.append(net.now())
        await asyncio.sleep(end - start)
        net.clear_faults("payment")
        when.append(net.now())

    async def checkout(client, i):
        return await client.post(CHECKOUT[1], json={"product_id": 1 + i % 10, "quantity": 1})

    async with Scraper(net, interval=scrape_interval) as prometheus:
        run, _ = await asyncio.gather(
            open_loop(net, checkout, rate=rate, duration=duration, caller="users", timeout=2.0, progress=False),
            break_payment(),
        )
    failures = pd.DataFrame(prometheus.failures, columns=["time", "instance", "error"])
    return ObservedRun(run.df, net.calls, net.spans, net.logs, prometheus.samples, (when[0], when[1]), t0, failures)


@dataclass
class SLORun:
    """A long, quiet checkout run (:func:`slo_run`): one row per checkout, and when payment was broken.

    ``checkouts`` are the users -> web hops of the call log (network time);
    ``incident`` is when payment broke and was healed, in seconds since the
    load started, the time axis of :attr:`answered`.
    """

    checkouts: pd.DataFrame
    incident: tuple[float, float]
    t0: float  # network time when the load started
    rate: float  # checkouts per second
    duration: float  # seconds of load

    @property
    def answered(self) -> pd.Series:
        """When each checkout was answered, in seconds since the load started (an SLO event counts then)."""
        return self.checkouts["start"] + self.checkouts["duration"] - self.t0

    @property
    def good(self) -> pd.Series:
        """Whether each checkout was good for an availability SLO: answered, and not with a 5xx."""
        return self.checkouts["status"].between(100, 499)

    def alerts(self, slo: SLO, rules: Sequence[BurnRateRule] = WORKBOOK_RULES[:2], *,
               step: float = 60.0) -> pd.DataFrame:
        """:func:`~labsvc.observability.evaluate` on this run: the rules' burn rates every ``step`` seconds.

        The windows keep their true lengths (the workbook's two pages by
        default: 1 h and 5 min at 14.4x, 6 h and 30 min at 6x), evaluated once a
        minute like a Prometheus rule group, from the start of the load to its
        end; times are seconds since the load started, like :attr:`incident`.
        """
        return evaluate(self.answered, self.good, slo, rules, step=step, start=0.0, end=self.duration)

    def rule_trial(self, slo: SLO, rule: BurnRateRule, *, step: float = 60.0) -> pd.DataFrame:
        """How one burn-rate ``rule`` did on this run, as one tidy row (times in minutes).

        Columns: the rule (``rule``, ``factor``, ``long_min``, ``short_min``), how many checkouts its short
        window holds at this run's rate (``short_events``), the SLO's ``budget``, the incident
        (``incident_min``, its length, and ``burn``, the burn rate measured during it), and the verdict of
        :func:`alert_summary` (``fires_after``, ``stops_after_end``, ``firing_for``; NaN when the rule never
        fired) plus ``early_pages``: evaluations that fired before the incident began.
        """
        alerts = self.alerts(slo, [rule], step=step)
        summary = alert_summary(alerts, self.incident).iloc[0]
        start, end = self.incident
        during = self.answered.between(start, end)
        bad = 1.0 - float(self.good[during].mean()) if during.any() else float("nan")
        row = {"rule": rule.name, "factor": rule.factor, "long_min": rule.long / 60, "short_min": rule.short / 60,
               "short_events": self.rate * rule.short, "budget": slo.budget, "incident_min": (end - start) / 60,
               "burn": bad / slo.budget,
               "fires_after": float(summary["fires_after"]), "stops_after_end": float(summary["stops_after_end"]),
               "firing_for": float(summary["firing_for"]),
               "early_pages": int((alerts["firing"] & (alerts["time"] <= start)).sum())}
        return pd.DataFrame([row])

    def budget(self, slo: SLO) -> dict:
        """:func:`~labsvc.observability.error_budget` of this run against ``slo``'s whole period at this rate.

        The allowed bad events are ``slo.budget`` of the checkouts a full
        period (30 days by default) would bring at :attr:`rate`; nothing of
        that period is simulated but this run.
        """
        return error_budget(slo, self.good, period_events=self.rate * slo.period)


@follows_network
async def slo_run(net: Network, *, rate: float = 0.1, duration: float | str = "8h",
                  incident: tuple[Any, Any] = ("6h", "7h"), error_rate: float = 0.4,
                  incident_latency: Any = "80ms") -> SLORun:
    """Checkouts at ``rate`` per second for ``duration``; ``payment`` fails and slows down during ``incident``.

    Hours long on simulated time (the clock jumps straight to the next
    event, so the hours cost only the CPU of the requests), and bounded:
    ``rate * duration`` checkouts, 2,880 with the defaults (about 1.5 ms of
    CPU each on a shop without tracing or metrics). Nothing is scraped; the
    SLO is computed from the call log (:attr:`SLORun.good`,
    :meth:`SLORun.alerts`). ``incident`` is (start, end) from the start of
    the load; during it ``payment`` fails ``error_rate`` of the charges and
    answers after ``incident_latency`` (``None``: no added latency).
    """
    start, end = (parse_duration(x, name="incident") for x in incident)
    total = parse_duration(duration, name="duration")
    if not 0 <= start < end <= total:
        raise ConfigurationError(f"incident={incident!r} must lie within the run (0 to {duration})")
    t0 = net.now()
    when: list[float] = []

    async def break_payment() -> None:
        await asyncio.sleep(start)
        net.fault("payment", error_rate=error_rate, latency=incident_latency)
        when.append(net.now())
        await asyncio.sleep(end - start)
        net.clear_faults("payment")
        when.append(net.now())

    async def checkout(client, i):
        return await client.post(CHECKOUT[1], json={"product_id": 1 + i % 10, "quantity": 1})

    await asyncio.gather(
        open_loop(net, checkout, rate=rate, duration=total, caller="users", timeout=2.0, progress=False),
        break_payment(),
    )
    c = net.calls
    checkouts = c[(c["caller"] == "users") & (c["callee"] == "web") & (c["start"] >= t0)].reset_index(drop=True)
    return SLORun(checkouts, (when[0] - t0, when[1] - t0), t0, rate, total)


#: What :func:`observability_cost` switches on, in its order: (label, tracing, metrics).
COST_VARIANTS = (("off", False, False), ("metrics", False, True), ("tracing", True, False),
                 ("tracing + metrics", True, True))


async def observability_cost(*, checkouts: int = 50, rounds: int = 3, seed: int = 11) -> pd.DataFrame:
    """What tracing and RED metrics cost per checkout, measured on this machine's real clock.

    Builds the microservice shop once per variant of :data:`COST_VARIANTS`
    (in-process, ``time="real"``, no injected latency) and places
    ``checkouts`` orders one after another in each, in ``rounds`` interleaved
    rounds so that a busy neighbour slows every variant alike; keeps each
    variant's median round. Columns: ``wall_ms`` and ``cpu_ms`` (this
    process's CPU time) per checkout, ``spans`` recorded per checkout, and
    ``cpu_vs_off`` (the variant's CPU per checkout over the variant with
    everything off). The log lines are collected in every variant. The
    numbers vary between runs and machines; the spans do not.
    """
    if isinstance(checkouts, bool) or not isinstance(checkouts, int) or checkouts < 1:
        raise ConfigurationError(f"checkouts={checkouts!r}: give a whole number of checkouts, at least 1, e.g. 50")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ConfigurationError(f"rounds={rounds!r}: give a whole number of rounds, at least 1, e.g. 3")
    token = DEFAULT_TIME.set("real")  # the shop's networks measure the wall clock, not a modelled one
    try:
        nets = {}
        for label, tracing, metrics in COST_VARIANTS:
            net = build_shop("microservices", seed=seed, name=f"nb11-cost-{label.replace(' + ', '-')}")
            if tracing or metrics:
                net.observe(tracing=tracing, metrics=metrics)
            nets[label] = net
    finally:
        DEFAULT_TIME.reset(token)
    wall: dict[str, list[float]] = {label: [] for label in nets}
    cpu: dict[str, list[float]] = {label: [] for label in nets}
    spans: dict[str, int] = {}
    try:
        for net in nets.values():
            await net.start()
            await one_checkout(net)  # warm up: first requests build routes and connections
        for _ in range(rounds):
            for label, net in nets.items():
                w0, c0 = time.perf_counter(), time.process_time()
                for i in range(checkouts):
                    await one_checkout(net, product_id=1 + i % 10)
                wall[label].append((time.perf_counter() - w0) / checkouts)
                cpu[label].append((time.process_time() - c0) / checkouts)
        for label, net in nets.items():
            spans[label] = len(net.spans) / (1 + rounds * checkouts)
    finally:
        for net in nets.values():
            await net.stop()
    table = pd.DataFrame({"wall_ms": {k: statistics.median(v) * 1000 for k, v in wall.items()},
                          "cpu_ms": {k: statistics.median(v) * 1000 for k, v in cpu.items()},
                          "spans": spans})
    table["cpu_vs_off"] = table["cpu_ms"] / table.loc["off", "cpu_ms"]
    table.index.name = "observability"
    return table
