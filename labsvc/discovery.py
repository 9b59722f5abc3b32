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
that was cancelled a moment ago, and miss one that just registered.

Time comes from an injectable clock. Eviction runs only when asked:
``registry.evict()`` now, or ``registry.tick()`` which runs it when the
eviction interval has passed (the HTTP app ticks on every request); there
is no background task to leak.

>>> from labsvc.clock import FakeClock
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

Differences from Eureka, on purpose: a lease expires 90 s after the last
renewal (Eureka's ``Lease.renew`` adds the duration twice, a known bug it
keeps for compatibility, so real instances linger about 180 s); the expected
renewals follow registrations, cancellations and evictions at once (Eureka
also recomputes them every 15 minutes); and an empty registry does not
report self-preservation.
"""

from __future__ import annotations

import inspect
import math
import random
from collections import deque
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd
from fastapi import Depends, FastAPI, Request, Response
from pydantic import BaseModel, Field

from .clock import Clock, MonotonicClock
from .errors import ConfigurationError, LabsvcError, UnknownInstanceError, check_name, positive_seconds
from .problems import raise_for_problem

__all__ = [
    "DEFAULT_LEASE_DURATION",
    "DEFAULT_RENEWAL_INTERVAL",
    "DEFAULT_EVICTION_INTERVAL",
    "DEFAULT_RENEWAL_PERCENT_THRESHOLD",
    "DEFAULT_REFRESH_INTERVAL",
    "InstanceStatus",
    "InstanceInfo",
    "ServiceRegistry",
    "DiscoveryClient",
    "registry_app",
    "registry_service",
    "HttpRegistryClient",
]

# Eureka's defaults (LeaseInfo, EurekaServerConfig, EurekaClientConfig).
DEFAULT_LEASE_DURATION = 90.0
DEFAULT_RENEWAL_INTERVAL = 30.0
DEFAULT_EVICTION_INTERVAL = 60.0
DEFAULT_RENEWAL_PERCENT_THRESHOLD = 0.85
DEFAULT_REFRESH_INTERVAL = 30.0

_EVENT_COLUMNS = ["time", "event", "service", "instance", "detail"]


class InstanceStatus(StrEnum):
    """An instance's own report of itself; only UP instances are handed out."""

    UP = "UP"
    DOWN = "DOWN"
    STARTING = "STARTING"
    OUT_OF_SERVICE = "OUT_OF_SERVICE"


@dataclass(frozen=True)
class InstanceInfo:
    """One registered instance, as of one moment (the registry hands out copies)."""

    service: str
    instance: str
    url: str
    metadata: dict[str, Any] = field(default_factory=dict)
    status: InstanceStatus = InstanceStatus.UP
    registered_at: float = 0.0
    last_renewal: float = 0.0
    lease_duration: float = DEFAULT_LEASE_DURATION

    @property
    def expires_at(self) -> float:
        """When the lease runs out if no heartbeat comes (registry-clock seconds)."""
        return self.last_renewal + self.lease_duration

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service, "instance": self.instance, "url": self.url,
            "metadata": dict(self.metadata), "status": str(self.status), "registered_at": self.registered_at,
            "last_renewal": self.last_renewal, "lease_duration": self.lease_duration,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceInfo:
        return cls(data["service"], data["instance"], data["url"], dict(data.get("metadata") or {}),
                   InstanceStatus(data.get("status", "UP")), data.get("registered_at", 0.0),
                   data.get("last_renewal", 0.0), data.get("lease_duration", DEFAULT_LEASE_DURATION))




def _status(value: Any) -> InstanceStatus:
    try:
        return InstanceStatus(value)
    except ValueError:
        valid = ", ".join(s.value for s in InstanceStatus)
        raise ConfigurationError(f"status={value!r} is not an instance status; use one of {valid}") from None


