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
import time
from typing import Any, Protocol, runtime_checkable

from labsvc.core.durations import parse_duration  # noqa: F401 - re-exported
from labsvc.core.errors import ConfigurationError
from labsvc.core.simtime import SimLoop

__all__ = ["Clock", "MonotonicClock", "WallClock", "FakeClock", "ScaledClock", "parse_duration"]


def _simulated_loop() -> Any:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop if isinstance(loop, SimLoop) else None


@runtime_checkable
class Clock(Protocol):
    """What a time-based component needs: the time now, and a way to wait."""

    def now(self) -> float:
        """Seconds on a monotonic scale (only differences are meaningful)."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock returns at once and advances itself)."""


class MonotonicClock:
    """The default clock: ``time.monotonic`` and ``asyncio.sleep``; on simulated time, the simulation's clock.

    Code running on a :class:`~labsvc.core.simtime.SimLoop` (a simulated
    network's services and experiments) reads the loop's virtual time, so a
    pattern built with the default clock keeps the same time as the network
    it serves.
    """

    def now(self) -> float:
        loop = _simulated_loop()
        return loop.time() if loop is not None else time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "MonotonicClock()"


class WallClock:
    """Unix time (``time.time``): what JWT ``exp``/``iat``/``nbf`` are measured in.

    A monotonic clock has no fixed origin, so it cannot be compared with a
    token's ``exp``. It is the real wall clock on simulated time too: a token
    issued in a notebook cell and checked inside the simulation must see one
    time. An experiment about expiry passes a clock it controls
    (``FakeClock(start=1_700_000_000)``).
    """

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "WallClock()"


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
        self._t0 = base.now() if base is not None else MonotonicClock().now()

    def _base_now(self) -> float:
        return self.base.now() if self.base is not None else MonotonicClock().now()  # simulated time on a SimLoop

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
