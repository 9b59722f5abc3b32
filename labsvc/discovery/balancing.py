"""Client-side load balancers: which instance of a service gets the next call.

A balancer sees the candidate instance names for one service and picks one.
The network tells it when a call to an instance starts and ends, so
balancers that need live information (least outstanding requests, power of
two choices) can keep it. Balancers are seeded through the ``rng`` they are
given, so the same seed gives the same choices.

Names :func:`make_balancer` understands, and what each picks:

- ``round_robin`` (:class:`RoundRobin`): each instance in turn;
- ``random`` (:class:`Random`): uniformly at random;
- ``least_outstanding`` (:class:`LeastOutstanding`): fewest calls in flight;
- ``p2c`` (:class:`PowerOfTwoChoices`): the less busy of two random instances;
- ``ewma`` (:class:`EwmaLatency`): p2c on smoothed latency x calls in flight.

>>> balancer = make_balancer("least_outstanding")
>>> rng = random.Random(7)
>>> balancer.on_start("catalog-1")            # a call to catalog-1 is in flight
>>> balancer.choose(["catalog-1", "catalog-2"], rng)
'catalog-2'
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from labsvc.core.balancer import Balancer, RoundRobin
from labsvc.core.errors import ConfigurationError

__all__ = [
    "Balancer",
    "RoundRobin",
    "Random",
    "LeastOutstanding",
    "PowerOfTwoChoices",
    "EwmaLatency",
    "BALANCERS",
    "make_balancer",
]


def _require_candidates(candidates: Sequence[str]) -> None:
    if not candidates:
        # The network never asks with an empty list; a learner calling a
        # balancer by hand might, and deserves better than an IndexError.
        raise ConfigurationError(
            "choose() needs at least one candidate instance, e.g. ['catalog-1', 'catalog-2']"
        )


def _better_of_two(candidates: Sequence[str], rng: random.Random, cost: Callable[[str], float]) -> str:
    """Draw two distinct candidates at random and keep the cheaper; on a tie the first draw (already random)."""
    _require_candidates(candidates)
    if len(candidates) == 1:
        return candidates[0]
    first, second = rng.sample(range(len(candidates)), 2)
    a, b = candidates[first], candidates[second]
    return b if cost(b) < cost(a) else a


class Random:
    """A uniformly random instance, drawn from the ``rng`` the network passes in.

    Stateless, so many clients need no coordination; but short runs are
    uneven (random is fair only on average).

    >>> Random().choose(["a", "b", "c"], random.Random(7))
    'b'
    """

    name = "random"

    def choose(self, candidates: Sequence[str], rng: random.Random) -> str:
        _require_candidates(candidates)
        return candidates[rng.randrange(len(candidates))]

    def on_start(self, instance: str) -> None:
        pass

    def on_end(self, instance: str, duration: float, ok: bool) -> None:
        pass

    def __repr__(self) -> str:
        return "Random()"


class _OutstandingCounts:
    """Counts in-flight calls per instance from ``on_start`` / ``on_end``."""

    def __init__(self) -> None:
        self._outstanding: dict[str, int] = {}

    def outstanding(self, instance: str) -> int:
        """How many calls to ``instance`` this balancer has seen start but not end."""
        return self._outstanding.get(instance, 0)

    def on_start(self, instance: str) -> None:
        self._outstanding[instance] = self._outstanding.get(instance, 0) + 1

    def on_end(self, instance: str, duration: float, ok: bool) -> None:
        # Clamp at zero: an on_end for a call started before this balancer
        # was installed must not make an instance look better than idle.
        count = self._outstanding.get(instance, 0) - 1
        if count > 0:
            self._outstanding[instance] = count
        else:
            self._outstanding.pop(instance, None)


class LeastOutstanding(_OutstandingCounts):
    """The instance with the fewest calls in flight (Envoy's "least request").

    Counts come from ``on_start`` / ``on_end``; ties are broken with the rng
    so that idle instances share the load instead of the first one taking
    it all.

    >>> lb = LeastOutstanding()
    >>> lb.on_start("a"); lb.on_start("a"); lb.on_start("b")
    >>> lb.choose(["a", "b", "c"], random.Random(1))
    'c'
    """

    name = "least outstanding"

    def choose(self, candidates: Sequence[str], rng: random.Random) -> str:
        _require_candidates(candidates)
        fewest = min(self.outstanding(c) for c in candidates)
        tied = [c for c in candidates if self.outstanding(c) == fewest]
        return tied[0] if len(tied) == 1 else tied[rng.randrange(len(tied))]

    def __repr__(self) -> str:
        return "LeastOutstanding()"


class PowerOfTwoChoices(_OutstandingCounts):
    """Sample two distinct instances, keep the one with fewer calls in flight.

    Mitzenmacher's "power of two choices": nearly as good as scanning every
    instance for the least loaded, but O(1) and it never herds every client
    onto the same idle instance. It never picks the more loaded of the two
    it sampled, so the most loaded instance overall is never chosen (when
    there are two or more candidates).

    >>> lb = PowerOfTwoChoices()
    >>> for _ in range(5): lb.on_start("a")
    >>> lb.choose(["a", "b"], random.Random(3))
    'b'
    """

    name = "power of two choices"

    def choose(self, candidates: Sequence[str], rng: random.Random) -> str:
        return _better_of_two(candidates, rng, self.outstanding)

    def __repr__(self) -> str:
        return "PowerOfTwoChoices()"


class EwmaLatency(_OutstandingCounts):
    """Power of two choices on expected latency (Finagle / Linkerd "EWMA").

    Each instance's cost is its exponentially weighted moving average
    latency times (in-flight calls + 1): a slow instance and a busy one both
    look expensive. An instance with no measurement yet costs 0 so that it
    gets tried. ``alpha`` is the weight of the newest measurement.

    >>> lb = EwmaLatency(alpha=0.5)
    >>> lb.on_start("slow"); lb.on_end("slow", 0.200, True)
    >>> lb.on_start("fast"); lb.on_end("fast", 0.010, True)
    >>> lb.choose(["slow", "fast"], random.Random(0))
    'fast'
    """

    name = "ewma latency"

    def __init__(self, alpha: float = 0.3) -> None:
        super().__init__()
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 1:
            raise ConfigurationError(f"alpha={alpha!r} must be a number in (0, 1], e.g. 0.3")
        self.alpha = float(alpha)
        self._ewma: dict[str, float] = {}

    def latency(self, instance: str) -> float | None:
        """The smoothed latency of ``instance`` in seconds (None before its first call ends)."""
        return self._ewma.get(instance)

    def cost(self, instance: str) -> float:
        """Expected cost of sending one more call to ``instance``."""
        return self._ewma.get(instance, 0.0) * (self.outstanding(instance) + 1)

    def on_end(self, instance: str, duration: float, ok: bool) -> None:
        super().on_end(instance, duration, ok)
        previous = self._ewma.get(instance)
        duration = max(0.0, float(duration))
        self._ewma[instance] = duration if previous is None else (
            self.alpha * duration + (1 - self.alpha) * previous
        )

    def choose(self, candidates: Sequence[str], rng: random.Random) -> str:
        return _better_of_two(candidates, rng, self.cost)

    def __repr__(self) -> str:
        return f"EwmaLatency(alpha={self.alpha})"


#: The names :func:`make_balancer` understands, and the class each one builds.
BALANCERS: dict[str, type] = {
    "round_robin": RoundRobin,
    "random": Random,
    "least_outstanding": LeastOutstanding,
    "p2c": PowerOfTwoChoices,
    "ewma": EwmaLatency,
}

# Spellings a learner is likely to type for the same thing.
_ALIASES = {
    "roundrobin": "round_robin",
    "rr": "round_robin",
    "least_request": "least_outstanding",
    "least_requests": "least_outstanding",
    "power_of_two_choices": "p2c",
    "ewma_latency": "ewma",
}


def make_balancer(name_or_obj: str | Balancer | type) -> Balancer:
    """A balancer from its name, or the balancer itself if one is given.

    Names are case-insensitive; ``-`` and spaces count as ``_``. Each call
    with a name builds a fresh balancer, so two services never share
    in-flight counts by accident.

    >>> make_balancer("p2c")
    PowerOfTwoChoices()
    >>> make_balancer("Round Robin")
    RoundRobin()
    >>> make_balancer("fastest")
    Traceback (most recent call last):
    ...
    labsvc.core.errors.ConfigurationError: unknown balancer 'fastest'; use one of 'round_robin', 'random', 'least_outstanding', 'p2c', 'ewma' or pass an object with choose(), on_start() and on_end()
    """
    if isinstance(name_or_obj, str):
        key = name_or_obj.strip().lower().replace("-", "_").replace(" ", "_")
        key = _ALIASES.get(key, key)
        if key in BALANCERS:
            return BALANCERS[key]()
    elif isinstance(name_or_obj, type):
        # A class (``make_balancer(LeastOutstanding)``): build one.
        if all(callable(getattr(name_or_obj, m, None)) for m in ("choose", "on_start", "on_end")):
            return name_or_obj()
    elif isinstance(name_or_obj, Balancer):
        return name_or_obj
    valid = ", ".join(repr(n) for n in BALANCERS)
    raise ConfigurationError(
        f"unknown balancer {name_or_obj!r}; use one of {valid} "
        f"or pass an object with choose(), on_start() and on_end()"
    )