class ServiceRegistry:
    """A Eureka-style registry: leases, heartbeats, eviction, self-preservation.

    ``lease_duration`` is how long an instance stays without a heartbeat,
    ``renewal_interval`` how often instances are expected to send one (it
    sets the expected renewal rate), ``eviction_interval`` how often
    :meth:`tick` runs eviction. Self-preservation suspends eviction while
    renewals in the last whole minute are at or below
    ``renewal_percent_threshold`` of those expected. ``gradual_eviction`` evicts at most
    ``1 - renewal_percent_threshold`` of the registry per run, in random
    order (drawn from ``rng``), as Eureka does so that one bad run cannot
    wipe the registry.

    >>> from labsvc.clock import FakeClock
    >>> clock = FakeClock()
    >>> registry = ServiceRegistry(clock, self_preservation=False)
    >>> _ = registry.register("orders", "orders-1", "http://orders-1.svc")
    >>> clock.advance(90); registry.evict()          # exactly 90 s: not yet
    []
    >>> clock.advance(1); [i.instance for i in registry.evict()]
    ['orders-1']
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        lease_duration: float | str = DEFAULT_LEASE_DURATION,
        renewal_interval: float | str = DEFAULT_RENEWAL_INTERVAL,
        eviction_interval: float | str = DEFAULT_EVICTION_INTERVAL,
        renewal_percent_threshold: float = DEFAULT_RENEWAL_PERCENT_THRESHOLD,
        self_preservation: bool = True,
        gradual_eviction: bool = True,
        rng: random.Random | None = None,
        event_log_size: int = 100_000,
    ) -> None:
        if (isinstance(renewal_percent_threshold, bool) or not isinstance(renewal_percent_threshold, (int, float))
                or not 0 < renewal_percent_threshold <= 1):
            raise ConfigurationError(
                f"renewal_percent_threshold={renewal_percent_threshold!r} must be in (0, 1], e.g. 0.85 (Eureka's default)"
            )
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.lease_duration = positive_seconds(lease_duration, "lease_duration")
        self.renewal_interval = positive_seconds(renewal_interval, "renewal_interval")
        self.eviction_interval = positive_seconds(eviction_interval, "eviction_interval")
        self.renewal_percent_threshold = float(renewal_percent_threshold)
        self.self_preservation_enabled = bool(self_preservation)
        self.gradual_eviction = bool(gradual_eviction)
        self.rng = rng if rng is not None else random.Random(0)
        self._instances: dict[str, dict[str, InstanceInfo]] = {}
        self._expected_clients = 0  # Eureka's expectedNumberOfClientsSendingRenews
        # Eureka's MeasuredRate: whole minutes counted from the registry's start.
        self._started = self.clock.now()
        self._minute = 0  # index of the minute being counted
        self._this_minute = 0
        self._last_minute = 0
        self._next_eviction = self.clock.now() + self.eviction_interval
        self._preserving = False  # state at the last eviction run, for the on/off events
        self._events: deque[tuple] = deque(maxlen=event_log_size)

    # -- the instance's side ---------------------------------------------

    def register(
        self,
        service: str,
        instance: str,
        url: str,
        metadata: dict[str, Any] | None = None,
        *,
        status: InstanceStatus | str = InstanceStatus.UP,
        lease_duration: float | str | None = None,
    ) -> InstanceInfo:
        """Register (or re-register) ``instance`` of ``service`` at ``url``; starts its lease.

        >>> registry = ServiceRegistry()
        >>> registry.register("catalog", "catalog-1", "http://catalog-1.svc", {"zone": "a"}).status
        <InstanceStatus.UP: 'UP'>
        """
        check_name(service, "service", 'catalog-1')
        check_name(instance, "instance", 'catalog-1')
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"url={url!r} must be an http(s) URL, e.g. 'http://catalog-1.svc'")
        if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(k, str) for k in metadata)):
            raise ConfigurationError(f"metadata must be a dict with str keys, got {metadata!r}")
        lease = self.lease_duration if lease_duration is None else positive_seconds(lease_duration, "lease_duration")
        now = self.clock.now()
        existing = self._instances.get(service, {}).get(instance)
        info = InstanceInfo(service, instance, url, dict(metadata or {}), _status(status),
                            existing.registered_at if existing else now, now, lease)
        self._instances.setdefault(service, {})[instance] = info
        if existing is None:
            self._expected_clients += 1
        self._event("registered", service, instance, "re-registered" if existing else url)
        return info

    def heartbeat(self, service: str, instance: str) -> InstanceInfo:
        """Renew the lease of ``instance``.

        Raises :class:`UnknownInstanceError` when the registry does not know
        it (evicted, cancelled, or the registry restarted): like Eureka's 404,
        it tells the instance to register again.
        """
        info = self.get(service, instance)
        now = self.clock.now()
        info = replace(info, last_renewal=now)
        self._instances[service][instance] = info
        self._roll_minute()
        self._this_minute += 1
        self._event("renewed", service, instance)
        return info

    renew = heartbeat

    def cancel(self, service: str, instance: str) -> InstanceInfo:
        """Deregister ``instance`` at once (a clean shutdown)."""
        info = self.get(service, instance)
        self._remove(info)
        self._event("cancelled", service, instance)
        return info

    def set_status(self, service: str, instance: str, status: InstanceStatus | str) -> InstanceInfo:
        """Change the status (e.g. OUT_OF_SERVICE to take an instance out of rotation)."""
        info = replace(self.get(service, instance), status=_status(status))
        self._instances[service][instance] = info
        self._event("status_changed", service, instance, str(info.status))
        return info

    # -- the client's side -----------------------------------------------

    def get(self, service: str, instance: str) -> InstanceInfo:
        """The registration of one instance, whatever its status."""
        info = self._instances.get(service, {}).get(instance)
        if info is None:
            known = ", ".join(sorted(self._instances.get(service, {}))) or "none"
            raise UnknownInstanceError(
                f"instance {instance!r} of service {service!r} is not registered (known: {known}); "
                f"it may have been evicted or cancelled: register it again"
            )
        return info

    def lookup(self, service: str) -> list[InstanceInfo]:
        """The UP instances of ``service``, by name; empty if there are none.

        Instances whose lease expired but that are not evicted yet are still
        listed: that is how a client ends up calling a dead instance.
        """
        return [i for _, i in sorted(self._instances.get(service, {}).items())
                if i.status is InstanceStatus.UP]

    def services(self) -> list[str]:
        """Names of services with at least one registered instance."""
        return sorted(s for s, instances in self._instances.items() if instances)

    def snapshot(self) -> dict[str, list[InstanceInfo]]:
        """Every service's UP instances (what a client fetches to fill its cache)."""
        return {s: self.lookup(s) for s in self.services()}

    def instances(self) -> pd.DataFrame:
        """Every registered instance, any status, with its lease as of now."""
        now = self.clock.now()
        rows = [{**i.to_dict(), "expires_at": i.expires_at, "expired": now > i.expires_at}
                for s in self.services() for _, i in sorted(self._instances[s].items())]
        columns = ["service", "instance", "url", "status", "registered_at", "last_renewal",
                   "lease_duration", "expires_at", "expired", "metadata"]
        return pd.DataFrame(rows, columns=columns)

    # -- eviction and self-preservation -------------------------------------

    def renewals_last_minute(self) -> int:
        """Heartbeats received in the previous whole minute: what self-preservation compares.

        Minutes are counted from the registry's start (Eureka's
        ``MeasuredRate``, a 60 s timer); a minute with no heartbeats at all
        counts 0.
        """
        self._roll_minute()
        return self._last_minute

    def renewals_this_minute(self) -> int:
        """Heartbeats received so far in the minute being counted."""
        self._roll_minute()
        return self._this_minute

    def _roll_minute(self) -> None:
        minute = math.floor((self.clock.now() - self._started) / 60.0)
        if minute > self._minute:
            # The minute just ended becomes the last one, unless a silent minute followed it.
            self._last_minute = self._this_minute if minute == self._minute + 1 else 0
            self._this_minute = 0
            self._minute = minute

    @property
    def expected_renewals_per_minute(self) -> float:
        """Two per registered instance at the default 30 s interval."""
        return self._expected_clients * (60.0 / self.renewal_interval)

    @property
    def renewal_threshold(self) -> int:
        """Renewals per minute needed to keep evicting (Eureka truncates to an int)."""
        return int(self.expected_renewals_per_minute * self.renewal_percent_threshold)

    @property
    def self_preservation(self) -> bool:
        """True while eviction is suspended because too few renewals arrive."""
        if not self.self_preservation_enabled:
            return False
        threshold = self.renewal_threshold
        # Eureka needs strictly more renewals than the threshold to evict.
        return threshold > 0 and self.renewals_last_minute() <= threshold

    def evict(self) -> list[InstanceInfo]:
        """Run the eviction task now; returns the instances it evicted.

        Does nothing while self-preservation is on. Otherwise evicts expired
        instances, at most ``1 - renewal_percent_threshold`` of the registry
        per run when ``gradual_eviction`` is on.
        """
        now = self.clock.now()
        preserving = self.self_preservation
        if preserving != self._preserving:
            self._preserving = preserving
            detail = f"{self.renewals_last_minute()} renewals in the last minute, threshold {self.renewal_threshold}"
            self._event("self_preservation_on" if preserving else "self_preservation_off", None, None, detail)
        if preserving:
            return []
        expired = [i for s in self.services() for _, i in sorted(self._instances[s].items()) if now > i.expires_at]
        limit = len(expired)
        if self.gradual_eviction:
            size = sum(len(v) for v in self._instances.values())
            limit = min(limit, size - int(size * self.renewal_percent_threshold))
        # Random order, so that when the limit bites no service is always last.
        victims = self.rng.sample(expired, limit) if limit < len(expired) else expired
        for info in victims:
            self._remove(info)
            self._event("evicted", info.service, info.instance,
                        f"lease expired {now - info.expires_at:.3g}s ago")
        return victims

    def tick(self) -> list[InstanceInfo]:
        """The eviction timer: run :meth:`evict` if it is due, then schedule the next run.

        Runs are ``eviction_interval`` apart, counted from the registry's
        creation (then from each timed run, like ``java.util.Timer``'s fixed
        delay); calling :meth:`evict` by hand does not move the schedule.
        """
        now = self.clock.now()
        if now < self._next_eviction:
            return []
        self._next_eviction = now + self.eviction_interval
        return self.evict()

    @property
    def events(self) -> pd.DataFrame:
        """Registrations, renewals, cancellations, evictions, status and self-preservation changes."""
        return pd.DataFrame(list(self._events), columns=_EVENT_COLUMNS)

    def status(self) -> dict[str, Any]:
        """The numbers Eureka's dashboard shows."""
        return {
            "instances": sum(len(v) for v in self._instances.values()),
            "renewals_last_minute": self.renewals_last_minute(),
            "renewals_this_minute": self.renewals_this_minute(),
            "expected_renewals_per_minute": self.expected_renewals_per_minute,
            "renewal_threshold": self.renewal_threshold,
            "self_preservation_enabled": self.self_preservation_enabled,
            "self_preservation": self.self_preservation,
        }

    def _remove(self, info: InstanceInfo) -> None:
        del self._instances[info.service][info.instance]
        if not self._instances[info.service]:
            del self._instances[info.service]
        # Modern Eureka lowers the expected renewals on evictions as well as
        # cancellations, so the threshold follows the registry's size.
        self._expected_clients = max(0, self._expected_clients - 1)

    def _event(self, event: str, service: str | None, instance: str | None, detail: str = "") -> None:
        self._events.append((self.clock.now(), event, service, instance, detail))

    def __repr__(self) -> str:
        n = sum(len(v) for v in self._instances.values())
        return f"ServiceRegistry(instances={n}, self_preservation={self.self_preservation})"


