"""Resilience patterns: timeout, retry, circuit breaker, bulkhead, fallback.

Each pattern is one small module, written by hand because the pattern is
the lesson, and tested against the semantics of the implementation it
mirrors (resilience4j for the breaker and bulkhead, the AWS backoff
formulas and Linkerd's retry budget for retries). All take an injectable
:class:`~labsvc.clock.Clock`, so tests run on a fake clock without sleeping.

Every pattern guards a call the same way, ``await pattern.call(fn, *args)``
or ``@pattern.decorate``, so they stack. resilience4j's order, from the
outside in, is fallback, retry, circuit breaker, timeout, bulkhead:

>>> import httpx
>>> breaker = CircuitBreaker("catalog", minimum_number_of_calls=10, sliding_window_size=10)
>>> retry = Retry(max_attempts=3, base="50ms", seed=1, retry_on=(TimeoutError, httpx.TransportError))
>>> limit = Timeout("200ms")
>>> fallback = Fallback({"items": []})
>>> async def items(client):
...     async def attempt():
...         return await breaker.call(limit.call, client.get, "http://catalog.svc/items")
...     return await fallback.call(retry.call, attempt)

The retry above does not retry :class:`CallNotPermitted`: an open breaker
will not close in 50 ms, so retrying it only burns the budget.
``plot_state_timeline`` (in :mod:`labsvc.resilience.plots`) imports
matplotlib on first use.
"""

from __future__ import annotations

from .bulkhead import DEFAULT_MAX_CONCURRENT_CALLS, DEFAULT_MAX_WAIT_DURATION, Bulkhead, BulkheadFull
from .circuit_breaker import (
    ALLOWED_TRANSITIONS,
    DEFAULT_FAILURE_RATE_THRESHOLD,
    DEFAULT_MAX_WAIT_DURATION_IN_HALF_OPEN_STATE,
    DEFAULT_MINIMUM_NUMBER_OF_CALLS,
    DEFAULT_PERMITTED_NUMBER_OF_CALLS_IN_HALF_OPEN_STATE,
    DEFAULT_SLIDING_WINDOW_SIZE,
    DEFAULT_SLIDING_WINDOW_TYPE,
    DEFAULT_SLOW_CALL_DURATION_THRESHOLD,
    DEFAULT_SLOW_CALL_RATE_THRESHOLD,
    DEFAULT_WAIT_DURATION_IN_OPEN_STATE,
    CallNotPermitted,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerEvent,
    CircuitBreakerMetrics,
    IllegalStateTransition,
    ResultRecordedAsFailure,
    SlidingWindowType,
    State,
    is_server_error,
)
from .fallback import DEFAULT_FALLBACK_ON, Fallback
from .retry import (
    DEFAULT_BUDGET_TTL,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MIN_RETRIES_PER_SECOND,
    DEFAULT_RETRY_RATIO,
    Jitter,
    Retry,
    RetryBudget,
    RetryPolicy,
)
from .timeout import CallTimeoutError, Timeout, timeout, with_timeout

__all__ = [
    # timeout
    "CallTimeoutError",
    "Timeout",
    "timeout",
    "with_timeout",
    # retry
    "Jitter",
    "Retry",
    "RetryBudget",
    "RetryPolicy",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_RETRY_RATIO",
    "DEFAULT_MIN_RETRIES_PER_SECOND",
    "DEFAULT_BUDGET_TTL",
    # circuit breaker
    "State",
    "SlidingWindowType",
    "ALLOWED_TRANSITIONS",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitBreakerEvent",
    "CircuitBreakerMetrics",
    "CallNotPermitted",
    "IllegalStateTransition",
    "ResultRecordedAsFailure",
    "is_server_error",
    "DEFAULT_FAILURE_RATE_THRESHOLD",
    "DEFAULT_SLOW_CALL_RATE_THRESHOLD",
    "DEFAULT_SLOW_CALL_DURATION_THRESHOLD",
    "DEFAULT_WAIT_DURATION_IN_OPEN_STATE",
    "DEFAULT_PERMITTED_NUMBER_OF_CALLS_IN_HALF_OPEN_STATE",
    "DEFAULT_MINIMUM_NUMBER_OF_CALLS",
    "DEFAULT_SLIDING_WINDOW_TYPE",
    "DEFAULT_SLIDING_WINDOW_SIZE",
    "DEFAULT_MAX_WAIT_DURATION_IN_HALF_OPEN_STATE",
    # bulkhead
    "Bulkhead",
    "BulkheadFull",
    "DEFAULT_MAX_CONCURRENT_CALLS",
    "DEFAULT_MAX_WAIT_DURATION",
    # fallback
    "Fallback",
    "DEFAULT_FALLBACK_ON",
    # plots
    "plot_state_timeline",
]


def __getattr__(name: str):
    # Import matplotlib only when a plot is asked for: it is slow to import
    # and most uses of the patterns never draw.
    if name == "plot_state_timeline":
        from .plots import plot_state_timeline

        return plot_state_timeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
