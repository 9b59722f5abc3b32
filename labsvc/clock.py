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

from .errors import ConfigurationError

__all__ = ["Clock", "MonotonicClock", "FakeClock", "ScaledClock", "parse_duration"]


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


class ScaledClock:
    """Time that runs ``scale`` times faster than ``base`` (real time by default).

    Eureka's timers and Kubernetes' controller periods are tens of seconds; a
    notebook cell should take a few. With ``scale=100`` a 30 s heartbeat
    interval passes in 0.3 real seconds, so a registry, an autoscaler or a
    restart back-off keeps its real numbers and the experiment stays short.
    ``now()`` is in *scaled* seconds; ``sleep(30)`` waits 30 scaled seconds.

    >>> clock = ScaledClock(scale=100)
    >>> clock.scale
    100.0
    """

    def __init__(self, base: Clock | None = None, *, scale: float = 100.0) -> None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ConfigurationError(f"scale={scale!r} must be a positive number, e.g. 100 (100x faster than real time)")
        self.base = base
        self.scale = float(scale)
        self._t0 = base.now() if base is not None else time.monotonic()

    def _base_now(self) -> float:
        return self.base.now() if self.base is not None else time.monotonic()

    def now(self) -> float:
        """Scaled seconds: the base clock's time (or real time since creation) times ``scale``."""
        if self.base is not None:
            return self._base_now() * self.scale  # keep the base's origin: one time axis
        return (self._base_now() - self._t0) * self.scale

    def real(self, scaled_seconds: float) -> float:
        """How many base seconds ``scaled_seconds`` take."""
        return scaled_seconds / self.scale

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` scaled seconds, that is ``seconds / scale`` real ones."""
        await asyncio.sleep(max(0.0, seconds) / self.scale)

    def __repr__(self) -> str:
        return f"ScaledClock(scale={self.scale:g})"
