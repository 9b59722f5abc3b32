"""One contract, every backend: fixtures that hand each contract test an in-memory and an HTTP backend.

eventsourcing's pattern: the promises of :class:`~labsvc.messaging.BrokerBackend`
and :class:`~labsvc.discovery.RegistryBackend` are written once, as tests
that only use the protocol, and every implementation must pass all of them.

- ``in-memory``: :class:`~labsvc.messaging.InMemoryBrokerClient` around a
  :class:`~labsvc.messaging.Broker` (or :class:`~labsvc.discovery.InMemoryRegistryClient`
  around a :class:`~labsvc.discovery.ServiceRegistry`) in this process, built
  from the same settings as the service (``settings.new_broker()``);
- ``http``: :class:`~labsvc.messaging.HttpBrokerClient` (or
  :class:`~labsvc.discovery.HttpRegistryClient`) calling the service made by
  ``broker_server.create_app`` (``registry_server.create_app``) on an
  in-process :class:`~labsvc.core.network.Network`.

Both run on a :class:`~labsvc.core.clock.FakeClock`: a test moves time by
hand and never sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from labsvc.core.clock import FakeClock
from labsvc.core.network import Network
from labsvc.discovery import HttpRegistryClient, InMemoryRegistryClient
from labsvc.discovery import registry_server
from labsvc.discovery.registry_server import Settings as RegistrySettings
from labsvc.messaging import HttpBrokerClient, InMemoryBrokerClient
from labsvc.messaging import broker_server
from labsvc.messaging.broker_server import Settings as BrokerSettings
from labsvc.core import simtime

#: The broker every broker contract test starts from, unless it asks for other settings.
BROKER = BrokerSettings(lease=10, max_deliveries=3)
#: The registry every registry contract test starts from: Eureka's timers, no self-preservation,
#: no gradual eviction (the tests that are about those switch them on).
REGISTRY = RegistrySettings(self_preservation=False, gradual_eviction=False)

Scenario = Callable[[Any, FakeClock], Awaitable[Any]]


@dataclass
class Rig:
    """How to get one backend of one kind: ``rig.run(scenario)`` calls ``await scenario(backend, clock)``.

    ``settings`` (the service module's ``Settings``) default to ``default``;
    their clock is always a new FakeClock, the one the scenario gets.
    """

    kind: str
    opener: Callable[[Any], contextlib.AbstractAsyncContextManager]
    default: Any

    def run(self, scenario: Scenario, settings: Any = None) -> Any:
        clock = FakeClock()
        settings = replace(settings or self.default, clock=clock)

        async def main() -> Any:
            async with self.opener(settings) as backend:
                return await scenario(backend, clock)

        return simtime.run(main())


# -- the broker's backends --------------------------------------------------------------

@contextlib.asynccontextmanager
async def in_memory_broker(settings: BrokerSettings) -> AsyncIterator[InMemoryBrokerClient]:
    yield InMemoryBrokerClient(settings.new_broker())


@contextlib.asynccontextmanager
async def http_broker(settings: BrokerSettings) -> AsyncIterator[HttpBrokerClient]:
    net = Network(seed=0, name="contract-broker")
    net.add("broker", lambda: broker_server.create_app(settings))
    async with net:
        yield HttpBrokerClient(net.client("worker"), "http://broker.svc")


@pytest.fixture(params=["in-memory", "http"])
def broker_rig(request) -> Rig:
    """Each broker contract test runs once per backend."""
    opener = {"in-memory": in_memory_broker, "http": http_broker}[request.param]
    return Rig(request.param, opener, BROKER)


# -- the registry's backends ------------------------------------------------------------

@contextlib.asynccontextmanager
async def in_memory_registry(settings: RegistrySettings) -> AsyncIterator[InMemoryRegistryClient]:
    yield InMemoryRegistryClient(settings.new_registry())


@contextlib.asynccontextmanager
async def http_registry(settings: RegistrySettings) -> AsyncIterator[HttpRegistryClient]:
    net = Network(seed=0, name="contract-registry")
    net.add("registry", lambda: registry_server.create_app(settings))
    async with net:
        yield HttpRegistryClient(net.client("catalog"), "http://registry.svc")


@pytest.fixture(params=["in-memory", "http"])
def registry_rig(request) -> Rig:
    """Each registry contract test runs once per backend."""
    opener = {"in-memory": in_memory_registry, "http": http_registry}[request.param]
    return Rig(request.param, opener, REGISTRY)
