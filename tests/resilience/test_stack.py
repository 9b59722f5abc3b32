"""stack(): guards composed into one, outermost first, on a fake clock (nothing sleeps on the wall clock)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from labsvc.core.clock import FakeClock
from labsvc.core.errors import ConfigurationError
from labsvc.resilience import (
    Bulkhead,
    BulkheadFull,
    CallNotPermitted,
    CallTimeoutError,
    CircuitBreaker,
    Fallback,
    Guard,
    Retry,
    Stack,
    State,
    Timeout,
    stack,
    timeout,
)
from labsvc.core import simtime


class Callee:
    """An async callee that counts the calls reaching it and fails (or answers) as told."""

    def __init__(self, clock: FakeClock, *, fail: bool | int = True, takes: float = 0.0) -> None:
        # fail: True (always), False (never), or how many calls fail before it answers
        self.clock, self.fail, self.takes, self.calls = clock, fail, takes, 0

    async def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.takes:
            await self.clock.sleep(self.takes)  # a fake clock moves at once
        if self.fail is True or (self.fail is not False and self.calls <= self.fail):
            raise httpx.ConnectError("reviews is down")
        return ("ok", args, kwargs)


class Recorder(Guard):
    """A guard that writes down when a call enters and leaves it."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    async def _execute(self, attempt):
        self.log.append(f"{self.name} in")
        try:
            return await attempt()
        finally:
            self.log.append(f"{self.name} out")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def breaker(clock: FakeClock, calls: int = 4) -> CircuitBreaker:
    # Opens once `calls` outcomes are recorded and half of them failed; stays open 60 s.
    return CircuitBreaker("reviews", clock=clock, sliding_window_size=calls, minimum_number_of_calls=calls)


def retry(clock: FakeClock, **settings) -> Retry:
    return Retry(**{"max_attempts": 3, "base": 0.1, "jitter": "none", "clock": clock, **settings})


async def call_many(guard: Guard, fn, n: int) -> list[str]:
    """Call ``guard`` n times; the name of what each call raised ("ok" when it returned)."""
    outcomes = []
    for _ in range(n):
        try:
            await guard.call(fn)
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    return outcomes


async def call_many_pages(page) -> list[str]:
    """Call a decorated page function for products 0, 1 and 2."""
    return [await page(n) for n in range(3)]


# --- order ---------------------------------------------------------------------------


def test_the_first_guard_is_the_outermost():
    log: list[str] = []

    async def fn():
        log.append("fn")
        return 42

    guard = stack(Recorder("a", log), Recorder("b", log), Recorder("c", log))
    assert simtime.run(guard.call(fn)) == 42
    assert log == ["a in", "b in", "c in", "fn", "c out", "b out", "a out"]


def test_a_retry_outside_the_breaker_sees_call_not_permitted_once_it_opens(clock):
    cb, r, reviews = breaker(clock, calls=2), retry(clock, max_attempts=5), Callee(clock)
    with pytest.raises(CallNotPermitted):
        simtime.run(stack(r, cb).call(reviews))
    # Each attempt is judged by the breaker: two failures open it, and the
    # three attempts left are refused without reaching reviews.
    assert reviews.calls == 2
    assert cb.state is State.OPEN
    errors = r.attempts["error"].str.split(":").str[0].tolist()
    assert errors == ["ConnectError"] * 2 + ["CallNotPermitted"] * 3
    assert r.attempts["decision"].iloc[-1] == "attempts_exhausted"


def test_a_retry_that_does_not_retry_call_not_permitted_stops_at_the_open_breaker(clock):
    cb, r, reviews = breaker(clock, calls=2), retry(clock, max_attempts=5, retry_on=httpx.TransportError), Callee(clock)
    with pytest.raises(CallNotPermitted):
        simtime.run(stack(r, cb).call(reviews))
    assert reviews.calls == 2
    assert r.attempts["decision"].tolist() == ["retry", "retry", "not_retryable"]
    assert clock.sleeps == [0.1, 0.2]  # no backoff wasted on the open breaker


