"""The circuit breaker against resilience4j's CircuitBreakerStateMachineTest, on a fake clock."""

from __future__ import annotations

import asyncio

import httpx
import pandas as pd
import pytest

import labsvc.resilience as resilience
from labsvc.core.clock import FakeClock
from labsvc.core.errors import ConfigurationError, LabsvcError
from labsvc.resilience import (
    ALLOWED_TRANSITIONS,
    CallNotPermitted,
    CircuitBreaker,
    CircuitBreakerConfig,
    IllegalStateTransition,
    SlidingWindowType,
    State,
    is_server_error,
)
from labsvc.core import simtime


def make(clock: FakeClock, **settings) -> CircuitBreaker:
    """The setup of resilience4j's state machine test: window 5, half-open 4, wait 5 s."""
    defaults = dict(
        failure_rate_threshold=50,
        slow_call_rate_threshold=50,
        slow_call_duration_threshold="4s",
        wait_duration_in_open_state="5s",
        permitted_number_of_calls_in_half_open_state=4,
        minimum_number_of_calls=5,
        sliding_window_size=5,
    )
    return CircuitBreaker("test", clock=clock, **{**defaults, **settings})


def succeed(breaker: CircuitBreaker, duration: float = 0.0) -> None:
    assert breaker.try_acquire_permission()
    breaker.on_success(duration)


def fail(breaker: CircuitBreaker, duration: float = 0.0, exc: BaseException | None = None) -> None:
    assert breaker.try_acquire_permission()
    breaker.on_error(duration, exc or OSError("connection refused"))


def open_breaker(breaker: CircuitBreaker) -> None:
    for _ in range(5):
        fail(breaker)
    assert breaker.state is State.OPEN


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- configuration ------------------------------------------------------------


def test_defaults_are_resilience4js():
    cfg = CircuitBreakerConfig()
    assert cfg.failure_rate_threshold == 50
    assert cfg.slow_call_rate_threshold == 100
    assert cfg.slow_call_duration_threshold == 60
    assert cfg.wait_duration_in_open_state == 60
    assert cfg.permitted_number_of_calls_in_half_open_state == 10
    assert cfg.minimum_number_of_calls == 100
    assert cfg.sliding_window_type is SlidingWindowType.COUNT_BASED
    assert cfg.sliding_window_size == 100
    assert cfg.automatic_transition_from_open_to_half_open is False
    assert cfg.max_wait_duration_in_half_open_state == 0


@pytest.mark.parametrize(
    "setting, fix",
    [
        (dict(failure_rate_threshold=0), "above 0 and at most 100"),
        (dict(failure_rate_threshold=101), "above 0 and at most 100"),
        (dict(slow_call_rate_threshold=-5), "above 0 and at most 100"),
        (dict(minimum_number_of_calls=0), "at least 1"),
        (dict(sliding_window_size=0), "at least 1"),
        (dict(permitted_number_of_calls_in_half_open_state=2.5), "whole number"),
        (dict(sliding_window_type="sideways"), "COUNT_BASED, TIME_BASED"),
        (dict(wait_duration_in_open_state="-1s"), "zero or more"),
        (dict(wait_duration_in_open_state=0), "more than 0"),
        (dict(record_exceptions=[OSError]), "exception class"),
    ],
)
def test_bad_settings_raise_configuration_error_saying_what_to_fix(setting, fix):
    with pytest.raises(ConfigurationError, match=fix) as info:
        CircuitBreakerConfig(**setting)
    assert next(iter(setting)) in str(info.value)


def test_unknown_setting_is_named(clock):
    with pytest.raises(ConfigurationError, match="failure_threshold"):
        CircuitBreaker("x", clock=clock, failure_threshold=50)


def test_durations_and_window_type_accept_strings():
    cfg = CircuitBreakerConfig(wait_duration_in_open_state="250ms", sliding_window_type="time_based")
    assert cfg.wait_duration_in_open_state == 0.25
    assert cfg.sliding_window_type is SlidingWindowType.TIME_BASED


# --- CLOSED -> OPEN ---------------------------------------------------------------


