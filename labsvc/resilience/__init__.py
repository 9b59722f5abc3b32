"""Resilience patterns: timeout, retry, circuit breaker, bulkhead, fallback.

Each pattern is one small module, written by hand because the pattern is
the lesson, and tested against the semantics of the implementation it
mirrors (resilience4j for the breaker and bulkhead, the AWS backoff
formulas and Linkerd's retry budget for retries). All take an injectable
:class:`~labsvc.core.clock.Clock`, so tests run on a fake clock without sleeping.

Every pattern is a :class:`Guard`: it guards a call the same way,
``await pattern.call(fn, *args)`` or ``@pattern.decorate``, and
:func:`stack` composes guards into one, outermost first. resilience4j's
order (its Spring Boot default, with the fallback outermost) is fallback,
retry, circuit breaker, timeout, bulkhead:

>>> import httpx
>>> breaker = CircuitBreaker("catalog", minimum_number_of_calls=10, sliding_window_size=10)
>>> retry = Retry(max_attempts=3, base="50ms", seed=1, retry_on=(TimeoutError, httpx.TransportError))
>>> guard = stack(Fallback({"items": []}), retry, breaker, Timeout("200ms"))
>>> async def items(client):
...     return await guard.call(client.get, "http://catalog.svc/items")

The retry above does not retry :class:`CallNotPermitted`: an open breaker
will not close in 50 ms, so retrying it only burns the budget.

Notebook 10's experiments (:mod:`labsvc.resilience.lab`) and plots
(:mod:`labsvc.resilience.plots`) are importable from here too; they are
loaded on first use, since they import FastAPI, the network and matplotlib,
which most uses of the patterns never need.
"""

from __future__ import annotations

from labsvc.resilience._guard import Guard, Stack, stack
from labsvc.resilience.bulkhead import DEFAULT_MAX_CONCURRENT_CALLS, DEFAULT_MAX_WAIT_DURATION, Bulkhead, BulkheadFull
from labsvc.resilience.circuit_breaker import (
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
from labsvc.resilience.fallback import DEFAULT_FALLBACK_ON, Fallback
from labsvc.resilience.retry import (
    DEFAULT_BUDGET_TTL,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MIN_RETRIES_PER_SECOND,
    DEFAULT_RETRY_RATIO,
    Jitter,
    Retry,
    RetryBudget,
    RetryPolicy,
)
from labsvc.resilience.timeout import CallTimeoutError, Timeout, timeout, with_timeout

#: Public names that live in modules loaded on first use: name -> module.
_LAZY = {
    name: module
    for module, names in {
        "labsvc.resilience.plots": ["plot_state_timeline", "plot_breaker", "plot_failover", "plot_retry_storm",
                                    "plot_fanout"],
        "labsvc.resilience.lab": ["AllBreakersOpen", "BreakerBalancer", "BreakerResult", "breaker_experiment",
                                  "HalfOpenTrial", "half_open_trial", "FAILOVER_STRATEGIES", "FailoverResult", "failover_experiment",
                                  "compare_failover", "failover_summary", "RETRY_POLICIES", "StormResult",
                                  "retry_storm", "compare_retry_policies", "amplification", "BUDGETS", "budget_floor",
                                  "TailLatency",
                                  "fanout_model", "fanout_experiment"],
    }.items()
    for name in names
}

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
    # composing guards
    "Guard",
    "Stack",
    "stack",
    # plots and notebook 10's experiments, imported on first use (see __getattr__)
    *_LAZY,
]


def __getattr__(name: str):
    # Import matplotlib, FastAPI and the network only when a plot or an
    # experiment is asked for: they are slow to import and most uses of the
    # patterns never need them.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