@pytest.mark.parametrize(
    "retry_outside, reaching_reviews, refused, outcomes",
    [
        # Retry(CircuitBreaker(fn)), resilience4j's Spring order: every attempt counts in the
        # window, the breaker opens during the 2nd call and later attempts are refused.
        (True, 4, 2 + 8 * 3, ["ConnectError"] + ["CallNotPermitted"] * 9),
        # CircuitBreaker(Retry(fn)): the breaker sees one outcome per call, after three
        # attempts each, so reviews takes 3 calls per failed call until the 4th call opens it.
        (False, 4 * 3, 6, ["ConnectError"] * 4 + ["CallNotPermitted"] * 6),
    ],
)
def test_the_order_changes_what_the_callee_sees(clock, retry_outside, reaching_reviews, refused, outcomes):
    cb, r, reviews = breaker(clock), retry(clock), Callee(clock)
    guard = stack(r, cb) if retry_outside else stack(cb, r)
    assert simtime.run(call_many(guard, reviews, 10)) == outcomes
    assert reviews.calls == reaching_reviews
    assert cb.state is State.OPEN
    assert cb.metrics.failed_calls == 4
    assert cb.metrics.not_permitted_calls == refused


def test_the_timeout_bounds_each_attempt_inside_a_retry(clock):
    limit, r = Timeout("1s", clock=clock), retry(clock, retry_on=TimeoutError)
    reviews = Callee(clock, fail=False, takes=5)  # answers, but after 5 s
    with pytest.raises(CallTimeoutError, match="within 1 s"):
        simtime.run(stack(r, limit).call(reviews))
    assert reviews.calls == 3
    assert (limit.calls, limit.timeouts) == (3, 3)
    assert r.attempts["outcome"].tolist() == ["error"] * 3
    assert clock.now() == pytest.approx(3 * 5 + 0.1 + 0.2)


def test_a_timeout_outside_the_retry_bounds_the_whole_call(clock):
    limit, r = Timeout("1s", clock=clock), retry(clock)
    reviews = Callee(clock, fail=2, takes=0.4)  # 0.4 s a call; the third one answers
    with pytest.raises(CallTimeoutError, match="within 1 s"):
        simtime.run(stack(limit, r).call(reviews))
    # Every attempt was quick, but with the backoff the answer came at 0.4 + 0.1 + 0.4 + 0.2 + 0.4 = 1.5 s:
    # one limit around the retry bounds the whole call, not each attempt.
    assert reviews.calls == 3
    assert r.attempts["outcome"].tolist() == ["error", "error", "ok"]
    assert (limit.calls, limit.timeouts) == (1, 1)


# --- fallback, bulkhead, success ----------------------------------------------------------


def test_the_fallback_turns_the_final_failure_into_a_value(clock):
    cb = breaker(clock, calls=2)
    fallback = Fallback(lambda exc: f"no reviews ({type(exc).__name__})")
    guard = stack(fallback, retry(clock), cb, Timeout("1s", clock=clock))
    reviews = Callee(clock)
    assert simtime.run(guard.call(reviews)) == "no reviews (CallNotPermitted)"
    assert reviews.calls == 2
    assert (fallback.calls, fallback.fell_back) == (1, 1)
    assert fallback.events["reason"].iloc[0].startswith("CallNotPermitted")


def test_the_fallback_leaves_failures_it_was_not_told_about(clock):
    async def bug():
        raise KeyError("a bug, not an outage")

    with pytest.raises(KeyError):
        simtime.run(stack(Fallback("cached"), retry(clock, retry_on=httpx.TransportError)).call(bug))


def test_a_full_bulkhead_inside_the_stack_falls_back():
    bulkhead, fallback = Bulkhead("reviews", max_concurrent_calls=1), Fallback("busy")
    guard = stack(fallback, bulkhead)
    release = asyncio.Event()

    async def slow():
        await release.wait()
        return "page"

    async def main():
        first = asyncio.create_task(guard.call(slow))
        await asyncio.sleep(0)  # the first call takes the only slot
        second = await guard.call(slow)
        release.set()
        return await first, second

    assert simtime.run(main()) == ("page", "busy")
    assert (bulkhead.admitted, bulkhead.rejected) == (1, 1)
    assert fallback.events["reason"].iloc[0].startswith(BulkheadFull.__name__)


