"""A clock read to the nanosecond, so that one simulated instant reads the same in every run.

On simulated time every network of the process shares one clock
(:mod:`labsvc.core.simtime`), and ``net.now()`` is that clock's float value
minus the float value at which the network started. The difference carries
a rounding error of about 1e-13 s that depends on how far the shared clock
has already gone: in a notebook's second pass it differs from the first.
A breaker that compares ``now > opened_at + wait`` at the very instant the
wait ends (a request due at 0.88 s, a breaker that opened at 0.58 s with a
0.3 s wait) would then decide one way in one pass and the other way in the
next. Read to the nanosecond, both sides of such a comparison are the same
numbers in every pass, so the experiment is exact.

>>> from labsvc.core.clock import FakeClock
>>> clock = FakeClock()
>>> clock.advance(0.1 + 0.2)
>>> NanosecondClock(clock).now()
0.3
"""

from __future__ import annotations

from typing import Any

__all__ = ["NanosecondClock"]


class NanosecondClock:
    """``inner.now()`` rounded to whole nanoseconds (any object with a ``now()`` in seconds).

    Everything else (``sleep``, ``advance``) is the inner clock's.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def now(self) -> float:
        """Seconds, to the nanosecond."""
        return round(self.inner.now(), 9)

    def __getattr__(self, name: str) -> Any:  # sleep() and the rest: the inner clock's own
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"NanosecondClock({self.inner!r})"
