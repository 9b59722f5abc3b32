"""Resilience patterns under real failures on the network (notebook 10).

Four experiments, each on a network of its own, each returning DataFrames:

- :func:`breaker_experiment`: ``web`` calls ``reviews``, which hangs for a
  while. With a :class:`~labsvc.resilience.CircuitBreaker` (plus a timeout
  and a fallback) the breaker opens, requests fail fast with a degraded
  answer, trial calls probe the dependency, and it closes once reviews is
  back; the events give the state timeline.
- :func:`failover_experiment`: one of three ``inventory`` instances dies.
  Plain round robin keeps sending it a third of the calls;
  :class:`BreakerBalancer` (a circuit breaker per instance, consulted by the
  balancer) routes around it; a retry on another instance hides the few
  calls that still hit it.
- :func:`retry_storm`: ``users -> a -> b -> c`` with ``c`` failing. Naive
  retries at every layer multiply the calls reaching ``c`` (3 attempts per
  layer: 3 x 3 x 3 = 27 per user request); a retry budget holds them near
  1.1x. Counted from the call log.
- :func:`fanout_experiment` and :func:`fanout_model`: a request that waits
  for N backends is as slow as the slowest; with a rare slow answer per
  backend, the p99 of the whole request grows with N.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd
from fastapi import Request
from matplotlib.figure import Figure

from ..balancing import Balancer, make_balancer
from ..errors import ConfigurationError
from ..faults import Fixed, Latency, Uniform, as_latency  # noqa: F401 (Fixed: the TailLatency example)
from ..load import LoadRun, open_loop
from ..network import INSTANCE_HEADER, Network
from ..problems import Problem, problem_type
from ..resilience import (
    CallNotPermitted,
    CircuitBreaker,
    Fallback,
    Retry,
    RetryBudget,
    State,
    is_server_error,
    plot_state_timeline,
)
from ..service import create_service, http
from ._common import NetworkClock, run_schedule, seconds, shade

__all__ = [
    "AllBreakersOpen",
    "BreakerBalancer",
    "BreakerResult",
    "breaker_experiment",
    "plot_breaker",
    "FAILOVER_STRATEGIES",
    "FailoverResult",
    "failover_experiment",
    "compare_failover",
    "failover_summary",
    "plot_failover",
    "RETRY_POLICIES",
    "StormResult",
    "retry_storm",
    "compare_retry_policies",
    "amplification",
    "plot_retry_storm",
    "TailLatency",
    "fanout_model",
    "fanout_experiment",
    "plot_fanout",
]


def _suffixed(name: str | None, variant: str) -> str | None:
    """A network name per variant, so side-by-side runs never stop each other."""
    return None if name is None else f"{name}-{variant.replace(' ', '').replace('+', '-')}"


# -- a balancer that listens to circuit breakers ----------------------------------------

class AllBreakersOpen(CallNotPermitted):
    """Every instance's circuit breaker refuses calls: there is nowhere to send this one."""

    def __init__(self, candidates: Sequence[str]) -> None:
        super().__init__("every instance", State.OPEN)
        self.args = (f"the circuit breaker of every instance ({', '.join(candidates)}) refuses calls; "
                     f"fail fast or fall back",)


