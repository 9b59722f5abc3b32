"""Faults the network can inject between services.

Faults live in the network, like a proxy sitting between caller and callee
(Envoy's fault filter, Toxiproxy): the service code never knows. One
:class:`Fault` holds everything injected on a service or an instance:

- ``latency``: added delay, a fixed duration (``"20ms"``) or a distribution
  (:class:`Exponential`, :class:`Uniform`, :class:`Normal`, :class:`LogNormal`).
  Write the unit (``"20ms"``, ``"1.5s"``); a bare number is seconds and must
  be below 1 (``0.02``): ``latency=20`` is refused, since it almost always
  means 20 ms;
- ``error_rate``: the share of calls answered by the network with a 503
  problem document instead of reaching the service;
- ``hang``: the callee never answers; the caller's timeout fires;
- ``down``: the instance refuses connections.

Partitions and pauses are kept by the network itself (see
:meth:`labsvc.Network.partition` and :meth:`labsvc.Network.pause`).
Every random draw comes from a seeded ``random.Random``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Callable, Union

from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError

__all__ = ["Fault", "Latency", "Fixed", "Uniform", "Exponential", "Normal", "LogNormal", "as_latency"]


def _seconds(value, name: str) -> float:
    """A latency parameter in seconds: ``"20ms"``, ``"1.5s"``, or a bare number below 1 (``0.02``).

    A bare number of 1 or more is refused: ``latency=20`` is far more often
    meant as 20 ms than as 20 s, so a latency of a second or more has to say
    its unit (``"1.5s"``, ``"20s"``). Timeouts and run lengths elsewhere take
    bare seconds as usual (``timeout=5``); only latencies are this strict.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1:
        raise ConfigurationError(
            f"{name}={value!r} looks like milliseconds, but a bare number is read as seconds; "
            f"write '{value:g}ms' or {value / 1000:g} (seconds), or '{value:g}s' if you mean {value:g} seconds"
        )
    try:
        return parse_duration(value, name=name)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(str(exc)) from None


class Latency:
    """A latency distribution: ``sample(rng)`` draws one delay in seconds."""

    def sample(self, rng: random.Random) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def mean(self) -> float:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class Fixed(Latency):
    """Always the same delay, e.g. ``Fixed("20ms")``."""

    delay: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "delay", _seconds(self.delay, "latency"))

    def sample(self, rng: random.Random) -> float:
        return self.delay

    @property
    def mean(self) -> float:
        return self.delay


@dataclass(frozen=True)
class Uniform(Latency):
    """A delay drawn uniformly between ``low`` and ``high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", _seconds(self.low, "low"))
        object.__setattr__(self, "high", _seconds(self.high, "high"))
        if self.high < self.low:
            raise ConfigurationError(f"Uniform latency needs low <= high, got low={self.low}, high={self.high}")

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class Exponential(Latency):
    """Exponentially distributed delay with the given ``mean``: many short, a few long."""

    mean_delay: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_delay", _seconds(self.mean_delay, "mean latency"))

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean_delay) if self.mean_delay > 0 else 0.0

    @property
    def mean(self) -> float:
        return self.mean_delay


@dataclass(frozen=True)
class Normal(Latency):
    """Normally distributed delay, cut at zero (a delay is never negative)."""

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _seconds(self.mu, "mean latency"))
        object.__setattr__(self, "sigma", _seconds(self.sigma, "latency sigma"))

    def sample(self, rng: random.Random) -> float:
        return max(0.0, rng.gauss(self.mu, self.sigma))

    @property
    def mean(self) -> float:
        return self.mu


@dataclass(frozen=True)
class LogNormal(Latency):
    """Log-normal delay given its median and a shape ``sigma``: a long right tail,
    the usual shape of real service latency."""

    median: float
    sigma: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "median", _seconds(self.median, "median latency"))
        if not (isinstance(self.sigma, (int, float)) and self.sigma >= 0):
            raise ConfigurationError(f"LogNormal sigma must be a number >= 0, got {self.sigma!r}")

    def sample(self, rng: random.Random) -> float:
        if self.median == 0:
            return 0.0
        return rng.lognormvariate(math.log(self.median), self.sigma)

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)


LatencyLike = Union[None, int, float, str, Latency]


def as_latency(value: LatencyLike) -> Latency | None:
    """Turn ``None``, ``0.02``, ``"20ms"`` or a :class:`Latency` into a Latency (or None).

    A bare number is seconds and must be below 1; ``20`` is refused with a
    message asking for ``"20ms"`` or ``0.02`` (see the module docstring).
    """
    if value is None or isinstance(value, Latency):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigurationError(
            f"latency={value!r} is not understood; give seconds (0.02), a string ('20ms') "
            f"or a distribution such as labsvc.core.faults.Exponential('20ms')"
        )
    return Fixed(value)


@dataclass(frozen=True)
class Fault:
    """What the network does to calls reaching one service or instance.

    >>> Fault(latency="20ms", error_rate=0.1)
    Fault(latency=Fixed(delay=0.02), error_rate=0.1, hang=False, down=False)
    """

    latency: Latency | None = None
    error_rate: float = 0.0
    hang: bool = False
    down: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "latency", as_latency(self.latency))
        rate = self.error_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise ConfigurationError(
                f"error_rate={rate!r} is outside [0, 1]; it is the share of failed calls, e.g. 0.1 for 10 %"
            )
        object.__setattr__(self, "error_rate", float(rate))

    @property
    def active(self) -> bool:
        """True when this fault changes anything."""
        return bool(self.latency is not None or self.error_rate or self.hang or self.down)

    def merged(self, other: "Fault | None") -> "Fault":
        """This fault with ``other``'s settings laid over it (instance over service)."""
        if other is None:
            return self
        return Fault(
            latency=other.latency if other.latency is not None else self.latency,
            error_rate=max(self.error_rate, other.error_rate),
            hang=self.hang or other.hang,
            down=self.down or other.down,
        )

    def updated(self, **changes) -> "Fault":
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)

    def describe(self) -> str:
        """A short text for tables: ``"down, latency~20ms, error_rate=0.1"`` (empty for no fault)."""
        parts = [name for name, on in (("down", self.down), ("hang", self.hang)) if on]
        if self.latency is not None:
            parts.append(f"latency~{self.latency.mean * 1000:g}ms")
        if self.error_rate:
            parts.append(f"error_rate={self.error_rate:g}")
        return ", ".join(parts)


NO_FAULT = Fault()
