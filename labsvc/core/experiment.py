"""Small pieces every experiment harness here shares: clocks, schedules, shading.

Nothing in this module is a pattern the course teaches; it is the glue that
lets a pattern module (breaker, registry, broker) and the network agree on
one time axis, and lets a service find out which instance it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from labsvc.core.clock import Clock, ScaledClock, parse_duration  # noqa: F401 - ScaledClock re-exported
from labsvc.core.errors import ConfigurationError
from labsvc.core.network import Network

__all__ = ["NetworkClock", "ScaledClock", "instance_of", "run_schedule", "shade", "seconds", "suffixed"]


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


def suffixed(name: str | None, variant: str) -> str | None:
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
