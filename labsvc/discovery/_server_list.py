"""The client-side load balancer's own list of instances, refreshed from the discovery client's cache.

A client-side balancer does not ask the discovery client on every call.
Netflix Ribbon's ``DynamicServerListLoadBalancer`` keeps a server list that
its ``PollingServerListUpdater`` refreshes every 30 s from the Eureka
client's local cache; Spring Cloud LoadBalancer, Ribbon's successor, caches
the instance list for 35 s (``spring.cloud.loadbalancer.cache.ttl``). So
the balancer is one more cache between a change in the registry and the
calls: it adds up to one refresh interval to every stale window.

>>> from labsvc.core.clock import FakeClock
>>> from labsvc.discovery import DiscoveryClient, ServiceRegistry
>>> clock = FakeClock()
>>> registry = ServiceRegistry(clock)
>>> _ = registry.register("catalog", "catalog-1", "http://catalog-1.svc")
>>> client = DiscoveryClient(registry, clock=clock)
>>> client.refresh()
>>> servers = ServerList(client, "catalog")
>>> servers.refresh(); servers.names()
['catalog-1']
>>> _ = registry.cancel("catalog", "catalog-1"); clock.advance(30); client.refresh()
>>> client.cached("catalog"), servers.names()             # the client knows; the balancer's list not yet
([], ['catalog-1'])
>>> servers.refresh(); servers.names()
[]
"""

from __future__ import annotations

from labsvc.core.durations import positive_seconds
from labsvc.core.errors import ConfigurationError, check_name
from labsvc.discovery._client import DiscoveryClient
from labsvc.discovery._registry import InstanceInfo

__all__ = ["RIBBON_REFRESH_INTERVAL", "SPRING_CLOUD_LOADBALANCER_TTL", "ServerList"]

#: Ribbon's ``ServerListRefreshInterval`` (PollingServerListUpdater, 30,000 ms), in seconds.
RIBBON_REFRESH_INTERVAL = 30.0
#: Spring Cloud LoadBalancer's ``spring.cloud.loadbalancer.cache.ttl`` (35 s).
SPRING_CLOUD_LOADBALANCER_TTL = 35.0


class ServerList:
    """The instances of ``service`` a balancer chooses from: a copy of ``discovery``'s cache, taken by :meth:`refresh`.

    ``refresh_interval`` is how often its owner refreshes it (Ribbon's 30 s
    by default); :attr:`due` says when. It reads the discovery client's
    cache as it is (``cached``), without making the client fetch: the two
    caches run on timers of their own.
    """

    def __init__(self, discovery: DiscoveryClient, service: str, *,
                 refresh_interval: float | str = RIBBON_REFRESH_INTERVAL) -> None:
        if not isinstance(discovery, DiscoveryClient):
            raise ConfigurationError(f"discovery must be a DiscoveryClient, got {type(discovery).__name__}")
        check_name(service, "service", "catalog")
        self.discovery = discovery
        self.service = service
        self.refresh_interval = positive_seconds(refresh_interval, "refresh_interval")
        self.servers: list[InstanceInfo] = []
        self.last_refresh: float | None = None
        self.refreshes = 0

    @property
    def due(self) -> bool:
        """True before the first refresh and once ``refresh_interval`` has passed since the last."""
        now = self.discovery.clock.now()
        return self.last_refresh is None or now - self.last_refresh >= self.refresh_interval

    def refresh(self) -> list[InstanceInfo]:
        """Copy the discovery client's cached instances of the service; returns the new list."""
        self.servers = self.discovery.cached(self.service)
        self.last_refresh = self.discovery.clock.now()
        self.refreshes += 1
        return list(self.servers)

    def names(self) -> list[str]:
        """The instance names in the list now."""
        return [i.instance for i in self.servers]

    def __repr__(self) -> str:
        return f"ServerList({self.service!r}, servers={self.names()}, refresh_interval={self.refresh_interval:g})"
