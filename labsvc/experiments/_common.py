"""Small pieces every experiment harness here shares: clocks, schedules, shading.

Nothing in this module is a pattern the course teaches; it is the glue that
lets a pattern module (breaker, registry, broker) and the network agree on
one time axis, and lets a service find out which instance it is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..clock import Clock, parse_duration
from ..errors import ConfigurationError
from ..network import Network

__all__ = ["NetworkClock", "ScaledClock", "instance_of", "run_schedule", "shade", "seconds"]


class NetworkClock:
    """The network's clock: seconds since ``net`` started, the call log's time axis.

    Give it to a breaker, a retry or a registry so that their events and the
    call log can be drawn on one time axis.

    >>> from labsvc import Network
    >>> clock = NetworkClock(Network(name="doc-clock"))
    >>> clock.now()                     # 0 until the network starts
    0.0
    """

    def __init__(self, net: Network) -> None:
        self.net = net
        self._started = False

    def now(self) -> float:
        """Seconds since the network started (0 before it starts)."""
        # The network restarts its time axis when it starts; reading 0 until
        # then keeps this clock from going backwards at that moment.
        if not self._started:
            if not self.net.started:
                return 0.0
            self._started = True
        return self.net.now()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of real time (the network's time is real time)."""
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return f"NetworkClock({self.net.name!r})"


class ScaledClock:
    """Time that runs ``scale`` times faster than ``base`` (real time by default).

    Eureka's timers are tens of seconds; a notebook cell should take a few.
    With ``scale=100`` a 30 s heartbeat interval passes in 0.3 real seconds,
    so the registry keeps Eureka's numbers and the experiment stays short.
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


def instance_of(net: Network, service: str, app: Any) -> str:
    """The name of the instance of ``service`` that runs ``app`` (e.g. ``"payment-1"``).

    A service's lifespan gets its app object, not its name on the network;
    background work started there (a heartbeat, a queue consumer) needs the
    name so that its calls show up in the call log as that instance.
    """
    for inst in net.service(service).instances:
        if inst.app is app:
            return inst.name
    raise ConfigurationError(
        f"no instance of {service!r} runs this app; add the service with a factory "
        f"(net.add({service!r}, lambda: make_app(...))) so each instance has its own app"
    )


def seconds(value: float | str, name: str) -> float:
    """``"20ms"`` or ``0.02`` as seconds, with a :class:`ConfigurationError` naming ``name``."""
    try:
        return parse_duration(value, name=name)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(str(exc)) from None


def _suffixed(name: str | None, variant: str) -> str | None:
    """A network name per variant, so side-by-side runs never stop each other."""
    return None if name is None else f"{name}-{variant.replace(' ', '').replace('+', '-')}"


async def run_schedule(
    net: Network, schedule: Iterable[tuple[float, str, Callable[[], Awaitable[Any]]]], log: list[dict]
) -> None:
    """Run ``(at, label, action)`` steps at ``at`` seconds from now; append what ran to ``log``.

    ``log`` rows carry the network time each action actually ran, so plots
    mark the moment the fault started, not the moment it was planned.
    """
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for at, label, action in sorted(schedule, key=lambda step: step[0]):
        delay = t0 + at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await action()
        log.append({"time": net.now(), "event": label})


def shade(ax: Any, start: float | None, end: float | None, label: str = "outage", color: str = "#e76f51") -> None:
    """Shade ``[start, end]`` on a time axis (nothing when either end is missing)."""
    if start is None or end is None:
        return
    ax.axvspan(start, end, color=color, alpha=0.12, label=label)