def test_three_failures_in_a_window_of_five_open_the_breaker(clock):
    breaker = make(clock)
    succeed(breaker)
    succeed(breaker)
    fail(breaker)
    fail(breaker)
    assert breaker.failure_rate == -1  # 4 calls < minimum of 5: not computed
    assert breaker.state is State.CLOSED
    fail(breaker)
    assert breaker.state is State.OPEN
    assert breaker.failure_rate == 60
    assert breaker.metrics.failed_calls == 3


def test_failure_rate_exactly_at_the_threshold_opens(clock):
    breaker = make(clock, minimum_number_of_calls=4, sliding_window_size=4)
    succeed(breaker)
    succeed(breaker)
    fail(breaker)
    fail(breaker)
    assert breaker.state is State.OPEN
    assert breaker.failure_rate == 50


def test_never_opens_before_the_minimum_number_of_calls(clock):
    breaker = make(clock, minimum_number_of_calls=10, sliding_window_size=100)
    for _ in range(9):
        fail(breaker)
    assert breaker.state is State.CLOSED
    assert breaker.failure_rate == -1
    fail(breaker)
    assert breaker.state is State.OPEN
    assert breaker.failure_rate == 100


def test_count_window_minimum_is_capped_by_the_window_size(clock):
    # resilience4j uses min(minimumNumberOfCalls, slidingWindowSize) for a count window.
    breaker = make(clock, minimum_number_of_calls=100, sliding_window_size=5)
    for _ in range(5):
        fail(breaker)
    assert breaker.state is State.OPEN


def test_count_window_forgets_the_oldest_call(clock):
    breaker = make(clock, failure_rate_threshold=60)
    fail(breaker)
    fail(breaker)
    for _ in range(3):
        succeed(breaker)
    assert breaker.failure_rate == 40
    succeed(breaker)  # pushes the first failure out of the window of 5
    assert breaker.failure_rate == 20
    assert breaker.metrics.calls == 5


def test_slow_calls_open_the_breaker(clock):
    breaker = make(clock)
    succeed(breaker, duration=1)
    succeed(breaker, duration=1)
    succeed(breaker, duration=5)
    succeed(breaker, duration=5)
    assert breaker.state is State.CLOSED
    succeed(breaker, duration=5)  # 3 of 5 slower than 4 s = 60 % >= 50 %
    assert breaker.state is State.OPEN
    assert breaker.failure_rate == 0
    assert breaker.slow_call_rate == 60
    assert "slow-call rate 60% >= threshold 50%" in breaker.transitions["reason"].iloc[0]


def test_call_measures_duration_on_the_clock(clock):
    breaker = make(clock)

    async def slow_reply():
        await clock.sleep(5)  # a FakeClock sleep: returns at once, 5 s later
        return "ok"

    async def main():
        for _ in range(5):
            assert await breaker.call(slow_reply) == "ok"

    simtime.run(main())
    assert breaker.state is State.OPEN
    assert breaker.metrics.slow_calls == 5


# --- OPEN ------------------------------------------------------------------------


def test_open_rejects_and_moves_to_half_open_only_after_the_wait(clock):
    breaker = make(clock)
    open_breaker(breaker)
    clock.advance(3)
    assert not breaker.try_acquire_permission()
    assert breaker.state is State.OPEN
    clock.advance(2)  # exactly the wait: still OPEN (resilience4j waits until strictly after)
    assert not breaker.try_acquire_permission()
    clock.advance(1)  # +6 s
    assert breaker.try_acquire_permission()
    assert breaker.state is State.HALF_OPEN
    assert breaker.metrics.not_permitted_calls == 0  # fresh metrics for the trial


def test_without_automatic_transition_the_state_stays_open_until_asked(clock):
    breaker = make(clock)
    open_breaker(breaker)
    clock.advance(6)
    assert breaker.state is State.OPEN


def test_automatic_transition_happens_on_the_next_look_at_the_state(clock):
    breaker = make(clock, automatic_transition_from_open_to_half_open=True)
    open_breaker(breaker)
    clock.advance(3)
    assert breaker.state is State.OPEN
    clock.advance(3)
    assert breaker.state is State.HALF_OPEN
    # The event is stamped when the transition was due, not when it was noticed.
    assert breaker.transitions["time"].tolist() == [0.0, 5.0]


