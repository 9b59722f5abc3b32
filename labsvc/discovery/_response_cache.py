"""The registry server's read-only response cache: what a Eureka server answers reads from.

A Eureka server does not read its registry for every ``GET /apps``. It
keeps two caches (``ResponseCacheImpl``): a read-write cache, invalidated
whenever an instance registers, cancels, is evicted or changes status, and
a **read-only** cache that reads are served from
(``shouldUseReadOnlyResponseCache``, true by default). A timer copies the
read-write cache into the read-only one every
``responseCacheUpdateIntervalMs`` (30 s by default). So a change reaches
clients only at the next copy: up to 30 s after the registry itself knew.

:class:`ResponseCache` does the same over a
:class:`~labsvc.discovery.ServiceRegistry`, which plays the read-write
cache (it is always current). A key not yet in the read-only cache is
loaded from the registry on its first read, as Eureka does; afterwards
that key changes only when :meth:`ResponseCache.update` runs, which
:meth:`ResponseCache.tick` does every ``update_interval``.

>>> from labsvc.core.clock import FakeClock
>>> from labsvc.discovery import ServiceRegistry
>>> clock = FakeClock()
>>> registry = ServiceRegistry(clock)
>>> _ = registry.register("catalog", "catalog-1", "http://catalog-1.svc")
>>> cache = ResponseCache(registry)
>>> [i.instance for i in cache.lookup("catalog")]
['catalog-1']
>>> _ = registry.cancel("catalog", "catalog-1")
>>> [i.instance for i in cache.lookup("catalog")]          # the registry knows; the cache does not yet
['catalog-1']
>>> clock.advance(30); cache.tick(); cache.lookup("catalog")
True
[]
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from labsvc.core.durations import positive_seconds
from labsvc.core.errors import ConfigurationError
from labsvc.discovery._registry import InstanceInfo, ServiceRegistry

__all__ = ["DEFAULT_RESPONSE_CACHE_UPDATE_INTERVAL", "ResponseCache"]

#: Eureka's ``responseCacheUpdateIntervalMs`` (30,000 ms), in seconds.
DEFAULT_RESPONSE_CACHE_UPDATE_INTERVAL = 30.0

_ALL = "*"  # the key of the whole registry (Eureka's ALL_APPS)


def _copy(infos: list[InstanceInfo]) -> list[InstanceInfo]:
    return [replace(i, metadata=dict(i.metadata)) for i in infos]


class ResponseCache:
    """Reads of ``registry`` as a Eureka server answers them: from a copy refreshed every ``update_interval``.

    ``first_update`` is when the copy timer first runs (registry-clock
    seconds; default one interval from now). Eureka aligns it to a
    multiple of the interval on the wall clock, so relative to the
    server's start it falls anywhere within one interval; a lab passes a
    seeded moment. ``events`` records every update that changed what a
    service's readers see.
    """

    def __init__(self, registry: ServiceRegistry, *, update_interval: float | str = DEFAULT_RESPONSE_CACHE_UPDATE_INTERVAL,
                 first_update: float | None = None) -> None:
        if not isinstance(registry, ServiceRegistry):
            raise ConfigurationError(f"registry must be a ServiceRegistry, got {type(registry).__name__}")
        self.registry = registry
        self.update_interval = positive_seconds(update_interval, "update_interval")
        now = registry.clock.now()
        if first_update is not None and (isinstance(first_update, bool) or not isinstance(first_update, (int, float))):
            raise ConfigurationError(f"first_update={first_update!r} must be a time in seconds on the registry's clock")
        self._next = now + self.update_interval if first_update is None else float(first_update)
        self._read_only: dict[str, Any] = {}
        self.updates = 0
        self._events: list[tuple] = []

    # -- reads ------------------------------------------------------------
    def snapshot(self) -> dict[str, list[InstanceInfo]]:
        """Every service's UP instances, as of the last update (or the first read)."""
        if _ALL not in self._read_only:
            self._read_only[_ALL] = self._load(_ALL)
        return {s: _copy(v) for s, v in self._read_only[_ALL].items()}

    def lookup(self, service: str) -> list[InstanceInfo]:
        """The UP instances of ``service``, as of the last update (or the first read)."""
        if service not in self._read_only:
            self._read_only[service] = self._load(service)
        return _copy(self._read_only[service])

    def serving(self, service: str) -> list[str] | None:
        """The instance names readers of ``service`` get now, without loading anything (None: not cached yet)."""
        if _ALL in self._read_only:
            return [i.instance for i in self._read_only[_ALL].get(service, [])]
        if service in self._read_only:
            return [i.instance for i in self._read_only[service]]
        return None

    def _load(self, key: str) -> Any:
        if key == _ALL:
            return {s: _copy(v) for s, v in self.registry.snapshot().items()}
        return _copy(self.registry.lookup(key))

    # -- the copy timer -----------------------------------------------------
    @property
    def next_update(self) -> float:
        """When the copy timer is next due (registry-clock seconds)."""
        return self._next

    def update(self) -> None:
        """Copy the registry into every key the read-only cache holds (Eureka's cache update task)."""
        before = self._names()
        for key in list(self._read_only):
            self._read_only[key] = self._load(key)
        self.updates += 1
        after = self._names()
        now = self.registry.clock.now()
        for service in sorted(set(before) | set(after)):
            if before.get(service) != after.get(service):
                self._events.append((now, "response_cache_updated", service, None,
                                     ",".join(after.get(service, []))))

    def tick(self) -> bool:
        """Run :meth:`update` if it is due, then schedule the next one (fixed delay); True if it ran."""
        now = self.registry.clock.now()
        if now < self._next:
            return False
        self._next = now + self.update_interval
        self.update()
        return True

    def _names(self) -> dict[str, list[str]]:
        names: dict[str, list[str]] = {}
        for key, value in self._read_only.items():
            if key == _ALL:
                for service, infos in value.items():
                    names.setdefault(service, [i.instance for i in infos])
            else:
                names.setdefault(key, [i.instance for i in value])
        return names

    @property
    def events(self) -> pd.DataFrame:
        """Updates that changed what readers of a service see: time, event, service, instance, detail (the instances now)."""
        return pd.DataFrame(self._events, columns=["time", "event", "service", "instance", "detail"])

    def __repr__(self) -> str:
        return f"ResponseCache(update_interval={self.update_interval:g}, updates={self.updates})"
