"""Notebook 10, experiment 3: retry storms in a chain of services.

``users -> a -> b -> c`` with ``c`` failing; :func:`retry_storm` counts,
from the call log, how many calls each layer receives per user request under
each retry policy. Re-exported by :mod:`labsvc.resilience.lab`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
from fastapi import Request

from labsvc.core.errors import ConfigurationError
from labsvc.core.load import LoadRun, open_loop
from labsvc.core.network import Network
from labsvc.core.problems import Problem, problem_type
from labsvc.resilience import Retry, RetryBudget, is_server_error
from labsvc.core.service import create_service, http
from labsvc.core.experiment import NetworkClock, suffixed
from labsvc.core.simtime import experiment
from labsvc.resilience._clock import NanosecondClock


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


@experiment
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
    clock = NanosecondClock(NetworkClock(net))  # exact in every pass (labsvc.resilience._clock)
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


@experiment
async def compare_retry_policies(policies: Sequence[str] = tuple(RETRY_POLICIES), **options: Any) -> pd.DataFrame:
    """:func:`retry_storm` once per policy, side by side; amplification per layer in one table.

    The runs share the event loop but not a network, and the counts do not depend on timing.
    """
    name = options.pop("name", None)
    results = await asyncio.gather(*(retry_storm(p, name=suffixed(name, p), **options) for p in policies))
    return pd.concat([r.amplification() for r in results], ignore_index=True)[["policy", "layer", "calls",
                                                                                "per_request"]]


# -- what a retry budget's floor does at low traffic ---------------------------------------

#: Retry budgets as their sources set them: the SRE book's client-side 10 % (no floor), and the
#: 20 % plus a floor of 10 retries per second (10 s window) that Linkerd and Finagle default to.
BUDGETS = {
    "10 %, no floor (SRE book)": dict(retry_ratio=0.1, min_retries_per_second=0, ttl=10),
    "20 % + 10/s floor (Linkerd, Finagle)": dict(retry_ratio=0.2, min_retries_per_second=10, ttl=10),
}


def budget_floor(rates: Sequence[float] = (1, 10, 100, 1000), *, duration: float = 10.0,
                 budgets: dict[str, dict] | None = None) -> pd.DataFrame:
    """Share of failed requests a :class:`RetryBudget` lets retry once, at each request rate.

    A caller sends ``rate`` requests per second for ``duration`` seconds
    (within one budget ``ttl``); every first attempt fails and asks the
    budget for one retry. One row per budget and rate: requests, retries
    allowed, and retries per request. The budget is the library's
    :class:`RetryBudget` on a fake clock, fed by hand: deposit per request,
    withdraw per retry, as :class:`Retry` does.

    >>> t = budget_floor((1,), budgets={"floor": dict(retry_ratio=0.2, min_retries_per_second=10, ttl=10)})
    >>> t[["requests", "retries"]].values.tolist()
    [[10, 10]]
    """
    from labsvc.core.clock import FakeClock

    rows = []
    for label, settings in (budgets if budgets is not None else BUDGETS).items():
        for rate in rates:
            if not rate > 0:
                raise ConfigurationError(f"rate={rate!r}: a request rate is positive (requests per second)")
            clock = FakeClock()
            budget = RetryBudget(clock=clock, **settings)
            n = int(round(rate * duration))
            retries = 0
            for i in range(n):
                clock.advance(i / rate - clock.now())
                budget.deposit()
                retries += budget.try_withdraw()
            rows.append({"budget": label, "rate": rate, "requests": n, "retries": retries,
                         "retries_per_request": retries / n if n else float("nan")})
    return pd.DataFrame(rows)
