"""The network: service instances, how calls reach them, what goes wrong on the way.

A :class:`Network` knows every service instance and its URL
(``http://catalog-1.svc``; ``http://catalog.svc`` lets the balancer choose an
instance). Every call between services, and from outside callers such as a
front end or a load generator, passes through the network's *hop*:

1. resolve the host to an instance (balancer for a service name);
2. apply the faults injected there: partition, instance down, pause,
   latency, hang, error rate (all seeded);
3. deliver the request: in-process straight into the ASGI app, or in
   process mode over real HTTP to a uvicorn process on 127.0.0.1;
4. enforce the caller's timeout and record the hop in the call log.

>>> net = Network(seed=7)                                    # doctest: +SKIP
>>> net.add("catalog", catalog_app, instances=2)             # doctest: +SKIP
>>> async with net:                                          # doctest: +SKIP
...     r = await net.client("web").get("http://catalog.svc/products")
>>> net.calls                                                # doctest: +SKIP

The same code runs with ``Network(mode="process")``: each instance is then
a real ``python -m labsvc serve`` process, and calls between services go
through a small proxy in this process, where the faults and the call log
live.
"""

from __future__ import annotations

import asyncio
import atexit
import random
import re
import time
from typing import Any, Callable
from urllib.parse import unquote

import httpx
import pandas as pd

from . import logs
from ._instances import Instance, InstanceContext, Service, _is_factory, _resolve_app  # noqa: F401 - re-exported
from ._wire import _ASGI_VERSION, INSTANCE_HEADER, ROUTE_HEADER, NetworkResponse, _response  # noqa: F401 - re-exported
from .asgi import Lifespan, await_within, call_asgi
from .balancing import Balancer, RoundRobin
from .calllog import Call, CallLog
from .client import DEFAULT_TIMEOUT, Client, NetworkTransport, Outbound, new_trace_id
from .clock import parse_duration
from .errors import (
    ConfigurationError,
    DuplicateInstanceError,
    InstanceDownError,
    NetworkStateError,
    PartitionError,
    UnknownInstanceError,
    UnknownServiceError,
)
from .faults import NO_FAULT, Fault, Latency
from .problems import PROBLEM_JSON, problem_bytes, problem_type

__all__ = ["Network", "Service", "Instance", "MODES", "INSTANCE_HEADER", "ROUTE_HEADER"]

MODES = ("inprocess", "process")

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$")
_running: "dict[str, Network]" = {}