class BreakerBalancer:
    """A balancer that keeps one circuit breaker per instance and skips the open ones.

    ``inner`` (round robin by default) picks among the candidates; a pick
    whose breaker refuses is dropped and ``inner`` picks again. The network
    reports every call's end, which becomes the breaker's success or
    failure (a 5xx, a refused connection or a timeout is a failure). When
    every breaker refuses, the call fails at once with
    :class:`~labsvc.resilience.CallNotPermitted`. Envoy calls this outlier
    detection; Spring Cloud puts a breaker per instance for the same reason.

    >>> from labsvc.clock import FakeClock
    >>> lb = BreakerBalancer(clock=FakeClock(), minimum_number_of_calls=2, sliding_window_size=2)
    >>> import random
    >>> for _ in range(4):                      # round robin: inv-1, inv-2, inv-1, inv-2
    ...     pick = lb.choose(["inv-1", "inv-2"], random.Random(0))
    ...     lb.on_start(pick); lb.on_end(pick, 0.001, ok=(pick != "inv-2"))
    >>> lb.breaker("inv-2").state, [lb.choose(["inv-1", "inv-2"], random.Random(0)) for _ in range(3)]
    (<State.OPEN: 'OPEN'>, ['inv-1', 'inv-1', 'inv-1'])
    """

    name = "breaker-aware"

    def __init__(self, inner: str | Balancer = "round_robin", *, clock: Any = None, **breaker_settings: Any) -> None:
        self.inner = make_balancer(inner)
        self.clock = clock
        self.settings = breaker_settings
        self.breakers: dict[str, CircuitBreaker] = {}
        self._opened_at: dict[str, float] = {}  # when each breaker last changed state
        CircuitBreaker("check", **breaker_settings)  # fail now, not at the first call, on a bad setting

    def breaker(self, instance: str) -> CircuitBreaker:
        """The breaker guarding ``instance`` (made on first use)."""
        found = self.breakers.get(instance)
        if found is None:
            found = self.breakers[instance] = CircuitBreaker(instance, clock=self.clock, **self.settings)
            found.on_state_transition(lambda e, name=instance: self._opened_at.__setitem__(name, e.time))
        return found

    def _may_pass(self, instance: str) -> bool:
        """Would the breaker let a call through now? (Asks without taking a half-open permit.)"""
        b = self.breaker(instance)
        state = b.state
        if state is State.OPEN:
            return b.clock.now() > self._opened_at[instance] + b.config.wait_duration_in_open_state
        return state is not State.FORCED_OPEN

    def choose(self, candidates: Sequence[str], rng: random.Random) -> str:
        """An instance whose breaker lets the call through; :class:`AllBreakersOpen` if there is none."""
        # The inner balancer chooses among the instances whose breaker would
        # let a call through, so round robin stays even over the healthy ones.
        remaining = [c for c in candidates if self._may_pass(c)]
        while remaining:
            pick = self.inner.choose(remaining, rng)
            if self.breaker(pick).try_acquire_permission():
                return pick
            remaining.remove(pick)
        raise AllBreakersOpen(candidates)

    def on_start(self, instance: str) -> None:
        """A call to ``instance`` was sent."""
        self.inner.on_start(instance)

    def on_end(self, instance: str, duration: float, ok: bool) -> None:
        """A call to ``instance`` ended: its breaker records a success or a failure."""
        self.inner.on_end(instance, duration, ok)
        b = self.breaker(instance)
        if ok:
            b.on_success(duration)
        else:
            b.on_error(duration, ConnectionError(f"call to {instance} failed"))

    @property
    def events(self) -> pd.DataFrame:
        """Every breaker's events, with an ``instance`` column."""
        frames = [b.events.assign(instance=name) for name, b in sorted(self.breakers.items())]
        return pd.concat(frames, ignore_index=True).sort_values("time", kind="stable") if frames else pd.DataFrame()

    def __repr__(self) -> str:
        return f"BreakerBalancer({self.inner!r}, breakers={len(self.breakers)})"


# -- 1. a circuit breaker in front of a failing dependency --------------------------------

#: The breaker settings of :func:`breaker_experiment`: small windows so a
#: two-second run shows every state.
BREAKER_SETTINGS = dict(sliding_window_size=10, minimum_number_of_calls=10, failure_rate_threshold=50,
                        wait_duration_in_open_state="0.25s", permitted_number_of_calls_in_half_open_state=3,
                        record_result=is_server_error)


def _reviews_app():
    app = create_service("reviews", description="product reviews")

    @app.get("/reviews/{product_id}")
    async def reviews(product_id: int):
        return {"product_id": product_id, "reviews": [{"stars": 4, "text": "sturdy"}]}

    return app


