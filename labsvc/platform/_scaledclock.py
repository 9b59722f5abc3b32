"""A clock that runs faster than real time, so a notebook can show minutes of platform time in seconds."""

from __future__ import annotations

import asyncio
import time

from ..errors import ConfigurationError

__all__ = ["ScaledClock"]


class ScaledClock:
    """The real clock running ``speed`` times faster, so a notebook can show minutes in seconds.

    ``now()`` is real monotonic time times ``speed``; ``sleep(s)`` waits
    ``s / speed`` real seconds. Controllers on this clock keep their
    Kubernetes periods (15 s HPA sync, 300 s stabilization) in platform
    seconds; only the wall-clock wait is shorter.
    """

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ConfigurationError(f"speed={speed!r} must be more than zero, e.g. 30")
        self.speed = float(speed)
        self._t0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def __repr__(self) -> str:
        return f"ScaledClock(speed={self.speed:g})"