class Network:
    """A set of service instances and the seam between them.

    Parameters
    ----------
    seed:
        Seeds every random choice (faults, balancers, trace ids): the same
        seed gives the same experiment.
    mode:
        ``"inprocess"`` (default): requests go straight into each ASGI app in
        this event loop. ``"process"``: each instance is a uvicorn process on
        127.0.0.1.
    name:
        Starting a network stops any running network of the same name first,
        so a notebook cell that builds and starts a network can be re-run.
    balancer:
        Factory of the balancer each service gets unless ``add`` names one
        (default round robin).
    mtls:
        Process mode only: mutual TLS between the network and every process
        (a private CA from :mod:`labsvc.tls`; a client without a certificate
        is refused during the handshake).
    """

    def __init__(
        self,
        seed: int = 0,
        mode: str = "inprocess",
        *,
        name: str = "default",
        balancer: Callable[[], Balancer] = RoundRobin,
        timeout: float | None = DEFAULT_TIMEOUT,
        mtls: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ConfigurationError(f"mode={mode!r} is not known; use one of {MODES}")
        if mtls and mode != "process":
            raise ConfigurationError("mtls=True secures the connections between real processes; use it with "
                                     "mode='process' (in-process calls never leave this Python process)")
        self.mtls = bool(mtls)
        self.seed = seed
        self.mode = mode
        self.name = name
        self.timeout = timeout
        self._balancer_factory = balancer
        self.services: dict[str, Service] = {}
        self._hosts: dict[str, Service | Instance] = {}
        self._log = CallLog()
        self._partitions: set[frozenset[str]] = set()
        self._pauses: dict[str, tuple[float, float]] = {}
        self._trace_rng = random.Random(f"{seed}/trace")
        self._t0 = time.perf_counter()
        self._epoch0 = time.time()  # the same moment on the wall clock, for log lines
        self._log_rows: list[dict] = []  # structured log lines (labsvc.logs)
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: Any = None  # process mode: labsvc.process.ProcessRunner
        self._tasks: set[asyncio.Task] = set()  # scheduled restarts, cancelled on stop
        self._observer: Any = None  # labsvc.observability.Observer once net.observe() switched it on

    # ------------------------------------------------------------------ building
    def add(self, name: str, app: Any, instances: int = 1, *, balancer: Balancer | None = None) -> Service:
        """Add a service with ``instances`` instances named ``<name>-1`` ... .

        ``app`` is a FastAPI/ASGI app (all instances share it), a function
        that returns a new app (one app per instance, so each owns its own
        state), or an import string ``"module:attr"`` (needed for process
        mode when the app is defined in a notebook cell).
        """
        if not isinstance(name, str) or not _NAME.match(name) or re.search(r"-\d+$", name):
            raise ConfigurationError(
                f"service name {name!r} is not allowed; use lower-case letters, digits and hyphens, "
                f"starting with a letter and not ending in '-<number>' (that is how instances are named), "
                f"e.g. 'catalog' or 'order-history'"
            )
        if name in self.services:
            raise DuplicateInstanceError(
                f"service {name!r} is already on this network; pick another name, or add instances "
                f"with net.add_instance({name!r})"
            )
        if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
            raise ConfigurationError(f"instances={instances!r}: a service needs at least 1 instance (an int)")
        service = Service(self, name, app, balancer if balancer is not None else self._balancer_factory())
        self.services[name] = service
        self._hosts[name] = service
        self._hosts[f"{name}.svc"] = service
        for _ in range(instances):
            self._register(service._new_instance())
        return service

    def _register(self, instance: Instance) -> None:
        if instance.name in self._hosts:
            raise DuplicateInstanceError(f"instance {instance.name!r} already exists on this network")
        self._hosts[instance.name] = instance
        self._hosts[f"{instance.name}.svc"] = instance

    async def add_instance(self, service: str) -> Instance:
        """Add one more instance to ``service``; started at once if the network runs."""
        svc = self.service(service)
        instance = svc._new_instance()
        self._register(instance)
        if self._started:
            await self._start_instance(instance)
        return instance

    async def remove_instance(self, instance: str) -> None:
        """Stop an instance and take it off the network for good."""
        inst = self.instance(instance)
        await self._stop_instance(inst)
        inst.service.instances.remove(inst)
        self._hosts.pop(inst.name, None)
        self._hosts.pop(f"{inst.name}.svc", None)

    def service(self, name: str) -> Service:
        """The service called ``name`` (``UnknownServiceError`` if there is none)."""
        try:
            return self.services[name]
        except KeyError:
            raise UnknownServiceError(
                f"no service named {name!r} on this network; known services: {sorted(self.services) or 'none yet'}"
                f" (add it with net.add({name!r}, app))"
            ) from None

    def instance(self, name: str) -> Instance:
        """The instance called ``name``, e.g. ``"catalog-2"``."""
        found = self._hosts.get(name)
        if isinstance(found, Instance):
            return found
        known = [i.name for s in self.services.values() for i in s.instances]
        hint = f"; {name!r} is a service, its instances are {[i.name for i in found.instances]}" if isinstance(found, Service) else ""
        raise UnknownInstanceError(f"no instance named {name!r} on this network; known instances: {known}{hint}")

    def _targets(self, target: str) -> list[Instance]:
        found = self._hosts.get(target)
        if isinstance(found, Service):
            return list(found.instances)
        if isinstance(found, Instance):
            return [found]
        raise UnknownServiceError(
            f"{target!r} is neither a service nor an instance on this network; services: {sorted(self.services)}"
        )

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> "Network":
        """Start every instance (run lifespans, or start processes). Idempotent.

        Instances start side by side, as on a platform: a call made from one
        instance's lifespan may find another not running yet (connection
        refused) and should retry, as a real service does at start-up.
        """
        if self._started:
            return self
        previous = _running.get(self.name)
        if previous is not None and previous is not self:
            await previous.stop()
        self._loop = asyncio.get_running_loop()
        self._t0, self._epoch0 = time.perf_counter(), time.time()
        if self.mode == "process":
            from .process import ProcessRunner

            self._runner = ProcessRunner(self)
            await self._runner.start()
        self._started = True
        _running[self.name] = self
        try:
            await asyncio.gather(*(self._start_instance(i) for s in self.services.values() for i in s.instances))
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        """Stop every instance and everything the network started. Idempotent."""
        if not self._started:
            return
        loop_alive = self._loop is not None and not self._loop.is_closed()
        same_loop = loop_alive and _current_loop() is self._loop
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        for service in self.services.values():
            for instance in service.instances:
                if same_loop:
                    await self._stop_instance(instance)
                else:  # started in a loop that is gone: nothing to await there
                    instance.state = "stopped"
                    if instance.process is not None:
                        instance.process.kill()
                        instance.process = None
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        self._started = False
        if _running.get(self.name) is self:
            del _running[self.name]

    async def __aenter__(self) -> "Network":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def _start_instance(self, instance: Instance) -> None:
        if instance.running:
            return
        if self.mode == "process":
            await self._runner.start_instance(instance)
        else:
            if self._shares_app(instance):
                owner = next(i for i in instance.service.instances if i.lifespan is not None and i.running)
                instance.lifespan = owner.lifespan
            else:
                if instance.service._shared_app is None and hasattr(instance.app, "state"):
                    # A per-instance app may call other services from its own
                    # background tasks: labsvc.service.app_client(app).
                    instance.app.state.labsvc = InstanceContext(self, instance)
                instance.lifespan = Lifespan(instance.app)
                # Tasks the lifespan starts inherit this: their log lines are the instance's.
                token = logs.bind(instance.service.name, instance.name, None, self._log_rows.append)
                try:
                    await instance.lifespan.startup()
                finally:
                    logs.unbind(token)
        instance.state = "running"
        instance.started_at = self.now()
        instance.starts += 1

    def _shares_app(self, instance: Instance) -> bool:
        # Instances of a service built from one app object share one lifespan.
        return instance.service._shared_app is not None and any(
            i is not instance and i.running and i.lifespan is not None for i in instance.service.instances
        )

    async def _stop_instance(self, instance: Instance) -> None:
        if not instance.running:
            return
        instance.state = "stopped"
        if self.mode == "process":
            await self._runner.stop_instance(instance)
        elif instance.lifespan is not None:
            others = instance.service._shared_app is not None and any(
                i.running and i.lifespan is instance.lifespan for i in instance.service.instances
            )
            if not others:
                await instance.lifespan.shutdown()
        instance.lifespan = None

    def _abort_instance(self, instance: Instance) -> None:
        # An in-process crash: the instance stops at once and its lifespan
        # ends without running the app's shutdown code.
        instance.state = "stopped"
        lifespan, instance.lifespan = instance.lifespan, None
        shared = instance.service._shared_app is not None and any(
            i.running and i.lifespan is lifespan for i in instance.service.instances)
        if lifespan is not None and not shared:
            lifespan.abort()

    async def stop_instance(self, instance: str) -> None:
        """Stop one instance: afterwards it refuses connections (a crash or a scale-in)."""
        self._require_started()
        await self._stop_instance(self.instance(instance))

    async def start_instance(self, instance: str) -> None:
        """Start a stopped instance again (its lifespan runs again; a factory app keeps its object)."""
        self._require_started()
        await self._start_instance(self.instance(instance))

    async def crash(self, target: str, *, restart_after: float | str | None = None) -> list[str]:
        """Crash ``target`` (a service's instances or one instance), as a process dying would.

        The instance refuses connections at once and loses its in-memory
        state. With ``restart_after``, it comes back after that long (a
        platform restarting a failed container); otherwise it stays down
        until :meth:`start_instance`. Returns the names of the crashed instances.
        """
        self._require_started()
        delay = None if restart_after is None else parse_duration(restart_after, name="restart_after")
        crashed = []
        for inst in self._targets(target):
            if not inst.running:
                continue
            if self.mode == "process" and inst.process is not None:
                inst.process.kill()  # SIGKILL: no graceful shutdown, as in a crash
                await self._stop_instance(inst)
            else:
                self._abort_instance(inst)
            crashed.append(inst.name)
            if delay is not None:
                task = asyncio.get_running_loop().create_task(self._restart_later(inst, delay))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return crashed

    async def _restart_later(self, inst: Instance, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._started and not inst.running:
            if inst.service._shared_app is None:
                inst.app = _resolve_app(inst.service.app_spec)()
            await self._start_instance(inst)

    async def restart(self, target: str, *, rolling: bool = True) -> pd.DataFrame:
        """Redeploy ``target`` (a service or an instance) and report each instance's downtime.

        With ``rolling=True`` instances restart one after the other, so a
        service with several instances always has one running. For factory
        apps, each instance gets a brand-new app: a new version starts with
        fresh in-memory state, as a redeployed container would.
        """
        self._require_started()
        rows = []
        instances = self._targets(target)

        async def redeploy(inst: Instance) -> None:
            t_stop = self.now()
            await self._stop_instance(inst)
            if inst.service._shared_app is None:
                inst.app = _resolve_app(inst.service.app_spec)()
            await self._start_instance(inst)
            rows.append({"instance": inst.name, "stopped_at": t_stop, "running_at": self.now(),
                         "downtime": self.now() - t_stop})

        if rolling:
            for inst in instances:
                await redeploy(inst)
        else:
            await asyncio.gather(*(redeploy(i) for i in instances))
        return pd.DataFrame(rows, columns=["instance", "stopped_at", "running_at", "downtime"])

    def _require_started(self) -> None:
        if not self._started:
            raise NetworkStateError("the network is not started; use 'async with net:' or 'await net.start()' first")

    @property
    def tls(self) -> Any:
        """With ``mtls=True`` while running: the :class:`labsvc.tls.CertificateAuthority` of this network, else None."""
        return getattr(self._runner, "tls", None)

    @property
    def started(self) -> bool:
        return self._started

    def now(self) -> float:
        """Seconds since the network started (the time axis of the call log)."""
        return time.perf_counter() - self._t0

    # ------------------------------------------------------------------ faults
    def fault(
        self,
        target: str,
        *,
        latency: float | str | Latency | None = None,
        error_rate: float | None = None,
        hang: bool | None = None,
        down: bool | None = None,
    ) -> Fault:
        """Inject a fault on a service (every instance) or one instance.

        Settings not given keep their current value, so faults add up:
        ``net.fault("catalog-2", latency="20ms")`` then
        ``net.fault("catalog-2", error_rate=0.1)`` gives both.
        ``down=True`` makes the instance refuse connections.
        """
        holder = self._fault_holder(target)
        current = holder.fault or NO_FAULT
        changes: dict[str, Any] = {}
        if latency is not None:
            changes["latency"] = latency
        if error_rate is not None:
            changes["error_rate"] = error_rate
        if hang is not None:
            changes["hang"] = bool(hang)
        if down is not None:
            changes["down"] = bool(down)
        holder.fault = current.updated(**changes)
        return holder.fault

    def _fault_holder(self, target: str) -> Service | Instance:
        found = self._hosts.get(target)
        if found is None:
            raise UnknownServiceError(
                f"cannot inject a fault on {target!r}: no such service or instance; "
                f"services: {sorted(self.services)}, instances: {[i.name for s in self.services.values() for i in s.instances]}"
            )
        return found

    def clear_faults(self, target: str | None = None) -> None:
        """Remove injected faults from ``target`` (or everywhere), and heal partitions and pauses."""
        if target is None:
            for service in self.services.values():
                service.fault = None
                for instance in service.instances:
                    instance.fault = None
            self._partitions.clear()
            self._pauses.clear()
            return
        holder = self._fault_holder(target)
        holder.fault = None
        if isinstance(holder, Service):
            for instance in holder.instances:
                instance.fault = None
        self._pauses.pop(target, None)

    def partition(self, a: str, b: str) -> None:
        """Cut the network between ``a`` and ``b`` (services, instances or caller names), both ways."""
        if a == b:
            raise ConfigurationError(f"a partition separates two different parties; got {a!r} twice")
        self._partitions.add(frozenset((a, b)))

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Remove the partition between ``a`` and ``b``, or every partition."""
        if a is None and b is None:
            self._partitions.clear()
        else:
            self._partitions.discard(frozenset((a, b)))

    def pause(self, target: str, duration: float | str, *, after: float | str = 0.0) -> None:
        """Freeze ``target`` for ``duration``, starting ``after`` from now.

        Requests that arrive during the pause wait until it ends (like a
        stop-the-world garbage collection), so they are slow, not lost.
        """
        self._fault_holder(target)
        d = parse_duration(duration, name="duration")
        a = parse_duration(after, name="after")
        start = self.now() + a
        self._pauses[target] = (start, start + d)

    # ------------------------------------------------------------------ calling
    def client(self, caller: str = "client", **kw: Any) -> Client:
        """A client that calls services on this network as ``caller``."""
        kw.setdefault("timeout", self.timeout)
        hop = self.hop if self._observer is None else self._observer.client_hop(self.hop, caller)
        return Client(hop, caller, rng=self._trace_rng, **kw)

    def transport(self, caller: str = "client") -> NetworkTransport:
        """An httpx transport over this network, for ``httpx.AsyncClient(transport=...)``."""
        return NetworkTransport(self.hop, caller)

    def new_trace_id(self) -> str:
        return new_trace_id(self._trace_rng)

    def _resolve(self, host: str) -> Instance:
        found = self._hosts.get(host)
        if found is None:
            raise UnknownServiceError(
                f"no service or instance answers at {host!r}; this network has services "
                f"{sorted(self.services) or 'none'} (URLs like http://<service>.svc/... or http://<service>-1.svc/...)"
            )
        if isinstance(found, Instance):
            return found
        if not found.instances:
            raise InstanceDownError(f"service {found.name!r} has no instances")
        if len(found.instances) == 1:
            return found.instances[0]
        return self._choose(found)

    def _choose(self, service: Service) -> Instance:
        names = [i.name for i in service.instances]
        chosen = service.balancer.choose(names, service.instances[0].rng)
        return self._hosts[chosen]  # type: ignore[return-value]

    async def hop(self, out: Outbound) -> httpx.Response:
        """Carry one request across the network (see the module docstring)."""
        if not self._started:
            self._require_started()
        instance = self._resolve(out.host)
        service = instance.service
        t_start = time.perf_counter()
        status = 0
        error = ""
        fault_name = ""
        route = ""
        balancer = service.balancer
        balancer.on_start(instance.name)
        instance.outstanding += 1
        try:
            if out.timeout is None:
                response, route, fault_name = await self._deliver(instance, service, out)
            else:
                try:
                    response, route, fault_name = await await_within(
                        self._deliver(instance, service, out), out.timeout, t_start)
                except TimeoutError:
                    fault_name = fault_name or self._fault_label(instance, service)
                    raise httpx.ReadTimeout(
                        f"{instance.name} did not answer {out.method} {out.path} within the caller's "
                        f"timeout of {out.timeout:g} s"
                    ) from None
            status = response.status_code
            return response
        except httpx.HTTPError as exc:
            error = type(exc).__name__
            if not fault_name:
                fault_name = getattr(exc, "labsvc_fault", "") or ""
            raise
        except asyncio.CancelledError:
            # The caller gave up (its own timeout, a cancelled fan-out): the hop
            # never got an answer, and the log says so.
            error = "Cancelled"
            fault_name = fault_name or self._fault_label(instance, service)
            raise
        finally:
            instance.outstanding -= 1
            duration = time.perf_counter() - t_start
            balancer.on_end(instance.name, duration, 0 < status < 500)
            self._log.append(Call(
                out.caller, out.caller_instance, service.name, instance.name, out.method, route, out.path,
                status, error, fault_name, t_start - self._t0, duration, out.trace_id,
            ))

    def _fault_label(self, instance: Instance, service: Service) -> str:
        f = (service.fault or NO_FAULT).merged(instance.fault)
        return "hang" if f.hang else ("latency" if f.latency is not None else "")

    def _partitioned(self, out: Outbound, instance: Instance) -> bool:
        if not self._partitions:
            return False
        callers = (out.caller, out.caller_instance)
        callees = (instance.service.name, instance.name)
        return any(frozenset((a, b)) in self._partitions for a in callers for b in callees)

    async def _deliver(self, instance: Instance, service: Service, out: Outbound) -> tuple[httpx.Response, str, str]:
        fault = service.fault
        if instance.fault is not None:
            fault = (fault or NO_FAULT).merged(instance.fault)
        if self._partitions and self._partitioned(out, instance):
            exc = PartitionError(
                f"a network partition separates {out.caller!r} from {instance.name!r}; heal it with net.heal()"
            )
            exc.labsvc_fault = "partition"  # type: ignore[attr-defined]
            raise exc
        if not instance.running or (fault is not None and fault.down):
            why = "was stopped" if not instance.running else "is marked down by an injected fault"
            exc = InstanceDownError(
                f"connection refused: instance {instance.name!r} {why}. Call the service URL "
                f"http://{service.name}.svc to let the balancer pick another instance, or bring it back "
                f"with net.start_instance({instance.name!r}) / net.clear_faults({instance.name!r})"
            )
            exc.labsvc_fault = "down"  # type: ignore[attr-defined]
            raise exc
        label = ""
        if self._pauses:
            for key in (instance.name, service.name):
                window = self._pauses.get(key)
                if window is not None:
                    now = self.now()
                    if window[0] <= now < window[1]:
                        label = "pause"
                        await asyncio.sleep(window[1] - now)
        if fault is not None:
            if fault.latency is not None:
                label = label or "latency"
                await asyncio.sleep(fault.latency.sample(instance.rng))
            if fault.hang:
                # The callee never answers: only the caller's timeout ends this.
                await asyncio.sleep(out.timeout if out.timeout is not None else 3600.0)
                await asyncio.sleep(3600.0)
            if fault.error_rate and instance.rng.random() < fault.error_rate:
                body = problem_bytes(
                    503, "Injected fault", type=problem_type("injected-fault"),
                    detail=f"the network failed this call to {instance.name} on purpose (error_rate={fault.error_rate:g})",
                    instance=out.path,
                )
                headers = [(b"content-type", PROBLEM_JSON.encode()), (INSTANCE_HEADER.encode(), instance.name.encode())]
                return _response(503, headers, body, out), "", "error"
        if self.mode == "process":
            response, route = await self._runner.send(instance, out)
            return response, route, label
        return await self._call_inprocess(instance, out, label)

    async def _call_inprocess(self, instance: Instance, out: Outbound, label: str) -> tuple[httpx.Response, str, str]:
        headers = out.headers
        headers.append((b"host", out.host.encode()))
        scope = {
            "type": "http",
            "asgi": _ASGI_VERSION,
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
            "extensions": {"labsvc": getattr(instance, "_context", None) or _context_of(self, instance)},
        }
        token = logs.bind(instance.service.name, instance.name, out.trace_id, self._log_rows.append)
        app = instance.app if self._observer is None else self._observer.server_app(instance)
        try:
            result = await call_asgi(app, scope, out.body)
        finally:
            logs.unbind(token)
        if result.exception is not None:
            instance.last_exception = result.exception
        route = scope.get("route")
        result.headers.append((INSTANCE_HEADER.encode(), instance.name.encode()))
        return _response(result.status, result.headers, result.body, out), getattr(route, "path", "") or "", label

    # ------------------------------------------------------------------ observing
    @property
    def calls(self) -> pd.DataFrame:
        """Every hop so far as a DataFrame (see :mod:`labsvc.calllog`)."""
        return self._log.frame()

    @property
    def call_log(self) -> CallLog:
        return self._log

    def reset_calls(self) -> None:
        """Forget the recorded calls (start a fresh measurement)."""
        self._log.clear()

    @property
    def logs(self) -> pd.DataFrame:
        """Every line the services logged (:mod:`labsvc.logs`), oldest first, on the call log's time axis.

        ``trace_id`` joins a line to the hops of the same request in :attr:`calls`.
        """
        rows = list(self._log_rows)
        if self._runner is not None:
            rows += self._runner.running_log_rows()
        return logs.log_frame(rows, self._epoch0)

    def reset_logs(self) -> None:
        """Forget the collected log lines."""
        self._log_rows.clear()
        if self._runner is not None:
            self._runner.skip_running_logs()

    def observe(self, *, tracing: bool = True, metrics: bool = True, otlp: bool | None = None) -> Any:
        """Switch on OpenTelemetry tracing and RED metrics for this network (off by default).

        Returns the :class:`labsvc.observability.Observer`; spans then appear
        in :attr:`spans` and every instance serves ``GET /metrics``. In process
        mode, call it before the network starts (children learn it at start).
        ``otlp`` forces the OTLP exporter on or off; by default the standard
        ``OTEL_*`` variables decide.
        """
        if self._started and self.mode == "process":
            raise NetworkStateError("in process mode, call net.observe(...) before the network starts: "
                                    "each child process learns at start-up whether to trace and measure")
        from .observability import Observer

        self._observer = Observer(self, tracing=tracing, metrics=metrics, otlp=otlp) if tracing or metrics else None
        return self._observer

    @property
    def spans(self) -> pd.DataFrame:
        """Every finished OpenTelemetry span (empty unless :meth:`observe` switched tracing on)."""
        from .observability import span_frame

        return span_frame([]) if self._observer is None else self._observer.spans

    def status(self) -> pd.DataFrame:
        """One row per instance: its URL, state, injected fault and (process mode) port."""
        rows = []
        for service in self.services.values():
            for inst in service.instances:
                fault = (service.fault or NO_FAULT).merged(inst.fault)
                rows.append({
                    "service": service.name, "instance": inst.name, "url": inst.url, "state": inst.state,
                    "mode": self.mode, "port": getattr(inst.process, "port", None),
                    "fault": _describe(fault), "outstanding": inst.outstanding,
                })
        return pd.DataFrame(rows, columns=["service", "instance", "url", "state", "mode", "port", "fault", "outstanding"])

    def __repr__(self) -> str:
        state = "started" if self._started else "stopped"
        return f"<Network {self.name!r} {self.mode} {state} services={list(self.services)}>"


def _context_of(network: Network, instance: Instance) -> InstanceContext:
    # One InstanceContext per instance, made on its first request: it only
    # names the network and the instance, both fixed for the instance's life.
    context = instance._context = InstanceContext(network, instance)
    return context


def _describe(fault: Fault) -> str:
    parts = []
    if fault.down:
        parts.append("down")
    if fault.hang:
        parts.append("hang")
    if fault.latency is not None:
        parts.append(f"latency~{fault.latency.mean * 1000:g}ms")
    if fault.error_rate:
        parts.append(f"error_rate={fault.error_rate:g}")
    return ", ".join(parts)


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def running_networks() -> list[Network]:
    """The networks that are started right now."""
    return list(_running.values())


@atexit.register
def _kill_processes_at_exit() -> None:  # a kernel that exits leaves no process behind
    for net in list(_running.values()):
        runner = net._runner
        for service in net.services.values():
            for inst in service.instances:
                if inst.process is not None:
                    inst.process.kill()
        if runner is not None:
            runner.close()
