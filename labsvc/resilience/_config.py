"""The circuit breaker's settings: :class:`CircuitBreakerConfig`, its defaults and window types.

Field names and defaults mirror resilience4j's ``CircuitBreakerConfig``;
durations are seconds (or strings such as ``"5s"``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from labsvc.core.errors import ConfigurationError

from labsvc.resilience._filters import ExceptionFilter, _check_filter, _matches
from labsvc.resilience.timeout import _seconds


class SlidingWindowType(enum.StrEnum):
    """COUNT_BASED: the last N calls. TIME_BASED: the calls of the last N seconds."""

    COUNT_BASED = "COUNT_BASED"
    TIME_BASED = "TIME_BASED"


# resilience4j's defaults (CircuitBreakerConfig.java); durations in seconds.
DEFAULT_FAILURE_RATE_THRESHOLD = 50.0
DEFAULT_SLOW_CALL_RATE_THRESHOLD = 100.0
DEFAULT_SLOW_CALL_DURATION_THRESHOLD = 60.0
DEFAULT_WAIT_DURATION_IN_OPEN_STATE = 60.0
DEFAULT_PERMITTED_NUMBER_OF_CALLS_IN_HALF_OPEN_STATE = 10
DEFAULT_MINIMUM_NUMBER_OF_CALLS = 100
DEFAULT_SLIDING_WINDOW_TYPE = SlidingWindowType.COUNT_BASED
DEFAULT_SLIDING_WINDOW_SIZE = 100
DEFAULT_MAX_WAIT_DURATION_IN_HALF_OPEN_STATE = 0.0  # 0 = stay half-open until the trial calls end


@dataclass(frozen=True)
class CircuitBreakerConfig:
    """How a breaker decides; field names and defaults follow resilience4j.

    Durations are seconds or strings such as ``"5s"``. For a COUNT_BASED
    window ``sliding_window_size`` counts calls, for TIME_BASED it counts
    seconds. With a count-based window the effective minimum number of calls
    is ``min(minimum_number_of_calls, sliding_window_size)``.

    ``record_exceptions`` / ``ignore_exceptions`` are exception classes or
    predicates: ignored ones do not count at all, recorded ones count as
    failures, and any other exception counts as a success (as in
    resilience4j). ``record_result(result) -> bool`` marks returned values as
    failures, e.g. ``record_result=is_server_error`` for 5xx responses.

    >>> CircuitBreakerConfig(failure_rate_threshold=0)
    Traceback (most recent call last):
    ...
    labsvc.core.errors.ConfigurationError: failure_rate_threshold=0 is out of range; use a percentage above 0 and at most 100, e.g. 50
    """

    failure_rate_threshold: float = DEFAULT_FAILURE_RATE_THRESHOLD
    slow_call_rate_threshold: float = DEFAULT_SLOW_CALL_RATE_THRESHOLD
    slow_call_duration_threshold: float | str = DEFAULT_SLOW_CALL_DURATION_THRESHOLD
    wait_duration_in_open_state: float | str = DEFAULT_WAIT_DURATION_IN_OPEN_STATE
    permitted_number_of_calls_in_half_open_state: int = DEFAULT_PERMITTED_NUMBER_OF_CALLS_IN_HALF_OPEN_STATE
    minimum_number_of_calls: int = DEFAULT_MINIMUM_NUMBER_OF_CALLS
    sliding_window_type: SlidingWindowType | str = DEFAULT_SLIDING_WINDOW_TYPE
    sliding_window_size: int = DEFAULT_SLIDING_WINDOW_SIZE
    automatic_transition_from_open_to_half_open: bool = False
    max_wait_duration_in_half_open_state: float | str = DEFAULT_MAX_WAIT_DURATION_IN_HALF_OPEN_STATE
    record_exceptions: ExceptionFilter = Exception
    ignore_exceptions: ExceptionFilter = ()
    record_result: Callable[[Any], bool] | None = None

    def __post_init__(self) -> None:
        for name in ("failure_rate_threshold", "slow_call_rate_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
                example = 50 if name.startswith("failure") else 100
                raise ConfigurationError(
                    f"{name}={value!r} is out of range; use a percentage above 0 and at most 100, e.g. {example}"
                )
            object.__setattr__(self, name, float(value))
        for name in ("slow_call_duration_threshold", "wait_duration_in_open_state",
                     "max_wait_duration_in_half_open_state"):
            object.__setattr__(self, name, _seconds(getattr(self, name), name))
        for name in ("slow_call_duration_threshold", "wait_duration_in_open_state"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be more than 0 s, e.g. '5s'")
        for name in ("permitted_number_of_calls_in_half_open_state", "minimum_number_of_calls", "sliding_window_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name}={value!r} must be a whole number of at least 1, e.g. 10")
        try:
            kind = SlidingWindowType(str(self.sliding_window_type).upper())
        except ValueError:
            raise ConfigurationError(
                f"sliding_window_type={self.sliding_window_type!r} is not one of COUNT_BASED, TIME_BASED"
            ) from None
        object.__setattr__(self, "sliding_window_type", kind)
        _check_filter(self.record_exceptions, "record_exceptions")
        _check_filter(self.ignore_exceptions, "ignore_exceptions")
        if self.record_result is not None and not callable(self.record_result):
            raise ConfigurationError("record_result must be a predicate result -> bool, e.g. is_server_error")

    def ignores(self, exc: BaseException) -> bool:
        """True when ``exc`` should not count at all."""
        return _matches(self.ignore_exceptions, exc)

    def records(self, exc: BaseException) -> bool:
        """True when ``exc`` counts as a failure (and is not ignored)."""
        return not self.ignores(exc) and _matches(self.record_exceptions, exc)


_CONFIG_FIELDS = {f.name for f in fields(CircuitBreakerConfig)}
