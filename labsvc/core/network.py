"""The network: service instances, how calls reach them, what goes wrong on the way.

A :class:`Network` knows every service instance and its URL
(``http://catalog-1.svc``; ``http://catalog.svc`` lets the balancer choose an
instance). Every call between services, and from outside callers such as a
front end or a load generator, passes through the network's *hop*
(:mod:`labsvc.core.hop`): resolve the host, inject faults, send through the
transport, record the call.

>>> net = Network(seed=7)                                    # doctest: +SKIP
>>> net.add("catalog", catalog_app, instances=2)             # doctest: +SKIP
>>> async with net:                                          # doctest: +SKIP
...     r = await net.client("web").get("http://catalog.svc/products")
>>> net.calls                                                # doctest: +SKIP

How a request reaches an instance is the *transport*'s business
(:mod:`labsvc.core.transport`): in-process (the default) calls each ASGI
app in this event loop; ``Network(mode="process")`` runs each instance as a
real ``python -m labsvc serve`` process (:mod:`labsvc.core.process`), and
calls between services go through a small proxy in this process, where the
faults and the call log live. Other packages attach through
:meth:`Network.instrument` (:mod:`labsvc.core.hooks`), never by the core
importing them.
"""

from __future__ import annotations

import asyncio
import atexit
import random
from time import perf_counter
from time import time as wall_clock
from typing import Any, Callable, Iterable

import httpx
import pandas as pd

from labsvc.core import hooks, logs, simtime
from labsvc.core._instances import Instance, InstanceContext, Service, check_new_names, instance_table
from labsvc.core._wire import INSTANCE_HEADER, ROUTE_HEADER, NetworkResponse  # noqa: F401 - re-exported
from labsvc.core.balancer import Balancer, RoundRobin
from labsvc.core.calllog import CallLog
from labsvc.core.client import DEFAULT_TIMEOUT, Client, NetworkTransport, Outbound, new_trace_id
from labsvc.core.durations import parse_duration
from labsvc.core.errors import (
    ConfigurationError,
    DuplicateInstanceError,
    NetworkStateError,
    UnknownInstanceError,
    UnknownServiceError,
)
from labsvc.core.faults import as_latency
from labsvc.core.hop import FaultControls, FaultTable, Hop
from labsvc.core.process import ProcessTransport
from labsvc.core.choice import choice_points
from labsvc.core.simtime import DEFAULT_TIME, SimLoop, call_in, follows_network, now_ns, on_sim, on_sim_loop
from labsvc.core.transport import InProcessTransport, Transport

__all__ = ["Network", "Service", "Instance", "InstanceContext", "MODES", "INSTANCE_HEADER", "ROUTE_HEADER",
           "running_networks"]

TRANSPORTS: dict[str, type[Transport]] = {"inprocess": InProcessTransport, "process": ProcessTransport}
MODES = tuple(TRANSPORTS)
TIMES = ("real", "simulated")
SIMULATED_SERVICE_TIME = "1ms"  # what serving one request costs on simulated time, unless told otherwise

_running: "dict[str, Network]" = {}


