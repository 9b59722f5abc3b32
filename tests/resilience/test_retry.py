"""Retries: attempts, backoff formulas (AWS), retry budget (Linkerd/Finagle), on a fake clock."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from labsvc.core.clock import FakeClock
from labsvc.core.errors import ConfigurationError
from labsvc.resilience import Jitter, Retry, RetryBudget, RetryPolicy, is_server_error
from labsvc.core import simtime


class Flaky:
    """Raises (or returns) the scripted outcomes in turn, counting calls."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self):
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def always_fails() -> Flaky:
    return Flaky(OSError("connection reset"))


# --- attempts ------------------------------------------------------------------


def test_gives_up_after_max_attempts_and_raises_the_last_error():
    clock = FakeClock()
    retry = Retry(max_attempts=3, base=1, jitter="none", clock=clock)
    fn = Flaky(OSError("first"), OSError("second"), OSError("third"))
    with pytest.raises(OSError, match="third"):
        simtime.run(retry.call(fn))
    assert fn.calls == 3
    assert clock.sleeps == [1.0, 2.0]
    assert clock.now() == 3.0
    assert retry.attempts["decision"].tolist() == ["retry", "retry", "attempts_exhausted"]


def test_returns_as_soon_as_an_attempt_succeeds():
    clock = FakeClock()
    retry = Retry(max_attempts=5, base=1, jitter="none", clock=clock)
    fn = Flaky(OSError("reset"), "ok")
    assert simtime.run(retry.call(fn)) == "ok"
    assert fn.calls == 2
    assert clock.sleeps == [1.0]
    assert retry.calls[["attempts", "retries", "outcome", "decision"]].values.tolist() == [[2, 1, "success", "done"]]


def test_non_retryable_errors_are_not_retried():
    clock = FakeClock()
    retry = Retry(max_attempts=3, retry_on=(httpx.TransportError,), clock=clock)
    fn = Flaky(ValueError("bad request body"))
    with pytest.raises(ValueError):
        simtime.run(retry.call(fn))
    assert fn.calls == 1
    assert clock.sleeps == []
    assert retry.stats()["not_retryable"] == 1


def test_retry_on_accepts_a_predicate():
    retry = Retry(max_attempts=3, retry_on=lambda exc: "retry me" in str(exc), clock=FakeClock())
    fn = Flaky(OSError("retry me"), OSError("fatal"))
    with pytest.raises(OSError, match="fatal"):
        simtime.run(retry.call(fn))
    assert fn.calls == 2


def test_results_can_be_retried_and_the_last_one_is_returned():
    clock = FakeClock()
    retry = Retry(max_attempts=3, retry_on_result=is_server_error, jitter="none", clock=clock)
    recovering = Flaky(httpx.Response(503), httpx.Response(200))
    assert simtime.run(retry.call(recovering)).status_code == 200
    down = Flaky(httpx.Response(503))
    assert simtime.run(retry.call(down)).status_code == 503  # no exception: the caller sees the reply
    assert down.calls == 3
    assert retry.calls["outcome"].tolist() == ["success", "failure"]
    assert retry.attempts["outcome"].tolist() == ["bad_result", "ok", "bad_result", "bad_result", "bad_result"]


def test_one_attempt_means_no_retries():
    fn = always_fails()
    with pytest.raises(OSError):
        simtime.run(Retry(max_attempts=1, clock=FakeClock()).call(fn))
    assert fn.calls == 1


def test_decorate_and_sync_functions():
    retry = Retry(max_attempts=2, clock=FakeClock())

    @retry.decorate
    async def lookup(x):
        return x + 1

    assert simtime.run(lookup(1)) == 2
    assert simtime.run(retry.call(lambda: "sync")) == "sync"


# --- backoff formulas -------------------------------------------------------------


def test_exponential_backoff_without_jitter_is_capped():
    policy = RetryPolicy(max_attempts=7, base=1, multiplier=2, cap=10, jitter=Jitter.NONE)
    assert policy.delays() == [1, 2, 4, 8, 10, 10]


def test_full_jitter_replays_the_aws_formula_exactly():
    policy = RetryPolicy(max_attempts=8, base=0.005, cap=0.1, jitter="full")
    expected_rng = random.Random(42)
    expected = [expected_rng.uniform(0, min(0.1, 0.005 * 2**n)) for n in range(7)]
    assert policy.delays(seed=42) == expected


@pytest.mark.parametrize("seed", range(50))
def test_full_jitter_stays_within_zero_and_the_capped_exponential(seed):
    policy = RetryPolicy(max_attempts=10, base=0.005, cap=0.5, jitter="full")
    for n, delay in enumerate(policy.delays(seed=seed)):
        assert 0 <= delay <= min(0.5, 0.005 * 2**n)


def test_equal_jitter_replays_the_formula_and_keeps_half():
    policy = RetryPolicy(max_attempts=8, base=0.01, cap=0.5, jitter="equal")
    rng = random.Random(3)
    expected = []
    for n in range(7):
        v = min(0.5, 0.01 * 2**n)
        expected.append(v / 2 + rng.uniform(0, v / 2))
    delays = policy.delays(seed=3)
    assert delays == expected
    for n, delay in enumerate(delays):
        v = min(0.5, 0.01 * 2**n)
        assert v / 2 <= delay <= v


