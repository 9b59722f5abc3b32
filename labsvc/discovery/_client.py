"""The discovery client: a cached copy of the registry, refreshed on an interval (eventually consistent)."""

from __future__ import annotations

import inspect
from typing import Any

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.durations import positive_seconds
from labsvc.core.errors import ConfigurationError
from labsvc.discovery._registry import DEFAULT_REFRESH_INTERVAL, InstanceInfo, ServiceRegistry  # noqa: F401 (the doctest's)

class DiscoveryClient:
    """A client-side cache of the registry, refreshed every ``refresh_interval``.

    ``source`` is a :class:`ServiceRegistry` or anything with a
    ``snapshot()`` method: every :class:`~labsvc.discovery.RegistryBackend`
    (:class:`HttpRegistryClient`, :class:`InMemoryRegistryClient`) has an
    async one, so use :meth:`alookup` with it. Between refreshes the cache may be stale:
    cancelled instances are still handed out, new ones not yet.

    >>> from labsvc.core.clock import FakeClock
    >>> clock = FakeClock()
    >>> registry = ServiceRegistry(clock)
    >>> _ = registry.register("catalog", "catalog-1", "http://catalog-1.svc")
    >>> client = DiscoveryClient(registry, clock=clock)
    >>> client.urls("catalog")
    ['http://catalog-1.svc']
    >>> _ = registry.cancel("catalog", "catalog-1")
    >>> client.urls("catalog")                 # stale for up to 30 s
    ['http://catalog-1.svc']
    >>> clock.advance(30); client.urls("catalog")
    []
    """

    def __init__(self, source: Any, *, clock: Clock | None = None,
                 refresh_interval: float | str = DEFAULT_REFRESH_INTERVAL) -> None:
        if not callable(getattr(source, "snapshot", None)):
            raise ConfigurationError(
                f"source must be a ServiceRegistry or an HttpRegistryClient (anything with snapshot()), "
                f"got {type(source).__name__}"
            )
        self.source = source
        self.clock: Clock = clock or getattr(source, "clock", None) or MonotonicClock()
        self.refresh_interval = positive_seconds(refresh_interval, "refresh_interval")
        self.last_refresh: float | None = None
        self.fetches = 0
        self._cache: dict[str, list[InstanceInfo]] = {}

    @property
    def due(self) -> bool:
        """True when the cache is empty or older than ``refresh_interval``."""
        return self.last_refresh is None or self.clock.now() - self.last_refresh >= self.refresh_interval

    @property
    def age(self) -> float | None:
        """Seconds since the last refresh (None before the first)."""
        return None if self.last_refresh is None else self.clock.now() - self.last_refresh

    def refresh(self) -> None:
        """Fetch the whole registry now (sync sources only)."""
        snapshot = self.source.snapshot()
        if inspect.isawaitable(snapshot):
            close = getattr(snapshot, "close", None)
            if close is not None:
                close()
            raise ConfigurationError("this source is async: use 'await client.arefresh()' / 'await client.alookup(...)'")
        self._store(snapshot)

    async def arefresh(self) -> None:
        """Fetch the whole registry now (sync or async sources)."""
        snapshot = self.source.snapshot()
        if inspect.isawaitable(snapshot):
            snapshot = await snapshot
        self._store(snapshot)

    def lookup(self, service: str) -> list[InstanceInfo]:
        """The cached UP instances of ``service``, refreshing first if due."""
        if self.due:
            self.refresh()
        return list(self._cache.get(service, []))

    async def alookup(self, service: str) -> list[InstanceInfo]:
        """Like :meth:`lookup`, for an async source such as :class:`HttpRegistryClient`."""
        if self.due:
            await self.arefresh()
        return list(self._cache.get(service, []))

    def urls(self, service: str) -> list[str]:
        """The cached URLs of ``service`` (refreshing first if due)."""
        return [i.url for i in self.lookup(service)]

    def cached(self, service: str) -> list[InstanceInfo]:
        """What the cache holds for ``service`` right now, without refreshing."""
        return list(self._cache.get(service, []))

    def _store(self, snapshot: dict[str, list[InstanceInfo]]) -> None:
        self._cache = {s: list(v) for s, v in snapshot.items()}
        self.last_refresh = self.clock.now()
        self.fetches += 1

    def __repr__(self) -> str:
        return f"DiscoveryClient(services={len(self._cache)}, fetches={self.fetches}, age={self.age})"
