"""A circuit breaker with resilience4j's semantics, small enough to read.

A circuit breaker stops calling a callee that keeps failing, so the caller
fails fast instead of piling up waiting requests, and the callee gets room
to recover. It is a state machine:

- **CLOSED**: calls pass; outcomes go into a sliding window. When the
  failure rate (or the slow-call rate) is at or above its threshold, the
  breaker opens. Rates read -1 until ``minimum_number_of_calls`` outcomes
  are recorded, so one early failure cannot open it.
- **OPEN**: every call is rejected with :class:`CallNotPermitted`. After
  ``wait_duration_in_open_state`` the next permission check (or, with
  ``automatic_transition_from_open_to_half_open``, the next look at the
  state) moves it to HALF_OPEN.
- **HALF_OPEN**: exactly ``permitted_number_of_calls_in_half_open_state``
  trial calls pass; once they are all recorded the breaker closes (rates
  below thresholds) or opens again.
- **DISABLED** (every call passes, nothing is measured) and **FORCED_OPEN**
  (every call is rejected): left only by an explicit ``transition_to_*``.

Allowed transitions are the explicit table :data:`ALLOWED_TRANSITIONS`
(resilience4j's ``StateTransition``); any other raises
:class:`IllegalStateTransition`. Every transition and every call outcome is
an event; :attr:`CircuitBreaker.events` is a pandas DataFrame.

>>> from labsvc.core.clock import FakeClock
>>> clock = FakeClock()
>>> breaker = CircuitBreaker("catalog", clock=clock, sliding_window_size=5,
...                          minimum_number_of_calls=5, wait_duration_in_open_state="5s")
>>> for ok in [True, True, False, False, False]:
...     breaker.try_acquire_permission()
...     breaker.on_success(0.01) if ok else breaker.on_error(0.01, OSError("refused"))
True
True
True
True
True
>>> breaker.state, breaker.failure_rate
(<State.OPEN: 'OPEN'>, 60.0)
>>> breaker.try_acquire_permission()
False
>>> clock.advance(6)
>>> breaker.try_acquire_permission(), breaker.state
(True, <State.HALF_OPEN: 'HALF_OPEN'>)
"""

from __future__ import annotations

import inspect
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from typing import Any, TypeVar

import pandas as pd

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError

# The breaker's parts live in private modules; importing every name here
# keeps ``from labsvc.resilience.circuit_breaker import X`` working as before.
from labsvc.resilience._config import (
    _CONFIG_FIELDS, DEFAULT_FAILURE_RATE_THRESHOLD, DEFAULT_MAX_WAIT_DURATION_IN_HALF_OPEN_STATE,
    DEFAULT_MINIMUM_NUMBER_OF_CALLS, DEFAULT_PERMITTED_NUMBER_OF_CALLS_IN_HALF_OPEN_STATE, DEFAULT_SLIDING_WINDOW_SIZE,
    DEFAULT_SLIDING_WINDOW_TYPE, DEFAULT_SLOW_CALL_DURATION_THRESHOLD, DEFAULT_SLOW_CALL_RATE_THRESHOLD,
    DEFAULT_WAIT_DURATION_IN_OPEN_STATE, CircuitBreakerConfig, SlidingWindowType,
)
from labsvc.resilience._events import CircuitBreakerEvent, _describe, _frame
from labsvc.resilience._filters import ExceptionFilter, ResultRecordedAsFailure, _check_filter, _matches, is_server_error  # noqa: F401
from labsvc.resilience._guard import Attempt, Guard
from labsvc.resilience._states import ALLOWED_TRANSITIONS, CallNotPermitted, IllegalStateTransition, State
from labsvc.resilience._windows import CircuitBreakerMetrics, _CountWindow, _rate, _TimeWindow