def test_acquire_permission_raises_call_not_permitted_with_retry_after(clock):
    breaker = make(clock)
    open_breaker(breaker)
    clock.advance(2)
    with pytest.raises(CallNotPermitted) as info:
        breaker.acquire_permission()
    assert isinstance(info.value, LabsvcError)
    assert info.value.state is State.OPEN
    assert info.value.retry_after == 3
    assert "'test' is OPEN" in str(info.value)
    assert breaker.metrics.not_permitted_calls == 1


def test_call_does_not_run_the_function_when_open(clock):
    breaker = make(clock)
    open_breaker(breaker)
    ran = []

    async def fetch():
        ran.append(1)

    with pytest.raises(CallNotPermitted):
        simtime.run(breaker.call(fetch))
    assert ran == []


# --- HALF_OPEN ---------------------------------------------------------------------


def half_open(clock: FakeClock, **settings) -> CircuitBreaker:
    breaker = make(clock, **settings)
    open_breaker(breaker)
    clock.advance(6)
    breaker.transition_to_half_open_state()
    return breaker


def test_half_open_admits_exactly_the_permitted_number_of_calls(clock):
    breaker = half_open(clock)
    assert [breaker.try_acquire_permission() for _ in range(5)] == [True, True, True, True, False]
    assert breaker.state is State.HALF_OPEN


def test_half_open_closes_after_enough_successful_trial_calls(clock):
    breaker = half_open(clock)
    for _ in range(4):
        assert breaker.try_acquire_permission()
    breaker.on_success(0)
    breaker.on_success(0)
    breaker.on_error(0, OSError())
    assert breaker.state is State.HALF_OPEN  # judged only when all 4 are in
    breaker.on_success(0)  # 1 of 4 failed = 25 % < 50 %
    assert breaker.state is State.CLOSED
    assert breaker.failure_rate == -1  # CLOSED starts with fresh metrics


def test_half_open_reopens_when_trial_calls_fail(clock):
    breaker = half_open(clock)
    succeed(breaker)
    succeed(breaker)
    fail(breaker)
    fail(breaker)  # 2 of 4 = 50 % >= 50 %
    assert breaker.state is State.OPEN
    assert not breaker.try_acquire_permission()  # a new wait starts


def three_trial_calls(clock: FakeClock, outcomes: list[str]) -> CircuitBreaker:
    """A half-open breaker with 3 trial calls and a 50 % threshold, fed ``outcomes`` in order."""
    breaker = half_open(clock, permitted_number_of_calls_in_half_open_state=3, failure_rate_threshold=50)
    for outcome in outcomes:
        assert breaker.state is State.HALF_OPEN  # no verdict before the last trial call is in
        if outcome == "success":
            succeed(breaker)
        else:
            fail(breaker)
    return breaker


def test_half_open_closes_with_one_failure_in_three_trial_calls(clock):
    # resilience4j judges the permitted trial calls together: 1 of 3 = 33 % < 50 %, so it closes
    # even though the second call failed.
    breaker = three_trial_calls(clock, ["success", "failure", "success"])
    assert breaker.state is State.CLOSED
    last = breaker.transitions.iloc[-1]
    assert (last["from_state"], last["to_state"]) == ("HALF_OPEN", "CLOSED")
    assert last["failure_rate"] == pytest.approx(100 / 3)
    assert "failure rate 33.3333% < 50%" in last["reason"]


def test_half_open_reopens_with_two_failures_in_three_trial_calls(clock):
    breaker = three_trial_calls(clock, ["failure", "success", "failure"])  # 2 of 3 = 67 % >= 50 %
    assert breaker.state is State.OPEN
    last = breaker.transitions.iloc[-1]
    assert (last["from_state"], last["to_state"]) == ("HALF_OPEN", "OPEN")
    assert last["failure_rate"] == pytest.approx(200 / 3)
    assert last["reason"].startswith("trial calls in HALF_OPEN: failure rate")
    assert not breaker.try_acquire_permission()  # a new wait starts