def _web_app(breaker: CircuitBreaker | None, timeout: float):
    app = create_service("web", description="product pages")
    # When reviews cannot answer, the page still shows, without reviews.
    fallback = Fallback(lambda exc: None, on=(CallNotPermitted, httpx.HTTPError), on_result=is_server_error)

    @app.get("/products/{product_id}")
    async def page(product_id: int, request: Request):
        client = http(request, timeout=timeout)

        async def reviews():
            url = f"http://reviews.svc/reviews/{product_id}"
            return await (breaker.call(client.get, url) if breaker is not None else client.get(url))

        r = await fallback.call(reviews)
        if r is None:
            return {"product_id": product_id, "reviews": [], "degraded": True}
        return {"product_id": product_id, "reviews": r.json()["reviews"], "degraded": False}

    app.state.fallback = fallback
    return app


@dataclass
class BreakerResult:
    """One :func:`breaker_experiment` run.

    ``requests``: one row per user request (``time`` on the network's axis,
    ``latency`` in s, ``degraded``). ``events``: the breaker's events on the
    same axis (empty without a breaker). ``calls``: the call log.
    """

    breaker: bool
    requests: pd.DataFrame
    events: pd.DataFrame
    calls: pd.DataFrame
    window: tuple[float, float]
    load: LoadRun = field(repr=False)

    @property
    def transitions(self) -> list[tuple[str, str]]:
        """The breaker's state changes in order, as (from, to) pairs."""
        t = self.events[self.events["kind"] == "state_transition"] if len(self.events) else self.events
        return list(zip(t["from_state"], t["to_state"])) if len(t) else []

    def phases(self) -> pd.DataFrame:
        """Before, during and after the outage: requests, degraded share, latency, calls reaching reviews."""
        start, end = self.window
        r, c = self.requests, self.calls[self.calls["callee"] == "reviews"]
        rows = []
        for phase, lo, hi in (("before", -math.inf, start), ("during", start, end), ("after", end, math.inf)):
            rr = r[(r["time"] >= lo) & (r["time"] < hi)]
            cc = c[(c["start"] >= lo) & (c["start"] < hi)]
            rows.append({"breaker": "with breaker" if self.breaker else "without breaker", "phase": phase,
                         "requests": len(rr), "degraded": float(rr["degraded"].mean()) if len(rr) else math.nan,
                         "p50_ms": float(rr["latency"].quantile(0.5)) * 1000 if len(rr) else math.nan,
                         "p99_ms": float(rr["latency"].quantile(0.99)) * 1000 if len(rr) else math.nan,
                         "calls_to_reviews": len(cc)})
        return pd.DataFrame(rows)


async def breaker_experiment(
    *,
    breaker: bool = True,
    failure: str = "hang",
    at: float | str = "0.5s",
    outage: float | str = "1s",
    rate: float = 100,
    duration: float | str = "2.5s",
    timeout: float | str = "100ms",
    seed: int = 0,
    name: str | None = None,
    **breaker_settings: Any,
) -> BreakerResult:
    """Users load ``web`` while ``reviews`` fails from ``at`` for ``outage``.

    ``failure`` is ``"hang"`` (reviews never answers; web's ``timeout``
    ends each call) or ``"error"`` (reviews answers 503 at once). With
    ``breaker=True`` web guards the call with a circuit breaker
    (:data:`BREAKER_SETTINGS`, overridable by keyword) whose clock is the
    network's, so its events line up with the call log.
    """
    if failure not in ("hang", "error"):
        raise ConfigurationError(f"failure={failure!r}: use 'hang' (no answer) or 'error' (503 at once)")
    net = Network(seed=seed, name=name or f"breaker-{'on' if breaker else 'off'}")
    cb = CircuitBreaker("reviews", clock=NetworkClock(net), **{**BREAKER_SETTINGS, **breaker_settings}) if breaker else None
    net.add("reviews", _reviews_app)
    net.add("web", lambda: _web_app(cb, seconds(timeout, "timeout")))
    degraded: dict[int, bool] = {}
    sent_at: dict[int, float] = {}

    async def send(client, i):
        sent_at[i] = net.now()
        r = await client.get(f"http://web.svc/products/{1 + i % 10}")
        degraded[i] = bool(r.json().get("degraded")) if r.status_code == 200 else True
        return r

    at_s, outage_s = seconds(at, "at"), seconds(outage, "outage")
    fault = {"hang": True} if failure == "hang" else {"error_rate": 1.0}
    log: list[dict] = []

    async def fail():
        net.fault("reviews", **fault)

    async def recover():
        net.clear_faults("reviews")

    async with net:
        run, _ = await asyncio.gather(
            open_loop(net, send, rate=rate, duration=duration, caller="users", timeout=2.0, progress=False),
            run_schedule(net, [(at_s, "reviews fails", fail), (at_s + outage_s, "reviews recovers", recover)], log),
        )
        calls = net.calls
    requests = run.df.assign(time=run.df["i"].map(sent_at), degraded=run.df["i"].map(degraded).fillna(True))
    events = cb.events if cb is not None else pd.DataFrame(columns=["time", "kind", "state", "from_state", "to_state"])
    return BreakerResult(breaker, requests, events, calls, (log[0]["time"], log[1]["time"]), run)


