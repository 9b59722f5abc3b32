"""The registry as a service of its own (a Eureka server): a FastAPI app you can open, read and serve alone.

    python -m labsvc serve labsvc.discovery.registry_server:app --port 8761

``create_app(settings)`` returns a new app with a new
:class:`~labsvc.discovery.ServiceRegistry` on every call, so two instances
never share registrations (a factory for process mode:
``labsvc.discovery.registry_server:create_app``); ``app`` is one made with
the default (Eureka's) settings. Instances and clients reach it over HTTP with
:class:`~labsvc.discovery.HttpRegistryClient`; it keeps the promises of
:class:`~labsvc.discovery.RegistryBackend`. Every error is an RFC 9457
problem document.

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
eviction timer; ``registry_app(..., timers=True)`` also runs the timers
themselves in the background, each at its due time, as a Eureka server
does (for a registry on the network's clock, simulated or real; not on a
:class:`~labsvc.core.clock.FakeClock`, which only moves by hand).

Reads (``GET /services``, ``GET /services/{service}``) come from the
registry itself unless a :class:`~labsvc.discovery.ResponseCache` is given
(``response_cache_update_interval`` in :class:`Settings`): then, as from a
Eureka server with its read-only response cache (on by default in Eureka,
30 s), they lag the registry by up to one update interval. It is off by
default here so that a read sees the write before it (the registry
contract); :class:`~labsvc.discovery.lab.DiscoveryLab` turns it on.
``/health`` and ``/ready`` are there as on every labsvc service.

>>> from labsvc.core.clock import FakeClock
>>> app = create_app(Settings(lease_duration=10, self_preservation=False, clock=FakeClock()))
>>> app.state.registry.lease_duration, app.state.registry.self_preservation_enabled
(10.0, False)
>>> create_app().state.registry is create_app().state.registry     # a new registry every time
False
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Response
from pydantic import BaseModel, Field

from labsvc.core.clock import Clock, FakeClock
from labsvc.core.errors import ConfigurationError
from labsvc.core.service import create_service, install_problem_handlers
from labsvc.discovery._backend import ERRORS
from labsvc.discovery._registry import (
    DEFAULT_EVICTION_INTERVAL,
    DEFAULT_LEASE_DURATION,
    DEFAULT_RENEWAL_INTERVAL,
    DEFAULT_RENEWAL_PERCENT_THRESHOLD,
    InstanceStatus,
    ServiceRegistry,
)
from labsvc.discovery._response_cache import ResponseCache

__all__ = ["Settings", "create_app", "app", "registry_app", "registry_service"]


@dataclass(frozen=True)
class Settings:
    """How to run the registry service (see :class:`~labsvc.discovery.ServiceRegistry`; Eureka's defaults).

    ``eureka_renew_bug`` copies Eureka's ``Lease.renew`` (a renewed lease
    lasts twice its duration); ``response_cache_update_interval`` (None: no
    cache) serves reads from a read-only response cache copied that often.
    Both are Eureka's behaviour but off here by default (see the module).
    ``seed`` seeds the order of gradual eviction. ``clock``: what leases
    and the eviction timer run on (a new
    :class:`~labsvc.core.clock.MonotonicClock` per registry when None;
    tests pass a :class:`~labsvc.core.clock.FakeClock`).
    """

    lease_duration: float | str = DEFAULT_LEASE_DURATION
    renewal_interval: float | str = DEFAULT_RENEWAL_INTERVAL
    eviction_interval: float | str = DEFAULT_EVICTION_INTERVAL
    renewal_percent_threshold: float = DEFAULT_RENEWAL_PERCENT_THRESHOLD
    self_preservation: bool = True
    gradual_eviction: bool = True
    eureka_renew_bug: bool = False
    response_cache_update_interval: float | str | None = None
    seed: int = 0
    title: str = "registry"
    clock: Clock | None = None

    def new_registry(self) -> ServiceRegistry:
        """A new in-memory :class:`~labsvc.discovery.ServiceRegistry` with these settings (what each app serves)."""
        return ServiceRegistry(
            self.clock, lease_duration=self.lease_duration, renewal_interval=self.renewal_interval,
            eviction_interval=self.eviction_interval, renewal_percent_threshold=self.renewal_percent_threshold,
            self_preservation=self.self_preservation, gradual_eviction=self.gradual_eviction,
            eureka_renew_bug=self.eureka_renew_bug, rng=random.Random(self.seed))

    def new_response_cache(self, registry: ServiceRegistry) -> ResponseCache | None:
        """The read-only response cache over ``registry`` these settings ask for (None: reads go to the registry)."""
        if self.response_cache_update_interval is None:
            return None
        return ResponseCache(registry, update_interval=self.response_cache_update_interval)


class RegisterBody(BaseModel):
    instance: str = Field(min_length=1)
    url: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: InstanceStatus = InstanceStatus.UP
    lease_duration: float | None = Field(default=None, gt=0)


class StatusBody(BaseModel):
    status: InstanceStatus


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new registry service with a new :class:`~labsvc.discovery.ServiceRegistry`; ``app.state.registry`` is it."""
    if settings is None:
        settings = Settings()
    if not isinstance(settings, Settings):
        raise ConfigurationError(
            f"settings must be a labsvc.discovery.registry_server.Settings (or None), got {type(settings).__name__}")
    registry = settings.new_registry()
    return registry_app(registry, title=settings.title, response_cache=settings.new_response_cache(registry))