def test_cancelled_trial_call_gives_its_permission_back(clock):
    breaker = half_open(clock, permitted_number_of_calls_in_half_open_state=1)

    async def cancelled():
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        simtime.run(breaker.call(cancelled))
    assert breaker.try_acquire_permission()  # the one trial slot is free again


def test_max_wait_in_half_open_reopens(clock):
    breaker = half_open(clock, max_wait_duration_in_half_open_state="10s")
    succeed(breaker)
    clock.advance(10)
    assert breaker.state is State.OPEN
    assert "max_wait_duration_in_half_open_state" in breaker.transitions["reason"].iloc[-1]


# --- DISABLED and FORCED_OPEN ----------------------------------------------------------


def test_forced_open_is_left_only_by_an_explicit_transition(clock):
    breaker = make(clock, automatic_transition_from_open_to_half_open=True)
    breaker.transition_to_forced_open_state()
    for _ in range(3):
        clock.advance(3600)
        assert not breaker.try_acquire_permission()
        assert breaker.state is State.FORCED_OPEN
    with pytest.raises(CallNotPermitted, match="FORCED_OPEN"):
        breaker.acquire_permission()
    breaker.transition_to_closed_state()
    assert breaker.state is State.CLOSED
    assert breaker.try_acquire_permission()


def test_disabled_lets_everything_through_and_measures_nothing(clock):
    breaker = make(clock)
    breaker.transition_to_disabled_state()
    for _ in range(50):
        fail(breaker)
        clock.advance(60)
    assert breaker.state is State.DISABLED
    assert breaker.metrics.calls == 0
    assert set(breaker.events["kind"]) == {"state_transition"}
    breaker.transition_to_closed_state()
    assert breaker.state is State.CLOSED


# --- transitions, events, reset ----------------------------------------------------------


def test_closed_to_half_open_is_illegal(clock):
    breaker = make(clock)
    with pytest.raises(IllegalStateTransition) as info:
        breaker.transition_to_half_open_state()
    assert isinstance(info.value, LabsvcError)
    assert "from CLOSED to HALF_OPEN" in str(info.value)
    assert "DISABLED, FORCED_OPEN, OPEN" in str(info.value)
    assert breaker.state is State.CLOSED
    assert (State.CLOSED, State.HALF_OPEN) not in ALLOWED_TRANSITIONS
    assert len(ALLOWED_TRANSITIONS) == 24  # 25 pairs of 5 states, less CLOSED -> HALF_OPEN


def test_events_hold_the_transitions_in_order(clock):
    breaker = make(clock)
    seen = []
    breaker.on_state_transition(lambda e: seen.append((e.from_state, e.to_state)))
    open_breaker(breaker)
    clock.advance(1)
    breaker.try_acquire_permission()  # refused
    clock.advance(5)
    for _ in range(4):
        succeed(breaker)

    events = breaker.events
    assert isinstance(events, pd.DataFrame)
    assert {"time", "kind", "from_state", "to_state", "reason", "failure_rate", "slow_call_rate"} <= set(events)
    changes = breaker.transitions
    assert list(zip(changes["from_state"], changes["to_state"])) == [
        ("CLOSED", "OPEN"),
        ("OPEN", "HALF_OPEN"),
        ("HALF_OPEN", "CLOSED"),
    ]
    assert changes["time"].tolist() == [0.0, 6.0, 6.0]
    assert changes["failure_rate"].tolist() == [100.0, 100.0, 0.0]
    assert "failure rate 100% >= threshold 50%" in changes["reason"].iloc[0]
    assert seen == [(State.CLOSED, State.OPEN), (State.OPEN, State.HALF_OPEN), (State.HALF_OPEN, State.CLOSED)]
    assert events["kind"].tolist() == ["error"] * 5 + ["state_transition", "not_permitted", "state_transition"] + [
        "success"
    ] * 4 + ["state_transition"]
    assert events["time"].is_monotonic_increasing


def test_ignored_exceptions_do_not_count(clock):
    breaker = make(clock, ignore_exceptions=(KeyError,))
    for _ in range(10):
        fail(breaker, exc=KeyError("not found"))
    assert breaker.state is State.CLOSED
    assert breaker.metrics.calls == 0
    assert set(breaker.events["kind"]) == {"ignored"}