def plot_breaker(result: BreakerResult, title: str = "circuit breaker state while reviews hangs") -> Figure:
    """The breaker's state timeline (:func:`~labsvc.resilience.plot_state_timeline`) with the outage shaded."""
    end = float(result.requests["time"].max()) if len(result.requests) else None
    fig = plot_state_timeline(result.events, end=end, title=title)
    shade(fig.axes[0], *result.window, label="reviews failing")
    fig.axes[0].legend(loc="upper left", frameon=False, fontsize=8)
    return fig


# -- 2. failover: balancing plus breakers route around a dead instance -------------------

#: How the caller reaches the three inventory instances.
FAILOVER_STRATEGIES = {
    "round robin": "the network's round robin, nothing else",
    "breakers": "round robin that skips instances whose circuit breaker is open",
    "breakers + retry": "the same, and a failed call is retried once (on another instance)",
}

FAILOVER_BREAKER = dict(sliding_window_size=5, minimum_number_of_calls=5, failure_rate_threshold=50,
                        wait_duration_in_open_state="0.3s", permitted_number_of_calls_in_half_open_state=1)


def _inventory_app():
    app = create_service("inventory", description="stock levels")

    @app.get("/stock/{product_id}")
    async def stock(product_id: int):
        return {"product_id": product_id, "available": 7}

    return app


@dataclass
class FailoverResult:
    """One :func:`failover_experiment` run: requests (``served_by``), call log, breaker events."""

    strategy: str
    dead: str
    requests: pd.DataFrame
    calls: pd.DataFrame
    events: pd.DataFrame
    window: tuple[float, float]
    load: LoadRun = field(repr=False)

    def summary(self) -> pd.Series:
        """Errors seen by users, and calls the dead instance received while it was down."""
        start, end = self.window
        c = self.calls[(self.calls["instance"] == self.dead) & (self.calls["start"] >= start)
                       & (self.calls["start"] < end)]
        r = self.requests
        return pd.Series({"strategy": self.strategy, "requests": len(r), "errors": int((~r["ok"]).sum()),
                          "availability": float(r["ok"].mean()), "calls_to_dead_instance": len(c),
                          "p99_ms": float(r["latency"].quantile(0.99)) * 1000})