class Network(FaultControls):
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
        (a private CA from :mod:`labsvc.core.tls`; a client without a certificate
        is refused during the handshake).
    time:
        ``"simulated"`` (the default in-process): the network runs on
        simulated time (:mod:`labsvc.core.simtime`): its clock moves only
        while something awaits the network, and jumps over waits, so the same
        seed gives the same numbers on any machine. ``"real"``: the wall
        clock, for measuring what things cost on this machine. Process mode
        is always real.
    service_time:
        On simulated time a handler's own work costs no time, so each request
        is served in this long (``"1ms"`` by default; a distribution such as
        ``labsvc.Exponential("2ms")`` works too), with no limit on how many
        at once, unless :meth:`capacity` gives the instance worker slots.
        ``None`` (or 0): no time at all. Real time ignores it: work takes
        what it really takes.
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
        time: str | None = None,
        service_time: Any = "default",
    ) -> None:
        if mode not in MODES:
            raise ConfigurationError(f"mode={mode!r} is not known; use one of {MODES}")
        if time is None:
            time = "real" if mode == "process" else DEFAULT_TIME.get()
        if time not in TIMES:
            raise ConfigurationError(f"time={time!r} is not known; use one of {TIMES}")
        if time == "simulated" and mode == "process":
            raise ConfigurationError("process mode runs real processes on the wall clock; use time='real' with "
                                     "mode='process', or mode='inprocess' for simulated time")
        if mtls and mode != "process":
            raise ConfigurationError("mtls=True secures the connections between real processes; use it with "
                                     "mode='process' (in-process calls never leave this Python process)")
        self.mtls = bool(mtls)
        self.simulated = time == "simulated"
        if service_time == "default":
            service_time = SIMULATED_SERVICE_TIME if self.simulated else None
        self.service_time = as_latency(service_time) if self.simulated and service_time else None
        self.seed = seed
        self.mode = mode
        self.name = name
        self.timeout = timeout
        self._balancer_factory = balancer
        self.services: dict[str, Service] = {}
        self._hosts: dict[str, Service | Instance] = {}
        self._log = CallLog()
        self.faults = FaultTable()
        self._trace_rng = random.Random(f"{seed}/trace")
        self.monotonic: Callable[[], float] = perf_counter  # the network's clock: the loop's, once started
        self.t0 = perf_counter()  # the call log's time zero, on that clock
        self.epoch0 = wall_clock()  # the same moment on the wall clock, for log lines and spans
        self._log_rows: list[dict] = []  # structured log lines (labsvc.core.logs)
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: Transport = TRANSPORTS[mode](self, self._log_line)
        self._hop = Hop(self, self._hosts, self.faults, self._transport, self._log)
        self._tasks: set[asyncio.Task] = set()  # scheduled restarts, cancelled on stop
        self.instrumentation: hooks.Instrumentation | None = None

    # ------------------------------------------------------------------ building
    def add(self, name: str, app: Any, instances: int = 1, *, balancer: Balancer | None = None,
            aliases: Iterable[str] = ()) -> Service:
        """Add a service with ``instances`` instances named ``<name>-1`` ... .

        ``app`` is a FastAPI/ASGI app (all instances share it), a function that returns a new app (one app per
        instance, so each owns its own state), or an import string ``"module:attr"`` (needed for process mode when
        the app is defined in a notebook cell). On a running network the new instances wait, stopped (calls to them
        are refused, saying why), until ``await net.start()``; ``await net.add_instance(name)`` scales a service.

        ``aliases``: other services merged into this unit (``http://<alias>-<k>.svc`` reaches instance k; one fate
        for all; the app sees the name called in ``Host``, :mod:`labsvc.core.colocate`).
        """
        aliases = check_new_names(name, tuple(aliases), self._hosts)
        if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
            raise ConfigurationError(f"instances={instances!r}: a service needs at least 1 instance (an int)")
        service = Service(self, name, app, balancer if balancer is not None else self._balancer_factory(),
                          seed=self.seed)
        service.aliases = aliases
        self.services[name] = service
        for each in (name, *aliases):
            self._hosts[each] = service
            self._hosts[f"{each}.svc"] = service
        for _ in range(instances):
            self._register(service.new_instance())
        return service

    def _register(self, instance: Instance) -> None:
        names = instance.host_names()
        taken = [n for n in names if n in self._hosts]
        if taken:
            raise DuplicateInstanceError(f"instance {taken[0]!r} already exists on this network")
        for each in names:
            self._hosts[each] = instance
            self._hosts[f"{each}.svc"] = instance

    @follows_network
    async def add_instance(self, service: str) -> Instance:
        """Add one more instance to ``service``; started at once if the network runs."""
        instance = self.service(service).new_instance()
        self._register(instance)
        if self._started:
            await self._start_instance(instance)
        return instance

    @follows_network
    async def remove_instance(self, instance: str) -> None:
        """Stop an instance and take it off the network for good."""
        inst = self.instance(instance)
        await self._stop_instance(inst)
        inst.service.instances.remove(inst)
        for each in inst.host_names():
            self._hosts.pop(each, None)
            self._hosts.pop(f"{each}.svc", None)

    def service(self, name: str) -> Service:
        """The service called ``name`` (``UnknownServiceError`` if there is none)."""
        found = self._hosts.get(name)  # the service itself, or the unit a service was merged into (an alias)
        if isinstance(found, Service) and not name.endswith(".svc"):
            return found
        raise UnknownServiceError(f"no service named {name!r} on this network; known services: "
                                  f"{sorted(self.services) or 'none yet'} (add it with net.add({name!r}, app))")

    def instance(self, name: str) -> Instance:
        """The instance called ``name``, e.g. ``"catalog-2"``."""
        found = self._hosts.get(name)
        if isinstance(found, Instance):
            return found
        known = [i.name for s in self.services.values() for i in s.instances]
        hint = f"; {name!r} is a service, its instances are {[i.name for i in found.instances]}" if isinstance(found, Service) else ""
        raise UnknownInstanceError(f"no instance named {name!r} on this network; known instances: {known}{hint}")

    def targets(self, target: str) -> list[Instance]:
        """The instances ``target`` names: all of a service's, or one instance (UnknownServiceError if neither)."""
        found = self._hosts.get(target)
        if isinstance(found, Service):
            return list(found.instances)
        if isinstance(found, Instance):
            return [found]
        raise UnknownServiceError(
            f"{target!r} is neither a service nor an instance on this network; services: {sorted(self.services)}"
        )

    # ------------------------------------------------------------------ life cycle
    @follows_network
    async def start(self) -> "Network":
        """Start every instance (run lifespans, or start processes). Idempotent; when running, starts those added since.

        Instances start side by side, as on a platform: a call made from one
        instance's lifespan may find another not running yet (connection
        refused) and should retry, as a real service does at start-up.
        """
        if self._started:  # net.add on a running network: start what was added since (never started)
            await asyncio.gather(*(self._start_instance(i) for i in _instances(self) if not i.starts))
            return self
        previous = _running.get(self.name)
        if previous is not None and previous is not self:
            await previous.stop()
        self._loop = asyncio.get_running_loop()
        on_sim = isinstance(self._loop, SimLoop)
        if self.simulated and not on_sim:
            raise NetworkStateError("a simulated network runs on simulated time only; start it with "
                                    "'async with net:' from a cell or your own code")
        if on_sim and not self.simulated:  # real processes here: the simulation keeps to the wall clock meanwhile
            self._loop.hold_real_time()
        self.monotonic = self._loop.time if self.simulated else perf_counter
        self.t0, self.epoch0 = self.monotonic(), now_ns() / 1e9  # simulated: the simulation's epoch
        await self._transport.open()
        self._started = True
        _running[self.name] = self
        try:
            await asyncio.gather(*(self._start_instance(i) for s in self.services.values() for i in s.instances))
        except BaseException:
            await self.stop()
            raise
        return self

    @follows_network
    async def stop(self) -> None:
        """Stop every instance and everything the network started. Idempotent."""
        if not self._started:
            return
        loop_alive = self._loop is not None and not self._loop.is_closed()
        same_loop = loop_alive and _current_loop() is self._loop
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        for instance in _instances(self):
            if same_loop:
                await self._stop_instance(instance)
            else:  # started in a loop that is gone: nothing to await there
                instance.state = "stopped"
                if instance.process is not None:
                    instance.process.kill()
                    instance.process = None
        self._transport.close()
        self._hop.choices = None
        if not self.simulated and isinstance(self._loop, SimLoop):
            self._loop.release_real_time()
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
        await self._transport.start_instance(instance)
        instance.state = "running"
        instance.started_at = self.now()
        instance.starts += 1

    async def _stop_instance(self, instance: Instance) -> None:
        if not instance.running:
            return
        instance.state = "stopped"
        await self._transport.stop_instance(instance)
        instance.lifespan = None

    @follows_network
    async def stop_instance(self, instance: str) -> None:
        """Stop one instance: afterwards it refuses connections (a crash or a scale-in)."""
        self._require_started()
        await self._stop_instance(self.instance(instance))

    @follows_network
    async def start_instance(self, instance: str) -> None:
        """Start a stopped instance again (its lifespan runs again; a factory app keeps its object)."""
        self._require_started()
        await self._start_instance(self.instance(instance))

    def _require_started(self) -> None:
        if not self._started:
            raise NetworkStateError("the network is not started; use 'async with net:' or 'await net.start()' first")

    @property
    def tls(self) -> Any:
        """With ``mtls=True`` while running: the :class:`labsvc.core.tls.CertificateAuthority` of this network, else None."""
        return self._transport.tls

    @property
    def started(self) -> bool:
        return self._started

    def now(self) -> float:
        """Seconds since the network started (the call log's time axis), rounded to the ns: exact across reruns."""
        return round(self.monotonic() - self.t0, 9)

    async def run(self, coro: Any) -> Any:
        """``await coro`` on the network's time: from a cell, a scenario of load, faults and waits.

        (An ``asyncio.sleep`` in a cell waits on the kernel's clock while the simulation stands still.)
        """
        if self.simulated and not on_sim_loop():
            return await on_sim(coro)
        return await coro

    def spawn(self, coro: Any, name: str | None = None) -> asyncio.Task:
        """Run ``coro`` in the background on the network's own loop (its simulation, if simulated).

        From a notebook cell a plain ``asyncio.create_task`` would run on the
        kernel's loop, in real time, while the network's time stands still;
        background work that drives the network (a pump, a scraper) belongs here.
        """
        self._require_started()
        return call_in(self._loop, lambda: self._loop.create_task(coro, name=name))

    @follows_network
    async def run_for(self, duration: float | str) -> None:
        """Let ``duration`` pass on the network's clock (simulated: instantly in wall time) while it runs."""
        self._require_started()
        await asyncio.sleep(parse_duration(duration, name="duration"))

    def _log_line(self, row: dict) -> None:
        if self.simulated:  # a log line's time is the simulated moment it was written
            row["epoch"] = self.epoch0 + self.now()
        self._log_rows.append(row)

    # ------------------------------------------------------------------ calling
    def client(self, caller: str = "client", **kw: Any) -> Client:
        """A client that calls services on this network as ``caller`` (``caller_instance=`` names the instance)."""
        kw.setdefault("timeout", self.timeout)
        entry = self._entry
        hop = entry if self.instrumentation is None else self.instrumentation.client_hop(
            entry, caller, kw.get("caller_instance"))
        return Client(hop, caller, rng=self._trace_rng, **kw)

    def transport(self, caller: str = "client") -> NetworkTransport:
        """An httpx transport over this network, for ``httpx.AsyncClient(transport=...)``."""
        return NetworkTransport(self._entry, caller)

    def new_trace_id(self) -> str:
        return new_trace_id(self._trace_rng)

    async def hop(self, out: Outbound) -> httpx.Response:
        """Carry one request across the network (:mod:`labsvc.core.hop`), on the network's time."""
        if self.simulated and not on_sim_loop():
            return await on_sim(self._hop(out))
        return await self._hop(out)

    def steer(self, chooser: Any = None, budget: Any = None) -> Any:
        """Make every delivery a choice point decided by ``chooser``, faults within ``budget`` (:mod:`labsvc.core.choice`)."""
        self._hop.choices = choice_points(self._loop if self._started else None, chooser, self, budget)
        return self._hop.choices

    @property
    def _entry(self) -> Any:  # what clients call: on a real network the hop itself, one call less per request
        return self._hop if not self.simulated else self.hop

    # ------------------------------------------------------------------ observing
    @property
    def calls(self) -> pd.DataFrame:
        """Every hop so far as a DataFrame (see :mod:`labsvc.core.calllog`)."""
        return self._log.frame()

    @property
    def call_log(self) -> CallLog:
        return self._log

    def reset_calls(self) -> None:
        """Forget the recorded calls (start a fresh measurement)."""
        self._log.clear()

    @property
    def logs(self) -> pd.DataFrame:
        """Every line the services logged (:mod:`labsvc.core.logs`), oldest first, on the call log's time axis.

        ``trace_id`` joins a line to the hops of the same request in :attr:`calls`.
        """
        return logs.log_frame(self._log_rows + self._transport.log_rows(), self.epoch0)

    def reset_logs(self) -> None:
        """Forget the collected log lines."""
        self._log_rows.clear()
        self._transport.skip_logs()

    def instrument(self, instrumentation: hooks.Instrumentation | None) -> None:
        """Attach ``instrumentation`` at the network's seams (:mod:`labsvc.core.hooks`), or detach with None.

        In process mode, attach before the network starts (each child learns at start-up what to do)."""
        if self._started and self.mode == "process":
            raise NetworkStateError("in process mode, instrument the network (net.observe(...)) before the network starts: "
                                    "each child process learns at start-up whether to trace and measure")
        self.instrumentation = instrumentation

    def observe(self, *, tracing: bool = True, metrics: bool = True, otlp: bool | None = None) -> Any:
        """Switch on OpenTelemetry tracing and RED metrics (:func:`labsvc.observability.observe`, which says more).

        Returns the Observer; spans appear in :attr:`spans`, every instance serves ``GET /metrics``.
        """
        return hooks.plugin("observe")(self, tracing=tracing, metrics=metrics, otlp=otlp)

    @property
    def spans(self) -> pd.DataFrame:
        """Every finished OpenTelemetry span (empty unless :meth:`observe` switched tracing on)."""
        spans = getattr(self.instrumentation, "spans", None)
        return hooks.plugin("span_frame")([]) if spans is None else spans

    def status(self) -> pd.DataFrame:
        """One row per instance: its URL, state, injected fault and (process mode) port."""
        return instance_table(self.services.values(), self.mode)

    def __repr__(self) -> str:
        state = "started" if self._started else "stopped"
        return f"<Network {self.name!r} {self.mode} {state} services={list(self.services)}>"


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # not on a loop
        return None


def _instances(net: Network) -> list[Instance]:
    """Every instance of every service of ``net``, services in the order they were added."""
    return [i for s in net.services.values() for i in s.instances]


def running_networks() -> list[Network]:
    """The networks that are started right now."""
    return list(_running.values())


simtime.BUSY.append(lambda: any(net.simulated for net in _running.values()))  # experiments then share the clock


@atexit.register
def _kill_processes_at_exit() -> None:  # a kernel that exits leaves no process behind
    for net in list(_running.values()):
        for service in net.services.values():
            for inst in service.instances:
                if inst.process is not None:
                    inst.process.kill()
        net._transport.close()