def test_exceptions_neither_recorded_nor_ignored_count_as_successes(clock):
    breaker = make(clock, record_exceptions=(OSError,))
    for _ in range(5):
        fail(breaker, exc=ValueError("bad input"))
    assert breaker.state is State.CLOSED
    assert breaker.failure_rate == 0


def test_record_result_counts_server_errors_and_returns_them(clock):
    breaker = make(clock, record_result=is_server_error)

    async def get():
        return httpx.Response(503)

    async def main():
        return [await breaker.call(get) for _ in range(5)]

    replies = simtime.run(main())
    assert [r.status_code for r in replies] == [503] * 5
    assert breaker.state is State.OPEN
    assert "ResultRecordedAsFailure" in breaker.events["exception"].iloc[0]


def test_decorate_wraps_sync_and_async_functions(clock):
    breaker = make(clock)

    @breaker.decorate
    async def async_lookup(x):
        return x * 2

    @breaker.decorate
    def sync_lookup(x):
        raise OSError("down")

    assert simtime.run(async_lookup(21)) == 42
    with pytest.raises(OSError):
        sync_lookup(1)
    assert breaker.metrics.calls == 2
    assert breaker.metrics.failed_calls == 1
    assert async_lookup.__name__ == "async_lookup"


def test_reset_closes_with_empty_metrics(clock):
    breaker = make(clock)
    open_breaker(breaker)
    breaker.reset()
    assert breaker.state is State.CLOSED
    assert breaker.metrics.calls == 0
    assert breaker.events["kind"].tolist()[-2:] == ["state_transition", "reset"]


def test_same_state_transition_restarts_silently(clock):
    breaker = make(clock)
    open_breaker(breaker)
    clock.advance(4)
    breaker.transition_to_open_state()  # the 5 s wait starts again
    clock.advance(4)
    assert not breaker.try_acquire_permission()
    assert len(breaker.transitions) == 1


# --- time-based window -----------------------------------------------------------------------


def test_time_window_drops_old_buckets_as_the_clock_moves(clock):
    breaker = make(clock, sliding_window_type="TIME_BASED", sliding_window_size=10, minimum_number_of_calls=3,
                   failure_rate_threshold=70)
    fail(breaker)
    fail(breaker)
    clock.advance(5)
    succeed(breaker)
    assert breaker.metrics.calls == 3
    assert breaker.failure_rate == pytest.approx(200 / 3)  # below 70 %: still CLOSED
    assert breaker.state is State.CLOSED
    clock.advance(5)  # t=10: the two failures at t=0 are out of the 10 s window
    assert breaker.metrics.calls == 1
    assert breaker.failure_rate == -1
    succeed(breaker)
    fail(breaker)
    assert breaker.state is State.CLOSED  # 1 of 3 = 33 %
    clock.advance(9)  # t=19: only the calls from t=10 remain
    assert breaker.metrics.calls == 2


def test_time_window_opens_on_failures_within_the_window(clock):
    breaker = make(clock, sliding_window_type="TIME_BASED", sliding_window_size=10, minimum_number_of_calls=4)
    for _ in range(4):
        fail(breaker)
        clock.advance(2)
    assert breaker.state is State.OPEN


# --- plots and exports ---------------------------------------------------------------------------


def test_plot_state_timeline_returns_a_figure_with_one_axes(clock):
    from matplotlib.figure import Figure

    from labsvc.resilience.plots import plot_state_timeline

    breaker = make(clock)
    open_breaker(breaker)
    clock.advance(6)
    breaker.try_acquire_permission()
    fig = plot_state_timeline(breaker.events)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    assert resilience.plot_state_timeline is plot_state_timeline


def test_package_exports_exactly_its_public_names():
    for name in resilience.__all__:
        assert getattr(resilience, name) is not None, name
    assert {"CircuitBreaker", "Retry", "RetryBudget", "Bulkhead", "Fallback", "timeout", "with_timeout",
            "CallNotPermitted", "BulkheadFull", "CallTimeoutError"} <= set(resilience.__all__)
    assert len(resilience.__all__) == len(set(resilience.__all__))
