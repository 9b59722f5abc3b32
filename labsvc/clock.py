"""Injectable time.

Every time-based pattern in labsvc (circuit breakers, registries, rate
limiters, autoscalers, retries) takes a :class:`Clock`. Notebooks use the
real :class:`MonotonicClock`; tests use :class:`FakeClock` and move time by
hand, so nothing ever sleeps to wait for something to happen.

>>> clock = FakeClock()
>>> clock.now()
0.0
>>> clock.advance(5)
>>> clock.now()
5.0
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "MonotonicClock", "FakeClock", "parse_duration"]


@runtime_checkable
class Clock(Protocol):
    """What a time-based component needs: the time now, and a way to wait."""

    def now(self) -> float:
        """Seconds on a monotonic scale (only differences are meaningful)."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock returns at once and advances itself)."""


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "MonotonicClock()"


class FakeClock:
    """A clock that only moves when told to.

    ``sleep`` advances the clock by the requested amount and returns at once,
    so code that backs off or waits runs instantly in tests while still
    seeing time pass. ``sleeps`` records every requested sleep.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (must not be negative)."""
        seconds = parse_duration(seconds)
        self._now += seconds

    def set(self, t: float) -> None:
        """Jump to absolute time ``t`` (must not go backwards)."""
        if t < self._now:
            raise ValueError(f"FakeClock cannot go back in time (now={self._now}, asked {t})")
        self._now = float(t)

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        self.sleeps.append(seconds)
        self._now += seconds

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now})"


_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"([-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?|[-+]?\.\d+)\s*(us|µs|ms|s|min|h)?")


def parse_duration(value: float | int | str, *, name: str = "duration") -> float:
    """Turn ``0.02``, ``"20ms"``, ``"1.5s"`` or ``"2min"`` into seconds.

    Raises ``ValueError`` naming ``name`` when the value is negative or not
    understood, with an example of what is accepted.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds or a string like '20ms', not a bool")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value.strip().lower())
        if match is None:
            raise ValueError(
                f"{name}={value!r} is not a duration; use seconds as a number (0.02) "
                f"or a string with a unit: '250us', '20ms', '1.5s', '2min'"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise TypeError(f"{name} must be a number of seconds or a string like '20ms', got {type(value).__name__}")
    if seconds != seconds or seconds < 0:  # NaN or negative
        raise ValueError(f"{name}={value!r} is negative; a {name} must be zero or more (e.g. '20ms')")
    return seconds
