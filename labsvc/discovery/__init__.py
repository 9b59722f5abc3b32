"""Service discovery with Netflix Eureka's semantics.

Instances **register** with the :class:`ServiceRegistry`, then **renew** their
lease with a heartbeat every 30 s; an instance that misses heartbeats for
90 s has an expired lease and is **evicted** by the eviction task, which
runs every 60 s. A clean shutdown **cancels** (deregisters) at once.

**Self-preservation.** The registry expects two renewals per instance per
minute; if no more than 85 % of those arrived in the last whole minute, it
assumes a network problem rather than mass death and stops evicting until
renewals recover. It is on by default, as in Eureka, and can be switched off.
Renewals are counted like Eureka's ``MeasuredRate``: per whole minute since
the registry started, and the count that matters is the previous minute's.
So a new registry preserves during its first minute (it has not measured a
full minute yet), and a change in renewals shows up after the minute that
contains it has ended.

**Eventual consistency.** A :class:`DiscoveryClient` keeps a local copy of
the registry and refreshes it every 30 s, so it can hand out an instance
that was cancelled a moment ago, and miss one that just registered. Two
more caches sit on the way, as in Eureka and Ribbon: the registry server
answers reads from a :class:`ResponseCache` copied every 30 s, and a
client-side balancer picks from a :class:`ServerList` refreshed from the
discovery client every 30 s (Spring Cloud LoadBalancer: 35 s).

Time comes from an injectable clock. Eviction runs only when asked:
``registry.evict()`` now, or ``registry.tick()`` which runs it when the
eviction interval has passed (the HTTP app ticks on every request); there
is no background task to leak.

>>> from labsvc.core.clock import FakeClock
>>> clock = FakeClock()
>>> registry = ServiceRegistry(clock)
>>> _ = registry.register("catalog", "catalog-1", "http://catalog-1.svc")
>>> [i.url for i in registry.lookup("catalog")]
['http://catalog-1.svc']
>>> clock.advance(30); _ = registry.heartbeat("catalog", "catalog-1")
>>> registry.renewals_this_minute(), registry.renewals_last_minute(), registry.renewal_threshold
(1, 0, 1)
>>> clock.advance(30); _ = registry.heartbeat("catalog", "catalog-1")  # t=60: a new minute begins
>>> registry.renewals_this_minute(), registry.renewals_last_minute()
(1, 1)

**Two backends, one contract.** :class:`RegistryBackend` is what an
instance or a client may rely on, whichever registry it talks to:
:class:`InMemoryRegistryClient` (a :class:`ServiceRegistry` in this process)
or :class:`HttpRegistryClient` (the registry service,
:mod:`labsvc.discovery.registry_server`, which a learner can open and serve
alone: ``python -m labsvc serve labsvc.discovery.registry_server:app``).
The protocol is async because a registry behind a network can only be
awaited; the in-memory registry keeps its synchronous API and gets an async
face.

Differences from Eureka, on purpose: by default a lease expires 90 s after
the last renewal (Eureka's ``Lease.renew`` adds the duration twice, a known
bug it keeps for compatibility, so real instances linger 180 s;
``eureka_renew_bug=True`` copies it) and reads go straight to the registry
(a Eureka server serves them from its read-only response cache;
:class:`ResponseCache` adds it); the lab of notebook 08 switches both on.
The expected renewals follow registrations, cancellations and evictions at
once (Eureka also recomputes them every 15 minutes); and an empty registry
does not report self-preservation.
"""

from __future__ import annotations

from labsvc.discovery._backend import InMemoryRegistryClient, RegistryBackend
from labsvc.discovery._client import DiscoveryClient
from labsvc.discovery._http import HttpRegistryClient
from labsvc.discovery._response_cache import DEFAULT_RESPONSE_CACHE_UPDATE_INTERVAL, ResponseCache
from labsvc.discovery._server_list import RIBBON_REFRESH_INTERVAL, SPRING_CLOUD_LOADBALANCER_TTL, ServerList
from labsvc.discovery._registry import (
    DEFAULT_EVICTION_INTERVAL,
    DEFAULT_LEASE_DURATION,
    DEFAULT_REFRESH_INTERVAL,
    DEFAULT_RENEWAL_INTERVAL,
    DEFAULT_RENEWAL_PERCENT_THRESHOLD,
    InstanceInfo,
    InstanceStatus,
    ServiceRegistry,
)
from labsvc.discovery.registry_server import registry_app, registry_service

__all__ = [
    "DEFAULT_LEASE_DURATION",
    "DEFAULT_RENEWAL_INTERVAL",
    "DEFAULT_EVICTION_INTERVAL",
    "DEFAULT_RENEWAL_PERCENT_THRESHOLD",
    "DEFAULT_REFRESH_INTERVAL",
    "DEFAULT_RESPONSE_CACHE_UPDATE_INTERVAL",
    "RIBBON_REFRESH_INTERVAL",
    "SPRING_CLOUD_LOADBALANCER_TTL",
    "InstanceStatus",
    "InstanceInfo",
    "ServiceRegistry",
    "DiscoveryClient",
    "ResponseCache",
    "ServerList",
    "registry_app",
    "registry_service",
    "RegistryBackend",
    "InMemoryRegistryClient",
    "HttpRegistryClient",
]

