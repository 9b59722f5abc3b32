"""Notebook 10, experiment 1: a circuit breaker in front of a dependency that hangs or fails.

``web`` calls ``reviews`` through a breaker, a timeout and a fallback;
:func:`breaker_experiment` gives the breaker's state timeline next to what
the users saw. Re-exported by :mod:`labsvc.resilience.lab`.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
from fastapi import Request

from labsvc.core.errors import ConfigurationError
from labsvc.core.load import LoadRun, open_loop
from labsvc.core.network import Network
from labsvc.resilience import CallNotPermitted, CircuitBreaker, Fallback, is_server_error
from labsvc.core.service import create_service, http
from labsvc.core.experiment import NetworkClock, run_schedule, seconds
from labsvc.core.simtime import experiment
from labsvc.resilience._clock import NanosecondClock


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

    def state_changes(self) -> pd.DataFrame:
        """The breaker's state changes: time, from_state, to_state and why, in a few words.

        ``why`` is the breaker's own ``reason``, shortened so that a table
        shows it whole: "trial calls in HALF_OPEN: ..." reads "trial calls:
        ...", and a slow-call rate of 0 %, which decided nothing, is left out.
        Empty without a breaker.
        """
        columns = ["time", "from_state", "to_state", "why"]
        if not len(self.events) or "kind" not in self.events:
            return pd.DataFrame(columns=columns)
        changes = self.events[self.events["kind"] == "state_transition"]
        why = (changes["reason"].astype(str)
               .str.replace("trial calls in HALF_OPEN: ", "trial calls: ", regex=False)
               .str.replace(r" and slow-call rate 0% < [0-9.]+%", "", regex=True))
        return changes.assign(why=why)[columns]

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


@experiment
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
    clock = NanosecondClock(NetworkClock(net))  # exact in every pass (labsvc.resilience._clock)
    cb = CircuitBreaker("reviews", clock=clock, **{**BREAKER_SETTINGS, **breaker_settings}) if breaker else None
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


# -- a half-open trial, call by call ---------------------------------------------------

@dataclass
class HalfOpenTrial:
    """What a half-open breaker did with its trial calls (:func:`half_open_trial`).

    ``outcomes``: the trial calls in order ("success" or "failure");
    ``state``: the breaker's state once they were all judged; ``failure_rate``:
    their failure rate in percent; ``threshold``: the failure-rate threshold;
    ``events``: the breaker's events (``CircuitBreaker.events``).
    """

    outcomes: tuple[str, ...]
    state: str
    failure_rate: float
    threshold: float
    events: pd.DataFrame = field(repr=False)


def half_open_trial(outcomes: Any = ("success", "failure", "success"), **breaker_settings: Any) -> HalfOpenTrial:
    """Open a breaker with :data:`BREAKER_SETTINGS`, let its wait pass, and report ``outcomes`` as its trial calls.

    A :class:`CircuitBreaker` on a :class:`~labsvc.core.clock.FakeClock`,
    driven by hand: there are ``permitted_number_of_calls_in_half_open_state``
    trial calls (3 with the settings of :func:`breaker_experiment`), so
    ``outcomes`` lists that many. The breaker judges them together, as
    resilience4j does, once the last one is in.

    >>> half_open_trial(["success", "success", "success"]).state
    'CLOSED'
    """
    from labsvc.core.clock import FakeClock

    outcomes = tuple(outcomes) if not isinstance(outcomes, str) else (outcomes,)
    settings = {**BREAKER_SETTINGS, **breaker_settings}
    clock = FakeClock()
    cb = CircuitBreaker("reviews", clock=clock, **settings)
    permitted = cb.config.permitted_number_of_calls_in_half_open_state
    unknown = [o for o in outcomes if o not in ("success", "failure")]
    if unknown or len(outcomes) != permitted:
        raise ConfigurationError(
            f"outcomes={list(outcomes)!r}: give {permitted} trial calls, each 'success' or 'failure' "
            f"(permitted_number_of_calls_in_half_open_state is {permitted})")
    cb.transition_to_open_state()
    clock.advance(cb.config.wait_duration_in_open_state + 0.001)
    for outcome in outcomes:
        if not cb.try_acquire_permission():  # cannot happen with exactly `permitted` calls; kept honest
            break
        clock.advance(0.001)
        if outcome == "success":
            cb.on_success(0.001)
        else:
            cb.on_error(0.001, httpx.ConnectError("reviews refused the trial call"))
    judged = cb.transitions.iloc[-1]
    return HalfOpenTrial(outcomes, str(cb.state), float(judged["failure_rate"]), cb.config.failure_rate_threshold,
                         cb.events)