def test_decorrelated_jitter_replays_the_formula():
    policy = RetryPolicy(max_attempts=10, base=0.01, cap=0.3, jitter="decorrelated")
    rng, previous, expected = random.Random(11), 0.01, []
    for _ in range(9):
        previous = min(0.3, rng.uniform(0.01, previous * 3))
        expected.append(previous)
    delays = policy.delays(seed=11)
    assert delays == expected
    previous = 0.01
    for delay in delays:
        assert 0.01 <= delay <= min(0.3, 3 * previous)
        previous = delay


def test_retry_sleeps_the_policy_delays_on_the_clock():
    clock = FakeClock()
    retry = Retry(max_attempts=5, base=0.1, cap=1, jitter="full", clock=clock, rng=random.Random(5))
    with pytest.raises(OSError):
        simtime.run(retry.call(always_fails()))
    assert clock.sleeps == RetryPolicy(max_attempts=5, base=0.1, cap=1, jitter="full").delays(random.Random(5))
    assert retry.attempts["delay"].tolist()[:4] == clock.sleeps
    assert retry.calls["total_delay"].iloc[0] == pytest.approx(sum(clock.sleeps))


def test_same_seed_same_delays():
    def run(seed):
        clock = FakeClock()
        retry = Retry(max_attempts=4, base=0.05, jitter="decorrelated", seed=seed, clock=clock)
        with pytest.raises(OSError):
            simtime.run(retry.call(always_fails()))
        return clock.sleeps

    assert run(1) == run(1)
    assert run(1) != run(2)


@pytest.mark.parametrize(
    "setting, fix",
    [
        (dict(max_attempts=0), "at least 1"),
        (dict(jitter="random"), "none, full, equal, decorrelated"),
        (dict(base=2, cap=1), "make cap at least base"),
        (dict(multiplier=0.5), "at least 1"),
        (dict(base="-1s"), "zero or more"),
        (dict(retry_on="OSError"), "exception class"),
    ],
)
def test_bad_policies_raise_configuration_error(setting, fix):
    with pytest.raises(ConfigurationError, match=fix):
        RetryPolicy(**setting)


def test_unknown_retry_setting_is_named():
    with pytest.raises(ConfigurationError, match="attempts"):
        Retry(attempts=3)


# --- retry budget -------------------------------------------------------------------


def test_budget_keeps_retries_near_the_ratio_under_total_failure():
    clock = FakeClock()  # never advanced: every request falls in one ttl window
    budget = RetryBudget(retry_ratio=0.1, min_retries_per_second=1, ttl=10, clock=clock)
    retry = Retry(max_attempts=3, base=0, jitter="none", budget=budget, clock=clock)

    async def main():
        for _ in range(1000):
            with pytest.raises(OSError):
                await retry.call(always_fails())

    simtime.run(main())
    stats = retry.stats()
    allowance = 1 * 10  # min_retries_per_second * ttl
    assert 100 <= stats["retries"] <= 0.1 * 1000 + allowance
    assert stats["attempts"] == 1000 + stats["retries"]  # load on the callee: about 1.1x, not 3x
    assert stats["budget_exhausted"] > 800
    assert budget.refusals == stats["budget_exhausted"]


def test_without_a_budget_a_dead_callee_sees_three_times_the_load():
    retry = Retry(max_attempts=3, base=0, jitter="none", clock=FakeClock())

    async def main():
        for _ in range(100):
            with pytest.raises(OSError):
                await retry.call(always_fails())

    simtime.run(main())
    assert retry.stats()["attempts"] == 300


def test_budget_refills_from_new_requests_but_deposits_expire():
    clock = FakeClock()
    budget = RetryBudget(retry_ratio=0.1, min_retries_per_second=0, ttl=10, clock=clock)
    for _ in range(10):
        budget.deposit()  # ten requests earn one retry
    assert budget.available == pytest.approx(1)
    clock.advance(11)  # ... but only for ttl seconds
    assert not budget.try_withdraw()
    for _ in range(20):
        budget.deposit()
    assert budget.try_withdraw()
    assert budget.try_withdraw()
    assert not budget.try_withdraw()


def test_budget_reserve_allows_min_retries_per_second_without_requests():
    budget = RetryBudget(retry_ratio=0.2, min_retries_per_second=2, ttl=5, clock=FakeClock())
    assert [budget.try_withdraw() for _ in range(11)] == [True] * 10 + [False]


def test_linkerd_defaults():
    budget = RetryBudget()
    assert (budget.retry_ratio, budget.min_retries_per_second, budget.ttl) == (0.2, 10, 10)


def test_bad_budget_raises_configuration_error():
    with pytest.raises(ConfigurationError, match="retry_ratio"):
        RetryBudget(retry_ratio=-0.1)
    with pytest.raises(ConfigurationError, match="ttl"):
        RetryBudget(ttl=0)
