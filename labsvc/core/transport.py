"""Transports: how a request reaches an instance, and how instances start and stop.

The network is the same in both modes; what differs is behind one
interface, :class:`Transport`:

- :class:`InProcessTransport` (``Network(mode="inprocess")``, the default)
  runs each instance's ASGI lifespan in this event loop and calls its app
  directly (:mod:`labsvc.core.asgi`);
- :class:`labsvc.core.process.ProcessTransport` (``mode="process"``) starts
  each instance as a uvicorn process on 127.0.0.1 and sends it real HTTP.

Faults, the balancer and the call log are not the transport's business:
they live in the hop (:mod:`labsvc.core.hop`), before and after
:meth:`Transport.send`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote

import httpx

from labsvc.core import logs
from labsvc.core._instances import InstanceContext
from labsvc.core._wire import ASGI_VERSION, INSTANCE_HEADER, build_response
from labsvc.core.asgi import Lifespan, call_asgi
from labsvc.core.client import Outbound

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.core._instances import Instance
    from labsvc.core.network import Network

__all__ = ["Transport", "InProcessTransport"]


class Transport:
    """What a network needs from a mode. Both modes implement every method.

    ``log_sink`` receives the structured log lines (:mod:`labsvc.core.logs`)
    that instances write.
    """

    mode = "?"
    tls: Any = None

    def __init__(self, network: "Network", log_sink: Callable[[dict], None]) -> None:
        self.network = network
        self.log_sink = log_sink

    async def open(self) -> None:
        """Get ready before the first instance starts (process mode: the proxy for children's calls)."""

    def close(self) -> None:
        """Release what :meth:`open` took (instances are stopped by the network first)."""

    async def start_instance(self, instance: "Instance") -> None:
        """Bring ``instance`` up: run its lifespan, or start its process and wait until it answers."""
        raise NotImplementedError

    async def stop_instance(self, instance: "Instance") -> None:
        """Stop ``instance`` gracefully (its shutdown code runs)."""
        raise NotImplementedError

    def crash(self, instance: "Instance") -> None:
        """Stop ``instance`` at once, without its shutdown code, losing its memory (SIGKILL in process mode)."""
        raise NotImplementedError

    async def send(self, instance: "Instance", out: Outbound, work: float = 0.0) -> tuple[httpx.Response, str]:
        """Deliver ``out`` to ``instance``; return the response and the route template that matched.

        ``work`` is the service time the network's model gives this request
        (seconds): the instance takes that long to answer.
        """
        raise NotImplementedError

    def log_rows(self) -> list[dict]:
        """Log lines still held by the transport (process mode: of children still running)."""
        return []

    def skip_logs(self) -> None:
        """Forget the log lines held so far (after ``net.reset_logs()``)."""


class InProcessTransport(Transport):
    """Instances are ASGI apps in this Python process, called directly."""

    mode = "inprocess"

    async def start_instance(self, instance: "Instance") -> None:
        service = instance.service
        if self._shares_app(instance):
            owner = next(i for i in service.instances if i.lifespan is not None and i.running)
            instance.lifespan = owner.lifespan
            return
        if service.shared_app is None and hasattr(instance.app, "state"):
            # A per-instance app may call other services from its own
            # background tasks: labsvc.core.service.app_client(app).
            instance.app.state.labsvc = InstanceContext(self.network, instance)
        instance.lifespan = Lifespan(instance.app)
        # Tasks the lifespan starts inherit this: their log lines are the instance's.
        token = logs.bind(service.name, instance.name, None, self.log_sink)
        try:
            await instance.lifespan.startup()
        finally:
            logs.unbind(token)

    @staticmethod
    def _shares_app(instance: "Instance") -> bool:
        # Instances of a service built from one app object share one lifespan.
        return instance.service.shared_app is not None and any(
            i is not instance and i.running and i.lifespan is not None for i in instance.service.instances
        )

    @staticmethod
    def _lifespan_shared(instance: "Instance", lifespan: Any) -> bool:
        return instance.service.shared_app is not None and any(
            i.running and i.lifespan is lifespan for i in instance.service.instances)

    async def stop_instance(self, instance: "Instance") -> None:
        lifespan, instance.lifespan = instance.lifespan, None
        if lifespan is not None and not self._lifespan_shared(instance, lifespan):
            await lifespan.shutdown()

    def crash(self, instance: "Instance") -> None:
        # The lifespan ends without running the app's shutdown code.
        instance.state = "stopped"
        lifespan, instance.lifespan = instance.lifespan, None
        if lifespan is not None and not self._lifespan_shared(instance, lifespan):
            lifespan.abort()

    async def send(self, instance: "Instance", out: Outbound, work: float = 0.0) -> tuple[httpx.Response, str]:
        headers = out.headers
        headers.append((b"host", out.host.encode()))
        context = instance.context or _context_of(self.network, instance)
        scope = {
            "type": "http",
            "asgi": ASGI_VERSION,
            "http_version": "1.1",
            "method": out.method,
            "scheme": "http",
            "path": unquote(out.path),
            "raw_path": out.path.encode(),
            "query_string": out.query.encode(),
            "root_path": "",
            "headers": headers,
            "server": (f"{instance.name}.svc", 80),
            "client": (out.caller_instance, 0),
            "state": dict(instance.lifespan.state) if instance.lifespan is not None else {},
            "extensions": {"labsvc": context},
        }
        token = logs.bind(instance.service.name, instance.name, out.trace_id, self.log_sink)
        hooks = self.network.instrumentation
        app = instance.app if hooks is None else hooks.server_app(instance)
        try:
            result = await call_asgi(app, scope, out.body, work)
        finally:
            logs.unbind(token)
        if result.exception is not None:
            instance.last_exception = result.exception
        route = scope.get("route")
        result.headers.append((INSTANCE_HEADER.encode(), instance.name.encode()))
        return build_response(result.status, result.headers, result.body, out), getattr(route, "path", "") or ""


def _context_of(network: "Network", instance: "Instance") -> InstanceContext:
    # One InstanceContext per instance, made on its first request: it only
    # names the network and the instance, both fixed for the instance's life.
    context = instance.context = InstanceContext(network, instance)
    return context