class DiscoveryClient:
    """A client-side cache of the registry, refreshed every ``refresh_interval``.

    ``source`` is a :class:`ServiceRegistry` or anything with a
    ``snapshot()`` method (an :class:`HttpRegistryClient` has an async one:
    use :meth:`alookup` with it). Between refreshes the cache may be stale:
    cancelled instances are still handed out, new ones not yet.

    >>> from labsvc.clock import FakeClock
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


# -- over HTTP -----------------------------------------------------------------

_ERRORS: list[tuple[type[Exception], int, str, str]] = [
    (UnknownInstanceError, 404, "unknown-instance", "Instance not registered"),
    (ConfigurationError, 422, "invalid-argument", "Invalid argument"),
]


def _install_problem_handlers(app: FastAPI) -> None:
    """Answer every error with ``application/problem+json`` (labsvc errors mapped by ``_ERRORS``)."""
    from .service import install_problem_handlers

    install_problem_handlers(app, _ERRORS)


class RegisterBody(BaseModel):
    instance: str = Field(min_length=1)
    url: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: InstanceStatus = InstanceStatus.UP
    lease_duration: float | None = Field(default=None, gt=0)


class StatusBody(BaseModel):
    status: InstanceStatus


def registry_app(registry: ServiceRegistry, *, title: str = "registry") -> FastAPI:
    """A FastAPI app serving ``registry`` (Eureka's REST operations, simplified).

    ======  ==============================================  ======================
    POST    /services/{service}/instances                   register -> 201
    PUT     /services/{service}/instances/{id}/heartbeat    renew (404: register again)
    PUT     /services/{service}/instances/{id}/status       {status}
    DELETE  /services/{service}/instances/{id}              cancel -> 204
    GET     /services/{service}                             UP instances
    GET     /services                                       every service's UP instances
    GET     /status                                         renewals, threshold, self-preservation
    ======  ==============================================  ======================

    Every request first runs ``registry.tick()``, standing in for Eureka's
    eviction timer. ``/health`` and ``/ready`` are there as on every labsvc
    service.
    """
    from .service import create_service

    def tick() -> None:
        registry.tick()

    app = create_service(title, description="labsvc service registry (Eureka semantics)",
                         dependencies=[Depends(tick)])
    _install_problem_handlers(app)

    @app.post("/services/{service}/instances", status_code=201)
    async def register(service: str, body: RegisterBody) -> dict[str, Any]:
        return registry.register(service, body.instance, body.url, body.metadata, status=body.status,
                                 lease_duration=body.lease_duration).to_dict()

    @app.put("/services/{service}/instances/{instance}/heartbeat")
    async def heartbeat(service: str, instance: str) -> dict[str, Any]:
        return registry.heartbeat(service, instance).to_dict()

    @app.put("/services/{service}/instances/{instance}/status")
    async def set_status(service: str, instance: str, body: StatusBody) -> dict[str, Any]:
        return registry.set_status(service, instance, body.status).to_dict()

    @app.delete("/services/{service}/instances/{instance}", status_code=204)
    async def cancel(service: str, instance: str) -> Response:
        registry.cancel(service, instance)
        return Response(status_code=204)

    @app.get("/services/{service}")
    async def lookup(service: str) -> dict[str, Any]:
        return {"service": service, "instances": [i.to_dict() for i in registry.lookup(service)]}

    @app.get("/services")
    async def snapshot() -> dict[str, list[dict[str, Any]]]:
        return {s: [i.to_dict() for i in v] for s, v in registry.snapshot().items()}

    @app.get("/status")
    async def status() -> dict[str, Any]:
        return registry.status()

    app.state.registry = registry
    return app


def registry_service() -> FastAPI:
    """A registry service with a fresh :class:`ServiceRegistry` on the real clock:
    the zero-argument factory process mode needs
    (``net.add("registry", "labsvc.discovery:registry_service")``)."""
    return registry_app(ServiceRegistry())


class HttpRegistryClient:
    """Talk to a :func:`registry_app` through any httpx-compatible async client.

    A 404 on heartbeat raises :class:`UnknownInstanceError`, so an instance
    can do what a Eureka client does: register again.

    >>> import asyncio
    >>> app = registry_app(ServiceRegistry())
    >>> async def demo():
    ...     async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
    ...         registry = HttpRegistryClient(http, "http://registry.svc")
    ...         try:
    ...             await registry.heartbeat("catalog", "catalog-1")
    ...         except UnknownInstanceError:
    ...             await registry.register("catalog", "catalog-1", "http://catalog-1.svc")
    ...         return [i.url for i in await registry.lookup("catalog")]
    >>> asyncio.run(demo())
    ['http://catalog-1.svc']
    """

    def __init__(self, client: Any, base_url: str = "") -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")

    async def register(self, service: str, instance: str, url: str, metadata: dict[str, Any] | None = None, *,
                       status: str = "UP", lease_duration: float | None = None) -> InstanceInfo:
        body = {"instance": instance, "url": url, "metadata": metadata or {}, "status": str(status),
                "lease_duration": lease_duration}
        return InstanceInfo.from_dict(await self._call("POST", f"/services/{_q(service)}/instances", json=body))

    async def heartbeat(self, service: str, instance: str) -> InstanceInfo:
        path = f"/services/{_q(service)}/instances/{_q(instance)}/heartbeat"
        return InstanceInfo.from_dict(await self._call("PUT", path))

    async def set_status(self, service: str, instance: str, status: str) -> InstanceInfo:
        path = f"/services/{_q(service)}/instances/{_q(instance)}/status"
        return InstanceInfo.from_dict(await self._call("PUT", path, json={"status": str(status)}))

    async def cancel(self, service: str, instance: str) -> None:
        await self._call("DELETE", f"/services/{_q(service)}/instances/{_q(instance)}")

    async def lookup(self, service: str) -> list[InstanceInfo]:
        data = await self._call("GET", f"/services/{_q(service)}")
        return [InstanceInfo.from_dict(i) for i in data["instances"]]

    async def snapshot(self) -> dict[str, list[InstanceInfo]]:
        data = await self._call("GET", "/services")
        return {s: [InstanceInfo.from_dict(i) for i in v] for s, v in data.items()}

    async def status(self) -> dict[str, Any]:
        return await self._call("GET", "/status")

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.client.request(method, self.base_url + path, **kw)
        if response.status_code >= 400:
            _raise_problem(response)
        return None if response.status_code == 204 else response.json()


def _q(name: str) -> str:
    return quote(str(name), safe="")


def _raise_problem(response: httpx.Response) -> None:
    raise_for_problem(response, _ERRORS)
