"""The registry contract: :class:`RegistryBackend`, and the in-memory backend that implements it.

Two backends keep the same promises:

- :class:`InMemoryRegistryClient` wraps a :class:`~labsvc.discovery.ServiceRegistry`
  in this process;
- :class:`~labsvc.discovery.HttpRegistryClient` talks to a registry service
  (:mod:`labsvc.discovery.registry_server`) over HTTP.

One contract test suite (``tests/contracts/test_registry_contract.py``)
runs against both.

**Why the protocol is async, and the in-memory registry is wrapped.** A
registry behind a network can only be awaited, so the shared shape is the
HTTP API's, every call awaited. The in-memory
:class:`~labsvc.discovery.ServiceRegistry` keeps its synchronous API (and
the extras a notebook inspects: ``instances()``, ``events``, ``evict()``);
:class:`InMemoryRegistryClient` is its async face. The registry service
runs its eviction timer (``registry.tick()``) before every request, standing
in for Eureka's background timer; the in-memory client does the same before
every call, so both show eviction at the same moments. Both hand out copies
of :class:`~labsvc.discovery.InstanceInfo`, as if they had crossed a wire.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from labsvc.core.errors import ConfigurationError, UnknownInstanceError
from labsvc.discovery._registry import InstanceInfo, InstanceStatus

if TYPE_CHECKING:
    from labsvc.discovery._registry import ServiceRegistry

__all__ = ["RegistryBackend", "InMemoryRegistryClient", "ERRORS"]

#: How the contract's errors cross HTTP: (exception, status, problem type slug, title).
#: The registry service answers with these problem documents; the HTTP client raises them again.
ERRORS: list[tuple[type[Exception], int, str, str]] = [
    (UnknownInstanceError, 404, "unknown-instance", "Instance not registered"),
    (ConfigurationError, 422, "invalid-argument", "Invalid argument"),
]


@runtime_checkable
class RegistryBackend(Protocol):
    """What every registry backend promises: Netflix Eureka's registrations and leases.

    **Leases.** :meth:`register` starts a lease of ``lease_duration`` seconds
    (the registry's, 90 s by default); :meth:`heartbeat` (Eureka's *renew*)
    starts it again from now. A lease *expires* when no renewal came for
    more than its duration, but the instance stays registered, and listed,
    until the registry *evicts* it.

    **Eviction** runs on the registry's timer, every ``eviction_interval``
    (60 s) counted from the registry's start; the timer is checked at the
    start of every call, so with a :class:`~labsvc.core.clock.FakeClock` an
    expired instance disappears at the first call after the run that is
    due. Self-preservation (on by default, as in Eureka) suspends eviction
    while too few renewals arrive; gradual eviction removes at most
    ``1 - renewal_percent_threshold`` of the registry per run.

    **Cancel** (a clean shutdown) removes an instance at once. An instance
    that is not registered (never, cancelled, evicted, or the registry
    restarted) makes :meth:`heartbeat`, :meth:`cancel` and :meth:`set_status`
    raise :class:`~labsvc.core.errors.UnknownInstanceError`: like Eureka's
    404, it tells the instance to register again. Invalid arguments raise
    :class:`~labsvc.core.errors.ConfigurationError`.

    Every :class:`~labsvc.discovery.InstanceInfo` handed out is a copy.
    """

    async def register(
        self,
        service: str,
        instance: str,
        url: str,
        metadata: dict[str, Any] | None = None,
        *,
        status: InstanceStatus | str = InstanceStatus.UP,
        lease_duration: float | None = None,
    ) -> InstanceInfo:
        """Register (or re-register) ``instance`` of ``service`` at ``url`` and start its lease.

        Re-registering keeps ``registered_at`` and renews the lease.
        """

    async def heartbeat(self, service: str, instance: str) -> InstanceInfo:
        """Renew the lease of ``instance`` (``last_renewal`` becomes now)."""

    async def renew(self, service: str, instance: str) -> InstanceInfo:
        """Eureka's name for :meth:`heartbeat`."""

    async def set_status(self, service: str, instance: str, status: InstanceStatus | str) -> InstanceInfo:
        """Change the status; only UP instances are listed (OUT_OF_SERVICE takes one out of rotation)."""

    async def cancel(self, service: str, instance: str) -> None:
        """Deregister ``instance`` at once (a clean shutdown)."""

    async def lookup(self, service: str) -> list[InstanceInfo]:
        """The UP instances of ``service`` by name, expired-but-not-evicted ones included; ``[]`` if none."""

    async def snapshot(self) -> dict[str, list[InstanceInfo]]:
        """Every service with a registered instance, and its UP instances (what a client caches)."""

    async def status(self) -> dict[str, Any]:
        """What Eureka's dashboard shows: instances, renewals, threshold, self-preservation."""


def _copy(info: InstanceInfo) -> InstanceInfo:
    return replace(info, metadata=dict(info.metadata))


class InMemoryRegistryClient:
    """The :class:`RegistryBackend` of a :class:`~labsvc.discovery.ServiceRegistry` in this process.

    Mirrors :class:`~labsvc.discovery.HttpRegistryClient` call for call,
    the eviction timer included.

    >>> import asyncio
    >>> from labsvc.core.clock import FakeClock
    >>> from labsvc.discovery import ServiceRegistry
    >>> clock = FakeClock()
    >>> registry = InMemoryRegistryClient(ServiceRegistry(clock, self_preservation=False))
    >>> async def demo():
    ...     await registry.register("catalog", "catalog-1", "http://catalog-1.svc")
    ...     clock.advance(121)           # no heartbeat: expired at 90, evicted by the run due at 120
    ...     return await registry.lookup("catalog")
    >>> asyncio.run(demo())
    []
    """

    def __init__(self, registry: ServiceRegistry) -> None:
        self.registry = registry

    async def register(
        self,
        service: str,
        instance: str,
        url: str,
        metadata: dict[str, Any] | None = None,
        *,
        status: InstanceStatus | str = InstanceStatus.UP,
        lease_duration: float | None = None,
    ) -> InstanceInfo:
        self.registry.tick()
        return _copy(self.registry.register(service, instance, url, metadata, status=status,
                                            lease_duration=lease_duration))

    async def heartbeat(self, service: str, instance: str) -> InstanceInfo:
        self.registry.tick()
        return _copy(self.registry.heartbeat(service, instance))

    renew = heartbeat

    async def set_status(self, service: str, instance: str, status: InstanceStatus | str) -> InstanceInfo:
        self.registry.tick()
        return _copy(self.registry.set_status(service, instance, status))

    async def cancel(self, service: str, instance: str) -> None:
        self.registry.tick()
        self.registry.cancel(service, instance)

    async def lookup(self, service: str) -> list[InstanceInfo]:
        self.registry.tick()
        return [_copy(i) for i in self.registry.lookup(service)]

    async def snapshot(self) -> dict[str, list[InstanceInfo]]:
        self.registry.tick()
        return {s: [_copy(i) for i in v] for s, v in self.registry.snapshot().items()}

    async def status(self) -> dict[str, Any]:
        self.registry.tick()
        return self.registry.status()

    def __repr__(self) -> str:
        return f"InMemoryRegistryClient({self.registry!r})"
