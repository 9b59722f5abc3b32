"""Endpoints: which instances of an app take traffic, and in what share.

A Kubernetes Service sends traffic only to the ready endpoints of its pods;
a canary or a blue-green switch decides which version gets what share. The
platform puts an :class:`Endpoints` balancer in front of each app's own
balancer on the network: it keeps the usual choice (round robin by
default) but only among instances that are ready and in rotation, and,
when weights are set, first draws the version by weight.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from labsvc.core.balancer import Balancer

__all__ = ["Endpoints"]


class Endpoints:
    """A balancer that routes only to ready instances, split across versions by weight.

    ``is_ready(name)`` says whether an instance is in the endpoints (takes
    traffic; a pod being deleted stays in them until they catch up);
    ``version_of(name)`` gives its version. With ``weights`` (version ->
    share, e.g. ``{"v1": 0.9, "v2": 0.1}``) a version is drawn first
    (seeded by ``seed``), then ``inner`` picks among its ready
    instances. With no ready instance at all, the choice falls back to every
    candidate (the call then meets whatever state they are in, as a client
    does whose endpoints list is empty or stale).
    """

    def __init__(self, inner: Balancer, is_ready: Callable[[str], bool], version_of: Callable[[str], str],
                 *, seed: int | str = 0) -> None:
        self.inner = inner
        self.is_ready = is_ready
        self.version_of = version_of
        self.weights: dict[str, float] | None = None
        self.name = getattr(inner, "name", "round robin")
        self._rng = random.Random(f"{seed}/endpoints")  # the weighted draw between versions

    def choose(self, candidates: Sequence[str], rng: random.Random) -> str:
        ready = [c for c in candidates if self.is_ready(c)]
        if not ready:
            return self.inner.choose(list(candidates), rng)
        if self.weights:
            versions = {}
            for c in ready:
                versions.setdefault(self.version_of(c), []).append(c)
            live = [(v, w) for v, w in self.weights.items() if w > 0 and v in versions]
            if live:
                total = sum(w for _, w in live)
                x = self._rng.random() * total
                for v, w in live:
                    x -= w
                    if x < 0:
                        return self.inner.choose(versions[v], rng)
                return self.inner.choose(versions[live[-1][0]], rng)
        return self.inner.choose(ready, rng)

    def on_start(self, instance: str) -> None:
        self.inner.on_start(instance)

    def on_end(self, instance: str, duration: float, ok: bool) -> None:
        self.inner.on_end(instance, duration, ok)

    def __repr__(self) -> str:
        return f"Endpoints({self.inner!r}, weights={self.weights})"
