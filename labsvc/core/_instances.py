"""The parts a network is made of: services, their instances, and the context an instance runs in.

A :class:`Service` holds its instances, its balancer and its service-wide
fault; an :class:`Instance` is one running copy with its own URL, state and
seeded random numbers; :class:`InstanceContext` is what a request handler
sees of the network. What a service's app spec means (an app, a factory,
an import string) is decided in :mod:`labsvc.core.apps`.
:mod:`labsvc.core.network` re-exports every name here.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from labsvc.core.apps import AppSpec
from labsvc.core.client import DEFAULT_TIMEOUT, Client
from labsvc.core.errors import ConfigurationError, DuplicateInstanceError
from labsvc.core.faults import NO_FAULT

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.core.asgi import Lifespan
    from labsvc.core.capacity import Capacity, Slots
    from labsvc.core.balancer import Balancer
    from labsvc.core.faults import Fault
    from labsvc.core.network import Network

__all__ = ["Service", "Instance", "InstanceContext", "instance_table", "check_new_names"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$")
INSTANCE_SUFFIX = re.compile(r"-\d+$")  # how an instance's name ends: catalog-2


class Instance:
    """One running copy of a service, reachable at its own URL.

    ``seed`` seeds the instance's own random numbers (its faults' draws):
    the same network seed gives every instance the same draws in every run.
    """

    def __init__(self, service: "Service", index: int, app: Any, seed: Any = 0) -> None:
        self.service = service
        self.index = index
        self.name = f"{service.name}-{index}"
        self.url = f"http://{self.name}.svc"
        self.app = app
        self.state = "stopped"  # stopped | running
        self.fault: Fault | None = None
        self.lifespan: Lifespan | None = None
        self.rng = random.Random(f"{seed}/{self.name}")
        self.outstanding = 0
        self.started_at: float | None = None
        self.starts = 0
        self.last_exception: BaseException | None = None
        self.process: Any = None  # process mode: labsvc.core.process.InstanceProcess
        self.context: InstanceContext | None = None  # made on the first in-process request
        self.capacity: Capacity | None = None  # overrides the service's (labsvc.core.capacity)
        self.slots: Slots | None = None  # its worker slots, made with the first request under a capacity

    @property
    def running(self) -> bool:
        return self.state == "running"

    def host_names(self) -> list[str]:
        """Every name this instance answers to: ``orders-1``, and ``inventory-1`` if inventory is merged in."""
        return [self.name] + [f"{alias}-{self.index}" for alias in self.service.aliases]

    def renew_app(self) -> None:
        """Give the instance a new app from its service's spec (a restart: a factory's app starts clean)."""
        if self.service.spec.factory:
            self.app = self.service.spec.new_app()

    def __repr__(self) -> str:
        return f"<Instance {self.name} {self.state}>"


class Service:
    """A named service: its instances, its balancer and its service-wide fault."""

    def __init__(self, network: "Network", name: str, app: Any, balancer: "Balancer", *, seed: Any = 0) -> None:
        self.network = network
        self.name = name
        self.url = f"http://{name}.svc"
        self.balancer = balancer
        self.instances: list[Instance] = []
        self.fault: Fault | None = None
        self.capacity: Capacity | None = None  # every instance's, unless the instance has its own
        self.env: dict[str, str] = {}  # process mode: extra environment variables of its instances
        self.seed = seed
        self.aliases: tuple[str, ...] = ()  # other service names merged into this one (Network.add(aliases=...))
        self._next_index = 1
        self.spec = AppSpec.of(app)

    @property
    def app_spec(self) -> Any:
        """What the service was given: an app, a factory or ``'module:attr'``."""
        return self.spec.spec

    @property
    def shared_app(self) -> Any:
        """The one app all instances run, or None when each instance gets its own (a factory)."""
        return self.spec.shared_app

    def new_instance(self) -> Instance:
        """A new (stopped) instance with the next index; the network registers and starts it."""
        instance = Instance(self, self._next_index, self.spec.new_app(), self.seed)
        self._next_index += 1
        self.instances.append(instance)
        return instance

    def set_app(self, app: Any) -> None:
        """Instances created from now on run ``app`` (a new version being rolled out); running ones keep theirs."""
        self.spec = AppSpec.of(app)

    def __repr__(self) -> str:
        return f"<Service {self.name} instances={[i.name for i in self.instances]}>"


class InstanceContext:
    """What a service instance knows about the network it runs on.

    Put into each request's ASGI scope (``scope["extensions"]["labsvc"]``);
    :func:`labsvc.core.service.http` uses it to give handlers a client that calls
    other services as this instance.
    """

    __slots__ = ("network", "instance")

    def __init__(self, network: "Network", instance: Instance) -> None:
        self.network = network
        self.instance = instance

    @property
    def name(self) -> str:
        return self.instance.name

    @property
    def service(self) -> str:
        return self.instance.service.name

    def client(self, trace_id: str | None = None, timeout: float | None = DEFAULT_TIMEOUT) -> Client:
        return self.network.client(self.service, caller_instance=self.name, trace_id=trace_id, timeout=timeout)


STATUS_COLUMNS = ["service", "instance", "url", "state", "mode", "port", "fault", "outstanding"]


def instance_table(services: Iterable[Service], mode: str) -> pd.DataFrame:
    """One row per instance of ``services``: URL, state, injected fault (service's and its own), port."""
    rows = []
    for service in services:
        for inst in service.instances:
            fault = (service.fault or NO_FAULT).merged(inst.fault)
            rows.append({"service": service.name, "instance": inst.name, "url": inst.url, "state": inst.state,
                         "mode": mode, "port": getattr(inst.process, "port", None), "fault": fault.describe(),
                         "outstanding": inst.outstanding})
    return pd.DataFrame(rows, columns=STATUS_COLUMNS)


def check_new_names(name: str, aliases: tuple, hosts: dict) -> tuple[str, ...]:
    """Refuse a service name (or an alias) that is malformed or taken; the aliases, checked."""
    for each in (name, *aliases):
        if not isinstance(each, str) or not _NAME.match(each) or INSTANCE_SUFFIX.search(each):
            raise ConfigurationError(
                f"service name {each!r} is not allowed; use lower-case letters, digits and hyphens, "
                f"starting with a letter and not ending in '-<number>' (that is how instances are named), "
                f"e.g. 'catalog' or 'order-history'"
            )
        if each in hosts:
            raise DuplicateInstanceError(
                f"service {each!r} is already on this network; pick another name, or add instances "
                f"with net.add_instance({each!r})"
            )
    if len(set(aliases)) != len(aliases) or name in aliases:
        raise ConfigurationError(f"aliases={aliases!r} of {name!r}: each name once, and not the service's own")
    return aliases
