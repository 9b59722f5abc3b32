"""The parts a network is made of: services, their instances, and the context an instance runs in.

A :class:`Service` holds its instances, its balancer and its service-wide
fault; an :class:`Instance` is one running copy with its own URL, state and
seeded random numbers; :class:`InstanceContext` is what a request handler
sees of the network. The app of a service is an ASGI app, a factory or an
import string (``_resolve_app``, ``_is_factory``; :mod:`labsvc.serve` uses
them too). :mod:`labsvc.network` re-exports every name here.
"""

from __future__ import annotations

import importlib
import inspect
import random
from typing import TYPE_CHECKING, Any

from .client import DEFAULT_TIMEOUT, Client
from .errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from .asgi import Lifespan
    from .balancing import Balancer
    from .faults import Fault
    from .network import Network

__all__ = ["Service", "Instance", "InstanceContext"]


class Instance:
    """One running copy of a service, reachable at its own URL."""

    def __init__(self, service: "Service", index: int, app: Any) -> None:
        self.service = service
        self.index = index
        self.name = f"{service.name}-{index}"
        self.url = f"http://{self.name}.svc"
        self.app = app
        self.state = "stopped"  # stopped | running
        self.fault: Fault | None = None
        self.lifespan: Lifespan | None = None
        self.rng = random.Random(f"{service.network.seed}/{self.name}")
        self.outstanding = 0
        self.started_at: float | None = None
        self.starts = 0
        self.last_exception: BaseException | None = None
        self.process: Any = None  # process mode: labsvc.process.InstanceProcess

    @property
    def running(self) -> bool:
        return self.state == "running"

    def __repr__(self) -> str:
        return f"<Instance {self.name} {self.state}>"


class Service:
    """A named service: its instances, its balancer and its service-wide fault."""

    def __init__(self, network: "Network", name: str, app: Any, balancer: Balancer) -> None:
        self.network = network
        self.name = name
        self.url = f"http://{name}.svc"
        self.app_spec = app
        self.balancer = balancer
        self.instances: list[Instance] = []
        self.fault: Fault | None = None
        self.env: dict[str, str] = {}  # process mode: extra environment variables of its instances
        self._next_index = 1
        self._shared_app = None if _is_factory(app) else _resolve_app(app)

    def _new_instance(self) -> Instance:
        app = _resolve_app(self.app_spec)() if self._shared_app is None else self._shared_app
        instance = Instance(self, self._next_index, app)
        self._next_index += 1
        self.instances.append(instance)
        return instance

    def set_app(self, app: Any) -> None:
        """Instances created from now on run ``app`` (a new version being rolled out); running ones keep theirs."""
        self.app_spec = app
        self._shared_app = None if _is_factory(app) else _resolve_app(app)

    def __repr__(self) -> str:
        return f"<Service {self.name} instances={[i.name for i in self.instances]}>"


def _resolve_app(spec: Any) -> Any:
    """Import ``'module:attr'`` strings; return apps and factories as they are."""
    if isinstance(spec, str):
        module_name, _, attr = spec.partition(":")
        if not attr:
            raise ConfigurationError(f"{spec!r} is not an import string; write it as 'package.module:attribute'")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    return spec


def _is_factory(spec: Any) -> bool:
    """A factory is a callable taking no arguments that returns an ASGI app."""
    obj = _resolve_app(spec)
    if not callable(obj):
        raise ConfigurationError(
            f"{obj!r} is not an ASGI app or an app factory; pass a FastAPI app, a function that "
            f"returns one, or an import string 'module:attr'"
        )
    if inspect.isclass(obj):
        return False
    target = obj if inspect.isfunction(obj) or inspect.ismethod(obj) else getattr(obj, "__call__", obj)
    try:
        params = [
            p for p in inspect.signature(target).parameters.values()
            if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    return len(params) == 0


class InstanceContext:
    """What a service instance knows about the network it runs on.

    Put into each request's ASGI scope (``scope["extensions"]["labsvc"]``);
    :func:`labsvc.service.http` uses it to give handlers a client that calls
    other services as this instance.
    """

    __slots__ = ("network", "instance")

    def __init__(self, network: Network, instance: Instance) -> None:
        self.network = network
        self.instance = instance

    @property
    def name(self) -> str:
        return self.instance.name

    @property
    def service(self) -> str:
        return self.instance.service.name

    def client(self, trace_id: str | None = None, timeout: float | None = DEFAULT_TIMEOUT) -> Client:
        net = self.network
        hop = net.hop if net._observer is None else net._observer.client_hop(net.hop, self.service, self.name)
        return Client(hop, self.service, caller_instance=self.name, trace_id=trace_id,
                      timeout=timeout, rng=net._trace_rng)
