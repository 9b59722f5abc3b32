"""Notebook 10, experiment 2: failover around a dead instance with a breaker per instance.

:class:`BreakerBalancer` keeps one circuit breaker per instance and skips
the open ones; :func:`failover_experiment` compares it with plain round
robin while one ``inventory`` instance is down. Re-exported by
:mod:`labsvc.resilience.lab`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from labsvc.discovery.balancing import Balancer, make_balancer
from labsvc.core.errors import ConfigurationError
from labsvc.core.load import LoadRun, open_loop
from labsvc.core.network import INSTANCE_HEADER, Network
from labsvc.resilience import CallNotPermitted, CircuitBreaker, Retry, State, is_server_error
from labsvc.core.service import create_service
from labsvc.core.experiment import NetworkClock, run_schedule, seconds, suffixed
from labsvc.core.simtime import experiment
from labsvc.resilience._clock import NanosecondClock


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

    >>> from labsvc.core.clock import FakeClock
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


@experiment
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
    clock = NanosecondClock(NetworkClock(net))  # exact in every pass (labsvc.resilience._clock)
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


@experiment
async def compare_failover(strategies: Sequence[str] = tuple(FAILOVER_STRATEGIES), **options: Any) -> dict[str, FailoverResult]:
    """:func:`failover_experiment` for each strategy, run side by side (each on its own network)."""
    name = options.pop("name", None)
    results = await asyncio.gather(*(failover_experiment(s, name=suffixed(name, s), **options) for s in strategies))
    return dict(zip(strategies, results))


def failover_summary(results: dict[str, FailoverResult]) -> pd.DataFrame:
    """One row per strategy (see :meth:`FailoverResult.summary`)."""
    return pd.DataFrame([r.summary() for r in results.values()]).reset_index(drop=True)
