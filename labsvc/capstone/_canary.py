"""The gateway's balancer in the order system: round robin per service, and a canary's share of the catalog.

A canary release sends a *small share* of the traffic to the new version
while the rest stays on the stable one. With one canary instance out of two
and plain round robin, the "canary" would take half of all requests; a
traffic router (Argo Rollouts or Flagger with a mesh or an ingress, or
notebook 13's :class:`labsvc.platform.Canary`, whose first step is 10 %)
sets the share by **weight**, whatever the number of instances. This
balancer does that at the gateway: while a canary is set, each catalog
request first draws new version or stable version by weight (a seeded draw),
then the usual round robin picks an instance of that version. A retry after
a failed call leaves out the instances already tried, so it lands on the
stable version.

>>> from labsvc.capstone._canary import CanaryBalancer
>>> release = {"catalog-1": "1.0", "catalog-2": "2.0"}
>>> b = CanaryBalancer(release.get, seed=1)
>>> b.set_canary("2.0", 0.1)
>>> picks = [b.choose(["catalog-1", "catalog-2"], None) for _ in range(1000)]
>>> round(picks.count("catalog-2") / 1000, 2)
0.1
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from labsvc.core.balancer import RoundRobin
from labsvc.core.errors import ConfigurationError

__all__ = ["CanaryBalancer", "CANARY_SHARE"]

#: The canary's share of the catalog traffic: the first step of notebook 13's canary (10 %).
CANARY_SHARE = 0.1


class CanaryBalancer:
    """Round robin per service; with a canary set, a weighted draw between its version and the others first.

    ``version_of(instance)`` gives the release an instance runs (``None``
    for services without releases); ``service`` is the one with releases.
    """

    name = "round robin"

    def __init__(self, version_of: Callable[[str], Any], *, seed: int | str = 0, service: str = "catalog") -> None:
        self.version_of = version_of
        self.service = service
        self.canary: tuple[str, float] | None = None
        self._inner: dict[str, RoundRobin] = {}
        self._rng = random.Random(f"{seed}/canary")
        self.drawn = {"canary": 0, "stable": 0}

    def set_canary(self, version: str, share: float) -> None:
        """Send ``share`` (0 < share < 1) of the service's traffic to instances running ``version``."""
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
            raise ConfigurationError(f"share={share!r} must be a fraction between 0 and 1, e.g. 0.1 for 10 %")
        self.canary = (str(version), float(share))

    def clear_canary(self) -> None:
        """Every instance takes its round-robin turn again."""
        self.canary = None

    def choose(self, candidates: Sequence[str], rng: Any) -> str:
        service = candidates[0].rsplit("-", 1)[0]
        inner = self._inner.setdefault(service, RoundRobin())
        if self.canary is not None and service == self.service:
            version, share = self.canary
            new = [c for c in candidates if self.version_of(c) == version]
            stable = [c for c in candidates if c not in new]
            if new and stable:
                to_canary = self._rng.random() < share
                self.drawn["canary" if to_canary else "stable"] += 1
                return inner.choose(new if to_canary else stable, rng)
        return inner.choose(list(candidates), rng)

    def on_start(self, instance: str) -> None:
        pass

    def on_end(self, instance: str, duration: float, ok: bool) -> None:
        pass

    def __repr__(self) -> str:
        return f"CanaryBalancer(canary={self.canary})"