__all__ = [
    "State", "SlidingWindowType", "ALLOWED_TRANSITIONS", "CircuitBreakerConfig", "CircuitBreaker",
    "CircuitBreakerEvent", "CircuitBreakerMetrics", "CallNotPermitted", "IllegalStateTransition",
    "ResultRecordedAsFailure", "is_server_error", "DEFAULT_FAILURE_RATE_THRESHOLD",
    "DEFAULT_SLOW_CALL_RATE_THRESHOLD", "DEFAULT_SLOW_CALL_DURATION_THRESHOLD",
    "DEFAULT_WAIT_DURATION_IN_OPEN_STATE", "DEFAULT_PERMITTED_NUMBER_OF_CALLS_IN_HALF_OPEN_STATE",
    "DEFAULT_MINIMUM_NUMBER_OF_CALLS", "DEFAULT_SLIDING_WINDOW_TYPE", "DEFAULT_SLIDING_WINDOW_SIZE",
    "DEFAULT_MAX_WAIT_DURATION_IN_HALF_OPEN_STATE",
]

T = TypeVar("T")


class CircuitBreaker(Guard):
    """A circuit breaker guarding calls to one callee.

    ``CircuitBreaker(name, config, clock=...)``, or pass config fields as
    keywords: ``CircuitBreaker("catalog", failure_rate_threshold=50,
    sliding_window_size=10)``. Use :meth:`call` / :meth:`decorate` to guard
    calls, or drive it by hand with :meth:`try_acquire_permission`,
    :meth:`on_success` and :meth:`on_error`.

    >>> breaker = CircuitBreaker("catalog", minimum_number_of_calls=10, sliding_window_size=10)
    >>> async def get_items(client):
    ...     return await breaker.call(client.get, "http://catalog.svc/items")

    The breaker is meant for one asyncio event loop; it takes no locks.
    ``max_call_events`` bounds the per-call events kept (transitions are
    always kept) so a long load test does not fill the notebook's memory.
    """

    #: The values of ``CircuitBreakerEvent.kind``. "slow" is a slow success;
    #: a slow failure is an "error" with ``slow=True``.
    EVENT_KINDS = ("state_transition", "success", "slow", "error", "ignored", "not_permitted", "reset")

    def __init__(
        self,
        name: str = "circuit-breaker",
        config: CircuitBreakerConfig | None = None,
        *,
        clock: Clock | None = None,
        max_call_events: int = 10_000,
        **config_fields: Any,
    ) -> None:
        unknown = set(config_fields) - _CONFIG_FIELDS
        if unknown:
            raise ConfigurationError(
                f"unknown circuit breaker setting(s) {sorted(unknown)}; the settings are {sorted(_CONFIG_FIELDS)}"
            )
        self.name = name
        self.config = replace(config or CircuitBreakerConfig(), **config_fields)
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self._seq = itertools.count()
        self._transitions: list[CircuitBreakerEvent] = []
        self._call_events: deque[CircuitBreakerEvent] = deque(maxlen=max_call_events)
        self._listeners: list[tuple[str | None, Callable[[CircuitBreakerEvent], Any]]] = []
        self._enter(State.CLOSED, self.clock.now())

    # --- state ---------------------------------------------------------------

    def _new_window(self, state: State) -> tuple[_CountWindow | _TimeWindow, int]:
        """The window and minimum number of calls a state measures with."""
        cfg = self.config
        if state is State.HALF_OPEN:
            # The trial calls are judged together, once all have finished.
            n = cfg.permitted_number_of_calls_in_half_open_state
            return _CountWindow(n), n
        if cfg.sliding_window_type is SlidingWindowType.TIME_BASED:
            return _TimeWindow(cfg.sliding_window_size, self.clock), cfg.minimum_number_of_calls
        return _CountWindow(cfg.sliding_window_size), min(cfg.minimum_number_of_calls, cfg.sliding_window_size)

    def _enter(self, state: State, at: float) -> None:
        self._state, self._since = state, at
        self._half_open_permits = self.config.permitted_number_of_calls_in_half_open_state
        if state is not State.OPEN:  # OPEN keeps the window that opened it, so its rates stay visible
            self._window, self._minimum_calls = self._new_window(state)
            self.not_permitted_calls = 0

    def _transition(self, to: State, reason: str, at: float | None = None) -> None:
        frm = self._state
        if (frm, to) not in ALLOWED_TRANSITIONS:
            raise IllegalStateTransition(self.name, frm, to)
        failure_rate, slow_call_rate = self.failure_rate, self.slow_call_rate
        at = self.clock.now() if at is None else at
        self._enter(to, at)
        if frm is not to:  # same-state transitions restart the state silently, as in resilience4j
            self._emit("state_transition", time=at, from_state=frm, to_state=to, reason=reason,
                       failure_rate=failure_rate, slow_call_rate=slow_call_rate)

    def _apply_timers(self) -> None:
        """Make the transitions that are due by time alone (evaluated lazily)."""
        cfg, now = self.config, self.clock.now()
        while True:
            if (self._state is State.OPEN and cfg.automatic_transition_from_open_to_half_open
                    and now > self._since + cfg.wait_duration_in_open_state):
                due = self._since + cfg.wait_duration_in_open_state
                self._transition(State.HALF_OPEN, "wait_duration_in_open_state elapsed (automatic)", at=due)
            elif (self._state is State.HALF_OPEN and cfg.max_wait_duration_in_half_open_state > 0
                    and now >= self._since + cfg.max_wait_duration_in_half_open_state):
                due = self._since + cfg.max_wait_duration_in_half_open_state
                self._transition(State.OPEN, "max_wait_duration_in_half_open_state elapsed", at=due)
            else:
                return

    @property
    def state(self) -> State:
        """The current state (time-driven transitions are applied first)."""
        self._apply_timers()
        return self._state

    @property
    def failure_rate(self) -> float:
        """Failed calls in the window, in percent; -1 until enough calls are recorded."""
        totals = self._window.snapshot()
        return _rate(totals[1], totals, self._minimum_calls)

    @property
    def slow_call_rate(self) -> float:
        """Slow calls in the window, in percent; -1 until enough calls are recorded."""
        totals = self._window.snapshot()
        return _rate(totals[2], totals, self._minimum_calls)

    @property
    def metrics(self) -> CircuitBreakerMetrics:
        """Counts and rates of the current window."""
        state = self.state
        calls, failed, slow, slow_failed = self._window.snapshot()
        return CircuitBreakerMetrics(state, self.failure_rate, self.slow_call_rate, calls, failed, slow,
                                     slow_failed, self.not_permitted_calls)

    # --- permission ----------------------------------------------------------

    def try_acquire_permission(self) -> bool:
        """Ask to make one call: True if it may go ahead (then report its outcome)."""
        self._apply_timers()
        if self._state is State.OPEN and self.clock.now() > self._since + self.config.wait_duration_in_open_state:
            wait = self.config.wait_duration_in_open_state
            self._transition(State.HALF_OPEN, f"wait_duration_in_open_state ({wait:g} s) elapsed")
        state = self._state
        if state in (State.CLOSED, State.DISABLED):
            return True
        if state is State.HALF_OPEN and self._half_open_permits > 0:
            self._half_open_permits -= 1
            return True
        self.not_permitted_calls += 1
        # resilience4j publishes no call events in FORCED_OPEN; we do, because
        # a learner watching a forced-open breaker wants to see the refusals.
        self._emit("not_permitted")
        return False

    def acquire_permission(self) -> None:
        """Like :meth:`try_acquire_permission` but raise :class:`CallNotPermitted` on refusal."""
        if not self.try_acquire_permission():
            retry_after = None
            if self._state is State.OPEN:
                retry_after = max(0.0, self._since + self.config.wait_duration_in_open_state - self.clock.now())
            raise CallNotPermitted(self.name, self._state, retry_after)

    def release_permission(self) -> None:
        """Give back a permission without reporting an outcome (the call was cancelled)."""
        if self._state is State.HALF_OPEN:
            limit = self.config.permitted_number_of_calls_in_half_open_state
            self._half_open_permits = min(limit, self._half_open_permits + 1)

    # --- outcomes ------------------------------------------------------------

    def on_success(self, duration: float) -> None:
        """Report a call that succeeded after ``duration`` seconds."""
        self._record(duration, failed=False)

    def on_error(self, duration: float, exc: BaseException) -> None:
        """Report a call that raised ``exc`` after ``duration`` seconds.

        Ignored exceptions do not count (and give the permission back);
        exceptions that are neither recorded nor ignored count as successes.
        """
        if self.config.ignores(exc):
            self._apply_timers()
            self.release_permission()
            self._emit("ignored", duration=duration, exception=_describe(exc))
        else:
            self._record(duration, failed=self.config.records(exc), exc=exc)

    def on_result(self, duration: float, result: Any) -> None:
        """Report a call that returned ``result``; ``record_result`` decides if it failed."""
        record_result = self.config.record_result
        if record_result is not None and record_result(result):
            self._record(duration, failed=True, exc=ResultRecordedAsFailure(self.name, result))
        else:
            self._record(duration, failed=False)

    def _record(self, duration: float, failed: bool, exc: BaseException | None = None) -> None:
        self._apply_timers()
        state = self._state
        if state in (State.DISABLED, State.FORCED_OPEN):
            return  # nothing is measured (and, as in resilience4j, no call events)
        slow = duration > self.config.slow_call_duration_threshold
        totals = self._window.record((1, int(failed), int(slow), int(failed and slow)))
        kind = "error" if failed else ("slow" if slow else "success")
        self._emit(kind, duration=duration, slow=slow, exception=_describe(exc) if failed and exc else None)
        if state is State.OPEN:
            return  # a call let through before the breaker opened: counted, not judged
        failure_rate = _rate(totals[1], totals, self._minimum_calls)
        slow_call_rate = _rate(totals[2], totals, self._minimum_calls)
        if failure_rate < 0 or slow_call_rate < 0:
            return  # not enough calls to judge yet
        over = self._over_thresholds(failure_rate, slow_call_rate)
        if over:
            prefix = "trial calls in HALF_OPEN: " if state is State.HALF_OPEN else ""
            self._transition(State.OPEN, prefix + over)
        elif state is State.HALF_OPEN:
            self._transition(State.CLOSED, (
                f"trial calls in HALF_OPEN: failure rate {failure_rate:g}% < {self.config.failure_rate_threshold:g}%"
                f" and slow-call rate {slow_call_rate:g}% < {self.config.slow_call_rate_threshold:g}%"
            ))

    def _over_thresholds(self, failure_rate: float, slow_call_rate: float) -> str:
        """Why the rates open the breaker ('' when they do not)."""
        cfg, why = self.config, []
        if failure_rate >= cfg.failure_rate_threshold:
            why.append(f"failure rate {failure_rate:g}% >= threshold {cfg.failure_rate_threshold:g}%")
        if slow_call_rate >= cfg.slow_call_rate_threshold:
            why.append(f"slow-call rate {slow_call_rate:g}% >= threshold {cfg.slow_call_rate_threshold:g}%")
        return " and ".join(why)

    # --- explicit transitions --------------------------------------------------

    def transition_to_closed_state(self) -> None:
        """Close the breaker by hand (fresh metrics)."""
        self._by_hand(State.CLOSED, "transition_to_closed_state")

    def transition_to_open_state(self) -> None:
        """Open the breaker by hand; it starts its wait now."""
        self._by_hand(State.OPEN, "transition_to_open_state")

    def transition_to_half_open_state(self) -> None:
        """Start a half-open trial by hand (not allowed from CLOSED)."""
        self._by_hand(State.HALF_OPEN, "transition_to_half_open_state")

    def transition_to_disabled_state(self) -> None:
        """Let every call through and measure nothing, until another explicit transition."""
        self._by_hand(State.DISABLED, "transition_to_disabled_state")

    def transition_to_forced_open_state(self) -> None:
        """Reject every call, until another explicit transition."""
        self._by_hand(State.FORCED_OPEN, "transition_to_forced_open_state")

    def _by_hand(self, to: State, method: str) -> None:
        self._apply_timers()  # so the log shows a due OPEN -> HALF_OPEN before the manual step
        self._transition(to, f"{method}() called")

    def reset(self) -> None:
        """Back to CLOSED with empty metrics, as if just created (events are kept)."""
        if self._state is not State.CLOSED:
            self._transition(State.CLOSED, "reset() called")
        else:
            self._enter(State.CLOSED, self.clock.now())
        self._emit("reset")

    # --- guarding calls ------------------------------------------------------

    async def _execute(self, attempt: Attempt) -> Any:
        """Make the call through the breaker.

        Raises :class:`CallNotPermitted` without making the call when refused;
        otherwise returns what the call returns and re-raises what it raises,
        after recording the outcome and its duration.
        """
        self.acquire_permission()
        start = self.clock.now()
        try:
            result = await attempt()
        except Exception as exc:
            self.on_error(self.clock.now() - start, exc)
            raise
        except BaseException:  # cancelled: neither a success nor a failure
            self.release_permission()
            raise
        self.on_result(self.clock.now() - start, result)
        return result

    def call_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Like :meth:`call` for a plain (not async) function."""
        self.acquire_permission()
        start = self.clock.now()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            self.on_error(self.clock.now() - start, exc)
            raise
        except BaseException:
            self.release_permission()
            raise
        self.on_result(self.clock.now() - start, result)
        return result

    def decorate(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap ``fn`` so every call goes through the breaker.

        An async function gets an async wrapper; a plain one a plain wrapper.

        >>> breaker = CircuitBreaker("payments")
        >>> @breaker.decorate
        ... async def charge(client, amount):
        ...     return await client.post("http://payment.svc/charges", json={"amount": amount})
        """
        if inspect.iscoroutinefunction(fn):
            return super().decorate(fn)

        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self.call_sync(fn, *args, **kwargs)

        return wrapper

    # --- events ----------------------------------------------------------------

    def on_event(self, callback: Callable[[CircuitBreakerEvent], Any]) -> Callable[[CircuitBreakerEvent], Any]:
        """Call ``callback(event)`` for every event; returns ``callback`` (usable as a decorator).

        A listener that raises makes the reporting call raise: keep listeners small.
        """
        self._listeners.append((None, callback))
        return callback

    def on_state_transition(
        self, callback: Callable[[CircuitBreakerEvent], Any]
    ) -> Callable[[CircuitBreakerEvent], Any]:
        """Call ``callback(event)`` on every state change.

        >>> breaker = CircuitBreaker("catalog")
        >>> changes = []
        >>> _ = breaker.on_state_transition(lambda e: changes.append((e.from_state, e.to_state)))
        >>> breaker.transition_to_forced_open_state()
        >>> changes
        [(<State.CLOSED: 'CLOSED'>, <State.FORCED_OPEN: 'FORCED_OPEN'>)]
        """
        self._listeners.append(("state_transition", callback))
        return callback

    def _emit(self, kind: str, *, time: float | None = None, **details: Any) -> None:
        time = self.clock.now() if time is None else time
        if kind != "state_transition":  # transitions carry the rates that caused them
            details.update(failure_rate=self.failure_rate, slow_call_rate=self.slow_call_rate)
        event = CircuitBreakerEvent(next(self._seq), time, kind, self._state, **details)
        (self._transitions if kind in ("state_transition", "reset") else self._call_events).append(event)
        for wanted, callback in list(self._listeners):
            if wanted is None or wanted == kind:
                callback(event)

    @property
    def events(self) -> pd.DataFrame:
        """Every event in order: time, kind, state, from_state, to_state, reason, rates, duration, ..."""
        events = sorted([*self._transitions, *self._call_events], key=lambda e: e.seq)
        return _frame(events)

    @property
    def transitions(self) -> pd.DataFrame:
        """Only the state transitions, in order (what :func:`plot_state_timeline` draws)."""
        return _frame([e for e in self._transitions if e.kind == "state_transition"])

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state}, failure_rate={self.failure_rate:g})"