async def failover_experiment(
    strategy: str = "breakers + retry",
    *,
    instances: int = 3,
    dead: str = "inventory-2",
    at: float | str = "0.5s",
    down_for: float | str = "1s",
    rate: float = 100,
    duration: float | str = "2s",
    seed: int = 0,
    name: str | None = None,
) -> FailoverResult:
    """Users call ``http://inventory.svc`` while ``dead`` is stopped from ``at`` for ``down_for``."""
    if strategy not in FAILOVER_STRATEGIES:
        raise ConfigurationError(f"strategy={strategy!r} is not known; use one of {list(FAILOVER_STRATEGIES)}")
    net = Network(seed=seed, name=name or f"failover-{strategy.replace(' ', '').replace('+', '-')}")
    clock = NetworkClock(net)
    balancer = BreakerBalancer(clock=clock, **FAILOVER_BREAKER) if strategy != "round robin" else make_balancer("round_robin")
    net.add("inventory", _inventory_app, instances=instances, balancer=balancer)
    net.instance(dead)  # an unknown name fails here, before anything runs
    retry = None
    if strategy == "breakers + retry":
        retry = Retry(max_attempts=2, base="1ms", cap="1ms", jitter="none", clock=clock,
                      retry_on=(httpx.TransportError, CallNotPermitted), retry_on_result=is_server_error)
    served: dict[int, str] = {}
    sent_at: dict[int, float] = {}

    async def send(client, i):
        sent_at[i] = net.now()
        url = f"http://inventory.svc/stock/{1 + i % 10}"
        r = await (retry.call(client.get, url) if retry is not None else client.get(url))
        served[i] = r.headers.get(INSTANCE_HEADER, "")
        return r

    at_s, down_s = seconds(at, "at"), seconds(down_for, "down_for")
    log: list[dict] = []
    async with net:
        run, _ = await asyncio.gather(
            open_loop(net, send, rate=rate, duration=duration, caller="web", timeout=1.0, progress=False),
            run_schedule(net, [(at_s, f"{dead} down", lambda: net.stop_instance(dead)),
                               (at_s + down_s, f"{dead} back", lambda: net.start_instance(dead))], log),
        )
        calls = net.calls
    requests = run.df.assign(time=run.df["i"].map(sent_at), served_by=run.df["i"].map(served).fillna(""))
    events = balancer.events if isinstance(balancer, BreakerBalancer) else pd.DataFrame()
    return FailoverResult(strategy, dead, requests, calls, events, (log[0]["time"], log[1]["time"]), run)


async def compare_failover(strategies: Sequence[str] = tuple(FAILOVER_STRATEGIES), **options: Any) -> dict[str, FailoverResult]:
    """:func:`failover_experiment` for each strategy, run side by side (each on its own network)."""
    name = options.pop("name", None)
    results = await asyncio.gather(*(failover_experiment(s, name=_suffixed(name, s), **options) for s in strategies))
    return dict(zip(strategies, results))


def failover_summary(results: dict[str, FailoverResult]) -> pd.DataFrame:
    """One row per strategy (see :meth:`FailoverResult.summary`)."""
    return pd.DataFrame([r.summary() for r in results.values()]).reset_index(drop=True)


