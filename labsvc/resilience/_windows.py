"""The sliding windows a circuit breaker counts calls in, and :class:`CircuitBreakerMetrics`.

A COUNT_BASED window keeps the last N calls, a TIME_BASED one the calls of
the last N whole seconds, as resilience4j's ``FixedSizeSlidingWindowMetrics``
and ``SlidingTimeWindowMetrics``. Rates read -1 until enough calls are
recorded, as in resilience4j.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from labsvc.core.clock import Clock

from labsvc.resilience._states import State


# --- sliding windows --------------------------------------------------------
# Both keep running totals of (calls, failed, slow, slow_failed) so reading a
# rate is O(1); a call is recorded as a tuple of 0/1 to add or subtract.

_Totals = list[int]


class _CountWindow:
    """The last ``size`` calls, as a ring buffer."""

    def __init__(self, size: int) -> None:
        self._calls: deque[tuple[int, int, int, int]] = deque(maxlen=size)
        self.totals: _Totals = [0, 0, 0, 0]

    def record(self, outcome: tuple[int, int, int, int]) -> _Totals:
        if len(self._calls) == self._calls.maxlen:
            self.totals = [t - o for t, o in zip(self.totals, self._calls[0])]
        self._calls.append(outcome)
        self.totals = [t + o for t, o in zip(self.totals, outcome)]
        return self.totals

    def snapshot(self) -> _Totals:
        return self.totals


class _TimeWindow:
    """The calls of the last ``seconds`` whole seconds, one bucket per second.

    Like resilience4j's SlidingTimeWindowMetrics, the window is the current
    clock second plus the ``seconds - 1`` before it; older buckets drop out
    as the clock moves.
    """

    def __init__(self, seconds: int, clock: Clock) -> None:
        self._seconds, self._clock = seconds, clock
        self._buckets: deque[list[int]] = deque()  # [epoch_second, calls, failed, slow, slow_failed]
        self.totals: _Totals = [0, 0, 0, 0]

    def _drop_old(self) -> int:
        now = math.floor(self._clock.now())
        while self._buckets and self._buckets[0][0] <= now - self._seconds:
            old = self._buckets.popleft()
            self.totals = [t - o for t, o in zip(self.totals, old[1:])]
        return now

    def record(self, outcome: tuple[int, int, int, int]) -> _Totals:
        now = self._drop_old()
        if not self._buckets or self._buckets[-1][0] != now:
            self._buckets.append([now, 0, 0, 0, 0])
        bucket = self._buckets[-1]
        bucket[1:] = [b + o for b, o in zip(bucket[1:], outcome)]
        self.totals = [t + o for t, o in zip(self.totals, outcome)]
        return self.totals

    def snapshot(self) -> _Totals:
        self._drop_old()
        return self.totals


def _rate(part: int, totals: _Totals, minimum: int) -> float:
    # -1 means "not computed yet": too few calls to judge (resilience4j).
    calls = totals[0]
    return -1.0 if calls == 0 or calls < minimum else part * 100.0 / calls


@dataclass(frozen=True)
class CircuitBreakerMetrics:
    """A snapshot of what the breaker currently counts (rates in %, -1 = not yet)."""

    state: State
    failure_rate: float
    slow_call_rate: float
    calls: int
    failed_calls: int
    slow_calls: int
    slow_failed_calls: int
    not_permitted_calls: int