async def _run_timers(registry: ServiceRegistry, cache: ResponseCache | None) -> None:
    """Eureka's server timers: the eviction task and the response cache's copy, each when it is due."""
    while True:
        due = registry.next_eviction if cache is None else min(registry.next_eviction, cache.next_update)
        wait = due - registry.clock.now()
        if wait > 0:
            await registry.clock.sleep(max(wait, 1e-6))  # never a sleep too small to move a float clock
            continue
        registry.tick()
        if cache is not None:
            cache.tick()


def registry_app(registry: ServiceRegistry, *, title: str = "registry", response_cache: ResponseCache | None = None,
                 timers: bool = False) -> FastAPI:
    """A FastAPI app serving ``registry``, an existing registry (Eureka's REST operations, simplified; see the route table).

    ``response_cache``: serve reads from it (a :class:`~labsvc.discovery.ResponseCache`
    over ``registry``). ``timers``: run the eviction and cache timers in the
    background while the app runs (a registry on a clock that sleeps for real
    or in simulated time; never with a FakeClock).
    """
    if response_cache is not None and (not isinstance(response_cache, ResponseCache)
                                       or response_cache.registry is not registry):
        raise ConfigurationError("response_cache must be a ResponseCache over the same registry, "
                                 "e.g. ResponseCache(registry)")
    if timers and isinstance(registry.clock, FakeClock):
        raise ConfigurationError("timers=True needs a clock that sleeps (the network's); a FakeClock only moves "
                                 "by hand: leave timers off and let requests tick the registry")
    reads: Any = registry if response_cache is None else response_cache

    def tick() -> None:
        registry.tick()
        if response_cache is not None:
            response_cache.tick()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.get_running_loop().create_task(_run_timers(registry, response_cache)) if timers else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = create_service(title, description="labsvc service registry (Eureka semantics)",
                         dependencies=[Depends(tick)], lifespan=lifespan)
    install_problem_handlers(app, ERRORS)

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
        return {"service": service, "instances": [i.to_dict() for i in reads.lookup(service)]}

    @app.get("/services")
    async def snapshot() -> dict[str, list[dict[str, Any]]]:
        return {s: [i.to_dict() for i in v] for s, v in reads.snapshot().items()}

    @app.get("/status")
    async def status() -> dict[str, Any]:
        return registry.status()

    app.state.registry = registry
    app.state.response_cache = response_cache
    return app


def registry_service() -> FastAPI:
    """A registry service with a fresh :class:`~labsvc.discovery.ServiceRegistry` on the real clock:
    the zero-argument factory process mode needs
    (``net.add("registry", "labsvc.discovery:registry_service")``); same as ``create_app()``."""
    return create_app()


#: A registry service with Eureka's settings, for ``python -m labsvc serve labsvc.discovery.registry_server:app``.
app = create_app()