def test_a_success_passes_every_guard_once_with_its_arguments(clock):
    cb, r, limit = breaker(clock), retry(clock), Timeout("1s", clock=clock)
    bulkhead, fallback = Bulkhead(), Fallback(None)
    reviews = Callee(clock, fail=False)
    guard = stack(fallback, r, cb, limit, bulkhead)
    assert simtime.run(guard.call(reviews, 7, stars=4)) == ("ok", (7,), {"stars": 4})
    assert reviews.calls == 1
    assert (fallback.calls, r.stats()["calls"], cb.metrics.calls, limit.calls, bulkhead.admitted) == (1, 1, 1, 1, 1)
    assert simtime.run(guard.call(lambda x: x + 1, 1)) == 2  # sync functions work too


def test_decorate_wraps_a_function_in_the_whole_stack(clock):
    cb = breaker(clock, calls=2)
    guard = stack(Fallback("cached"), cb)

    @guard.decorate
    async def reviews(product_id):
        raise httpx.ConnectError(f"reviews of {product_id} are down")

    assert reviews.__name__ == "reviews"
    assert simtime.run(call_many_pages(reviews)) == ["cached"] * 3
    assert cb.state is State.OPEN and cb.metrics.not_permitted_calls == 1


# --- what a stack is -------------------------------------------------------------------


def test_a_stack_is_a_guard_and_a_nested_stack_is_flattened(clock):
    a, b, c = Fallback(0), retry(clock), breaker(clock)
    inner = stack(b, c)
    outer = stack(a, inner)
    assert isinstance(outer, Stack) and isinstance(outer, Guard)
    assert outer.guards == (a, b, c)
    assert repr(outer).startswith("stack(Fallback(") and "CircuitBreaker('reviews'" in repr(outer)
    assert stack(a).guards == (a,)


def test_every_pattern_is_a_guard(clock):
    for pattern in (Timeout(1), retry(clock), breaker(clock), Bulkhead(), Fallback(None)):
        assert isinstance(pattern, Guard)
    with pytest.raises(TypeError):
        Guard()  # abstract: a guard says what it does around a call


def test_two_guards_of_one_kind_are_two_layers(clock):
    overall, per_attempt = Timeout("10s", clock=clock), Timeout("1s", clock=clock)
    reviews = Callee(clock, fail=False, takes=2)
    with pytest.raises(CallTimeoutError, match="within 1 s"):
        simtime.run(stack(overall, retry(clock, retry_on=TimeoutError), per_attempt).call(reviews))
    assert (overall.calls, per_attempt.calls, reviews.calls) == (1, 3, 3)


# --- validation --------------------------------------------------------------------------


def test_an_empty_stack_says_what_to_pass():
    with pytest.raises(ConfigurationError, match="at least one guard"):
        stack()


@pytest.mark.parametrize(
    "not_a_guard, hint",
    [
        (42, "argument 2 is 42, not a guard; a guard is a Fallback, Retry"),
        (Retry, "the class Retry; make one first"),
        ([Fallback(None)], "separate arguments"),
        (timeout, r"Timeout\(seconds\), not the timeout\(\) function"),
        (lambda: None, r"stack\(\.\.\.\)\.decorate\(fn\)"),
    ],
)
def test_an_argument_that_is_not_a_guard_is_named(not_a_guard, hint):
    with pytest.raises(ConfigurationError, match=hint):
        stack(Fallback(None), not_a_guard)


def test_the_same_guard_twice_is_refused(clock):
    cb = breaker(clock)
    with pytest.raises(ConfigurationError, match=r"twice \(places 1 and 3.*second CircuitBreaker"):
        stack(cb, retry(clock), cb)
    with pytest.raises(ConfigurationError, match="twice"):
        stack(cb, stack(retry(clock), cb))  # also through a nested stack