def plot_failover(results: dict[str, FailoverResult], bucket: float = 0.1,
                  title: str = "one of three instances dies") -> Figure:
    """One panel per strategy: requests answered by each instance, and failed ones, per time bucket."""
    fig = Figure(figsize=(8, 2.1 * len(results)), layout="constrained")
    axes = fig.subplots(len(results), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (strategy, res) in zip(axes, results.items()):
        r = res.requests.assign(bucket=(res.requests["time"] // bucket) * bucket)
        ok = r[r["ok"]].groupby(["bucket", "served_by"]).size().unstack(fill_value=0)
        for inst in ok.columns:
            ax.plot(ok.index + bucket / 2, ok[inst], marker=".", linewidth=1, label=inst)
        bad = r[~r["ok"]].groupby("bucket").size()
        if len(bad):
            ax.bar(bad.index + bucket / 2, bad.values, width=bucket * 0.9, color="#e76f51", alpha=0.6, label="failed")
        shade(ax, *res.window, label=f"{res.dead} down", color="#999999")
        ax.set_xlim(0, float(r["time"].max()))
        ax.set_title(f"{strategy}: {int((~r['ok']).sum())} failed requests", fontsize=10)
        ax.set_ylabel(f"per {bucket:g} s")
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title)
    return fig


# -- 3. retry storms ---------------------------------------------------------------------

#: The retry policies of :func:`retry_storm`, applied at every layer.
RETRY_POLICIES = {
    "none": "one attempt, no retries",
    "naive": "up to 3 attempts at every layer",
    "budget": "up to 3 attempts, but retries limited to 10 % of requests (a retry budget) at every layer",
    "budget + one layer": "the budget, and a service whose dependency failed tells its callers not to retry",
}
LAYERS = ("a", "b", "c")


def _retryable(response: Any) -> bool:
    """A 5xx is worth retrying unless the callee says it already retried (``retryable: false``)."""
    if not is_server_error(response):
        return False
    with contextlib.suppress(ValueError, AttributeError):
        return response.json().get("retryable", True) is not False
    return True


def _retry(policy: str, clock: Any, seed: str) -> Retry:
    if policy not in RETRY_POLICIES:
        raise ConfigurationError(f"policy={policy!r} is not known; use one of {list(RETRY_POLICIES)}")
    if policy == "none":
        return Retry(max_attempts=1, clock=clock)
    budget = None if policy == "naive" else RetryBudget(retry_ratio=0.1, min_retries_per_second=0, ttl=10, clock=clock)
    return Retry(max_attempts=3, base="2ms", cap="20ms", jitter="full", clock=clock, budget=budget,
                 rng=random.Random(seed), retry_on=httpx.TransportError,
                 retry_on_result=_retryable if policy == "budget + one layer" else is_server_error)


def _layer_app(name: str, downstream: str, retry: Retry, tell_callers: bool):
    app = create_service(name, description=f"layer {name}: calls {downstream}")

    @app.get("/work")
    async def work(request: Request):
        client = http(request, timeout=1.0)
        try:
            r = await retry.call(client.get, f"http://{downstream}.svc/work")
        except httpx.HTTPError as exc:
            r, why = None, type(exc).__name__
        if r is not None and r.status_code < 500:
            return {"done_by": name}
        why = f"{downstream} answered {r.status_code}" if r is not None else why
        # With tell_callers, the answer says "I already retried, do not retry me".
        extra = {"retryable": False} if tell_callers else {}
        raise Problem(503, "Dependency failed", type=problem_type("dependency-failed"),
                      detail=f"{name} could not get {downstream} to answer ({why})", **extra)

    app.state.retry = retry
    return app


def _bottom_app():
    app = create_service("c", description="the bottom layer")

    @app.get("/work")
    async def work():
        return {"done_by": "c"}

    return app


@dataclass
class StormResult:
    """One :func:`retry_storm` run: the call log and each layer's retry statistics."""

    policy: str
    user_requests: int
    calls: pd.DataFrame
    retries: pd.DataFrame
    load: LoadRun = field(repr=False)

    def amplification(self) -> pd.DataFrame:
        """Calls each layer received per user request (see :func:`amplification`)."""
        return amplification(self.calls, self.user_requests).assign(policy=self.policy)


def amplification(calls: pd.DataFrame, user_requests: int, layers: Sequence[str] = LAYERS) -> pd.DataFrame:
    """Calls received by each layer, and per user request, counted from a call log."""
    counts = calls.groupby("callee").size().reindex(list(layers), fill_value=0)
    return pd.DataFrame({"layer": list(layers), "calls": counts.values.astype(int),
                         "per_request": counts.values / max(1, user_requests)})


async def retry_storm(
    policy: str = "naive",
    *,
    requests: int = 100,
    rate: float = 100,
    seed: int = 0,
    name: str | None = None,
) -> StormResult:
    """``users -> a -> b -> c`` with ``c`` answering 503 to every call, every caller retrying by ``policy``."""
    net = Network(seed=seed, name=name or f"storm-{policy.replace(' ', '').replace('+', '-')}")
    clock = NetworkClock(net)
    one_layer = policy == "budget + one layer"
    retries = {layer: _retry(policy, clock, f"{seed}/{layer}") for layer in ("users", "a", "b")}
    net.add("a", lambda: _layer_app("a", "b", retries["a"], one_layer))
    net.add("b", lambda: _layer_app("b", "c", retries["b"], one_layer))
    net.add("c", _bottom_app)
    net.fault("c", error_rate=1.0)  # c is failing (overloaded): every call gets a 503

    async def send(client, i):
        return await retries["users"].call(client.get, "http://a.svc/work")

    async with net:
        run = await open_loop(net, send, rate=rate, requests=requests, caller="users", timeout=5.0, progress=False)
        calls = net.calls
    stats = pd.DataFrame([{"caller": k, **r.stats().to_dict()} for k, r in retries.items()])
    return StormResult(policy, requests, calls, stats, run)


async def compare_retry_policies(policies: Sequence[str] = tuple(RETRY_POLICIES), **options: Any) -> pd.DataFrame:
    """:func:`retry_storm` once per policy, side by side; amplification per layer in one table.

    The runs share the event loop but not a network, and the counts do not depend on timing.
    """
    name = options.pop("name", None)
    results = await asyncio.gather(*(retry_storm(p, name=_suffixed(name, p), **options) for p in policies))
    return pd.concat([r.amplification() for r in results], ignore_index=True)[["policy", "layer", "calls",
                                                                                "per_request"]]


def plot_retry_storm(table: pd.DataFrame, title: str = "calls per user request at each layer (c is failing)") -> Figure:
    """Grouped bars (log scale): calls each layer received per user request, one colour per policy."""
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax = fig.add_subplot()
    policies = list(pd.unique(table["policy"]))
    width = 0.8 / len(policies)
    palette = ["#8d99ae", "#e76f51", "#e9c46a", "#2a9d8f"]
    for k, p in enumerate(policies):
        rows = table[table["policy"] == p]
        xs = [i + k * width for i in range(len(rows))]
        bars = ax.bar(xs, rows["per_request"], width=width, label=p, color=palette[k % len(palette)])
        ax.bar_label(bars, labels=[f"{v:.2g}" for v in rows["per_request"]], fontsize=7)
    layers = list(pd.unique(table["layer"]))
    ax.set_xticks([i + width * (len(policies) - 1) / 2 for i in range(len(layers))], layers)
    ax.set_yscale("log")
    ax.set_ylabel("calls per user request")
    ax.set_xlabel("layer (users -> a -> b -> c)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(title)
    return fig


# -- 4. fan-out and the tail -------------------------------------------------------------

@dataclass(frozen=True)
class TailLatency(Latency):
    """Mostly ``fast``, but one call in ``1 / p_slow`` takes ``slow``: a latency with a long tail.

    The default is one answer in 200 taking 50 ms instead of 1-3 ms.

    >>> lat = TailLatency(fast=Fixed("2ms"), slow="50ms", p_slow=0.01)
    >>> rng = random.Random(1)
    >>> draws = [lat.sample(rng) for _ in range(10_000)]
    >>> abs(sum(d > 0.01 for d in draws) / len(draws) - 0.01) < 0.003
    True
    """

    fast: Any = Uniform("1ms", "3ms")
    slow: Any = "50ms"
    p_slow: float = 0.005

    def __post_init__(self) -> None:
        object.__setattr__(self, "fast", as_latency(self.fast))
        object.__setattr__(self, "slow", as_latency(self.slow))
        if not 0.0 <= self.p_slow <= 1.0:
            raise ConfigurationError(f"p_slow={self.p_slow!r} is a probability in [0, 1], e.g. 0.01")

    def sample(self, rng: random.Random) -> float:
        """One delay in seconds: ``slow`` with probability ``p_slow``, else a ``fast`` draw."""
        return (self.slow if rng.random() < self.p_slow else self.fast).sample(rng)

    @property
    def mean(self) -> float:
        """The average delay in seconds."""
        return self.p_slow * self.slow.mean + (1 - self.p_slow) * self.fast.mean


def fanout_model(
    fanouts: Sequence[int] = (1, 2, 5, 10, 20, 50, 100),
    *,
    latency: Latency | None = None,
    draws: int = 5_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Latency of a request that waits for ``n`` backends, by sampling ``latency`` (no network).

    Per ``n``: p50 and p99 of the slowest of ``n`` draws, the measured share
    of requests that met at least one slow backend, and the formula for that
    share, ``1 - (1 - p_slow) ** n``.
    """
    latency = latency or TailLatency()
    rng = random.Random(seed)
    biggest = max(fanouts)
    samples = np.array([[latency.sample(rng) for _ in range(biggest)] for _ in range(draws)])
    p_slow = getattr(latency, "p_slow", math.nan)
    threshold = _slow_threshold(latency)
    rows = []
    for n in fanouts:
        whole = samples[:, :n].max(axis=1)
        rows.append({"fanout": n, "p50_ms": float(np.quantile(whole, 0.5)) * 1000,
                     "p99_ms": float(np.quantile(whole, 0.99)) * 1000,
                     "slow_share": float((whole > threshold).mean()),
                     "predicted_slow_share": 1 - (1 - p_slow) ** n})
    return pd.DataFrame(rows)


def _slow_threshold(latency: Latency) -> float:
    """Halfway between the fast answers' mean and the slow answer: what counts as 'slow'."""
    fast, slow = getattr(latency, "fast", None), getattr(latency, "slow", None)
    if fast is None or slow is None:
        return 2 * latency.mean
    return (fast.mean + slow.mean) / 2


def _shard_app():
    app = create_service("shard", description="one slice of the search index")

    @app.get("/search")
    async def search():
        return {"hits": 1}

    return app


def _search_app(shards: int):
    app = create_service("search", description="asks every shard, answers when all have answered")

    @app.get("/search")
    async def search(n: int, request: Request):
        if not 1 <= n <= shards:
            raise Problem(422, "Bad fan-out", detail=f"n={n}; there are {shards} shards (1..{shards})")
        client = http(request, timeout=2.0)
        replies = await asyncio.gather(*(client.get(f"http://shard-{k}.svc/search") for k in range(1, n + 1)))
        return {"hits": sum(r.json()["hits"] for r in replies)}

    return app


async def fanout_experiment(
    fanouts: Sequence[int] = (1, 10),
    *,
    latency: Latency | None = None,
    requests: int = 200,
    rate: float = 200,
    seed: int = 0,
    name: str = "fanout",
) -> pd.DataFrame:
    """Users call ``search``, which waits for ``n`` shards (each answering after ``latency``), per ``n``.

    One row per ``n``: p50, p99, the share of slow requests, and the formula's share.
    """
    latency = latency or TailLatency()
    shards = max(fanouts)
    net = Network(seed=seed, name=name)
    net.add("shard", _shard_app, instances=shards)
    net.add("search", lambda: _search_app(shards))
    net.fault("shard", latency=latency)
    threshold = _slow_threshold(latency)
    p_slow = getattr(latency, "p_slow", math.nan)
    rows = []
    async with net:
        for n in fanouts:
            run = await open_loop(net, f"GET http://search.svc/search?n={n}", rate=rate, requests=requests,
                                  caller="users", timeout=2.0, progress=False)
            lat = run.df["latency"]
            rows.append({"fanout": n, "requests": len(lat), "p50_ms": float(lat.quantile(0.5)) * 1000,
                         "p99_ms": float(lat.quantile(0.99)) * 1000, "slow_share": float((lat > threshold).mean()),
                         "predicted_slow_share": 1 - (1 - p_slow) ** n})
    return pd.DataFrame(rows)


def plot_fanout(model: pd.DataFrame, measured: pd.DataFrame | None = None,
                title: str = "the tail grows with fan-out") -> Figure:
    """Left: p50 and p99 against fan-out. Right: share of slow requests, formula against measurement."""
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(model["fanout"], model["p50_ms"], marker="o", label="p50 (model)", color="#264653")
    left.plot(model["fanout"], model["p99_ms"], marker="o", label="p99 (model)", color="#e9c46a")
    right.plot(model["fanout"], model["predicted_slow_share"] * 100, label="1 - (1 - p)^n", color="#457b9d")
    if measured is not None and len(measured):
        left.scatter(measured["fanout"], measured["p99_ms"], marker="x", s=60, color="#e76f51", zorder=3,
                     label="p99 (network run)")
        right.scatter(measured["fanout"], measured["slow_share"] * 100, marker="x", s=60, color="#e76f51",
                      zorder=3, label="network run")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("backends per request (n)")
        ax.legend(fontsize=8, frameon=False)
    left.set_ylabel("request latency (ms)")
    right.set_ylabel("requests hitting a slow backend (%)")
    fig.suptitle(title)
    return fig
