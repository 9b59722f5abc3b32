"""The hop: what happens to one request between caller and callee.

Every call (between services, or from an outside caller such as a load
generator) takes the same four steps, in this order:

1. **resolve** the host to an instance (``catalog-2.svc``, or ``catalog.svc``
   and the service's balancer picks one);
2. **inject faults** held in the network's :class:`FaultTable` and on the
   service or instance: partition, instance down, pause, latency, hang,
   error rate (all drawn from the instance's seeded random numbers);
3. **send** it through the transport (:mod:`labsvc.core.transport`), under
   the caller's timeout;
4. **log** it: one :class:`~labsvc.core.calllog.Call` row, whatever happened.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

import httpx
import pandas as pd

from labsvc.core._instances import Instance, Service
from labsvc.core._wire import INSTANCE_HEADER, build_response
from labsvc.core.asgi import await_within
from labsvc.core.calllog import Call, CallLog
from labsvc.core.capacity import Capacity, Slots
from labsvc.core.client import Outbound
from labsvc.core.durations import parse_duration
from labsvc.core.simtime import follows_network
from labsvc.core.errors import (ConfigurationError, InstanceDownError, NetworkStateError, PartitionError,
                                 UnknownServiceError)
from labsvc.core.faults import NO_FAULT, Fault, Latency
from labsvc.core.problems import PROBLEM_JSON, problem_bytes, problem_type

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.core.network import Network
    from labsvc.core.transport import Transport

__all__ = ["FaultTable", "FaultControls", "Hop", "effective_fault"]


class FaultTable:
    """The faults that sit between parties rather than on one of them: partitions and pauses."""

    def __init__(self) -> None:
        self.partitions: set[frozenset[str]] = set()
        self.pauses: dict[str, tuple[float, float]] = {}

    def partitioned(self, out: Outbound, instance: Instance) -> bool:
        """Whether a partition separates ``out``'s caller from ``instance`` (by service or instance name)."""
        if not self.partitions:
            return False
        callers = (out.caller, out.caller_instance)
        callees = (instance.service.name, instance.name)
        return any(frozenset((a, b)) in self.partitions for a in callers for b in callees)

    def pause_end(self, instance: Instance, now: float) -> float | None:
        """When the pause ``instance`` is in at ``now`` ends, or None if it is not paused."""
        for key in (instance.name, instance.service.name):
            window = self.pauses.get(key)
            if window is not None and window[0] <= now < window[1]:
                return window[1]
        return None

    def clear(self) -> None:
        self.partitions.clear()
        self.pauses.clear()


class FaultControls:
    """The fault-injection API of :class:`~labsvc.core.network.Network` (a mixin; it owns no state).

    It works on the network's hosts (``_hosts``), ``services``, ``faults``
    (a :class:`FaultTable`), clock (``now``), transport and instance life
    cycle: crashing an instance is a fault too.
    """

    _hosts: dict[str, Service | Instance]
    services: dict[str, Service]
    faults: FaultTable
    now: Callable[[], float]

    def fault(self, target: str, *, latency: float | str | Latency | None = None, error_rate: float | None = None,
              hang: bool | None = None, down: bool | None = None) -> Fault:
        """Inject a fault on a service (every instance) or one instance.

        Settings not given keep their current value, so faults add up:
        ``net.fault("catalog-2", latency="20ms")`` then
        ``net.fault("catalog-2", error_rate=0.1)`` gives both.
        ``down=True`` makes the instance refuse connections. ``latency`` takes
        a unit (``"20ms"``, ``"1.5s"``) or bare seconds below 1 (``0.02``);
        ``latency=20`` is refused (it reads as 20 s but is meant as 20 ms).
        """
        holder = self.fault_target(target)
        changes = {k: v for k, v in (("latency", latency), ("error_rate", error_rate)) if v is not None}
        changes.update({k: bool(v) for k, v in (("hang", hang), ("down", down)) if v is not None})
        holder.fault = (holder.fault or NO_FAULT).updated(**changes)
        return holder.fault

    def fault_target(self, target: str) -> Service | Instance:
        """The service or instance that ``target`` names (UnknownServiceError listing both, if none)."""
        found = self._hosts.get(target)
        if found is None:
            raise UnknownServiceError(
                f"cannot inject a fault on {target!r}: no such service or instance; "
                f"services: {sorted(self.services)}, instances: {[i.name for s in self.services.values() for i in s.instances]}"
            )
        return found

    def capacity(self, target: str, service_time: Any = None, *, workers: int = 1) -> Capacity | None:
        """Give ``target`` (each instance of a service, or one instance) ``workers`` slots and a service time.

        A request then waits first-come, first-served for a free slot and
        holds it for a draw of ``service_time`` (``"5ms"``, or a distribution
        such as ``labsvc.Exponential("5ms")``) before the app answers
        (:mod:`labsvc.core.capacity`). ``service_time=None`` removes it.
        """
        holder = self.fault_target(target)
        holder.capacity = None if service_time is None else Capacity.of(service_time, workers)
        return holder.capacity

    def clear_faults(self, target: str | None = None) -> None:
        """Remove injected faults from ``target`` (or everywhere), and heal partitions and pauses."""
        if target is None:
            for service in self.services.values():
                service.fault = None
                for instance in service.instances:
                    instance.fault = None
            self.faults.clear()
            return
        holder = self.fault_target(target)
        holder.fault = None
        if isinstance(holder, Service):
            for instance in holder.instances:
                instance.fault = None
        self.faults.pauses.pop(target, None)

    def partition(self, a: str, b: str) -> None:
        """Cut the network between ``a`` and ``b`` (services, instances or caller names), both ways."""
        if a == b:
            raise ConfigurationError(f"a partition separates two different parties; got {a!r} twice")
        self.faults.partitions.add(frozenset((a, b)))

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Remove the partition between ``a`` and ``b``, or every partition."""
        if a is None and b is None:
            self.faults.partitions.clear()
        else:
            self.faults.partitions.discard(frozenset((a, b)))

    def pause(self, target: str, duration: float | str, *, after: float | str = 0.0) -> None:
        """Freeze ``target`` for ``duration``, starting ``after`` from now.

        Requests that arrive during the pause wait until it ends (like a
        stop-the-world garbage collection), so they are slow, not lost.
        """
        self.fault_target(target)
        d = parse_duration(duration, name="duration")
        start = self.now() + parse_duration(after, name="after")
        self.faults.pauses[target] = (start, start + d)

    @follows_network
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
        for inst in self.targets(target):
            if not inst.running:
                continue
            self._transport.crash(inst)
            inst.state = "stopped"
            crashed.append(inst.name)
            if delay is not None:
                task = asyncio.get_running_loop().create_task(self._restart_later(inst, delay))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return crashed

    async def _restart_later(self, inst: Instance, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._started and not inst.running:
            inst.renew_app()
            await self._start_instance(inst)

    @follows_network
    async def restart(self, target: str, *, rolling: bool = True) -> pd.DataFrame:
        """Redeploy ``target`` (a service or an instance) and report each instance's downtime.

        With ``rolling=True`` instances restart one after the other, so a
        service with several instances always has one running. For factory
        apps, each instance gets a brand-new app: a new version starts with
        fresh in-memory state, as a redeployed container would.
        """
        self._require_started()
        rows = []

        async def redeploy(inst: Instance) -> None:
            t_stop = self.now()
            await self._stop_instance(inst)
            inst.renew_app()
            await self._start_instance(inst)
            rows.append({"instance": inst.name, "stopped_at": t_stop, "running_at": self.now(),
                         "downtime": self.now() - t_stop})

        instances = self.targets(target)
        if rolling:
            for inst in instances:
                await redeploy(inst)
        else:
            await asyncio.gather(*(redeploy(i) for i in instances))
        return pd.DataFrame(rows, columns=["instance", "stopped_at", "running_at", "downtime"])


def effective_fault(instance: Instance) -> Fault | None:
    """The service's fault with the instance's own on top (None when neither has one)."""
    fault = instance.service.fault
    if instance.fault is not None:
        fault = (fault or NO_FAULT).merged(instance.fault)
    return fault


class Hop:
    """Carries requests across one network (the four steps of the module docstring)."""

    def __init__(self, network: "Network", hosts: dict[str, Service | Instance], faults: FaultTable,
                 transport: "Transport", log: CallLog) -> None:
        self.network = network  # its clock: t0 and now()
        self.hosts = hosts
        self.services = network.services
        self.faults = faults
        self.transport = transport
        self.log = log
        self.started = 0  # hops begun so far: each Call's seq
        self.choices: Any = None  # ChoicePoints while the network is steered (labsvc.core.choice)

    # -- 1. resolve ----------------------------------------------------------------
    def resolve(self, host: str) -> Instance:
        found = self.hosts.get(host)
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
        names = [i.name for i in found.instances]
        return self.hosts[found.balancer.choose(names, found.instances[0].rng)]  # type: ignore[return-value]

    # -- the whole hop -------------------------------------------------------------
    async def __call__(self, out: Outbound) -> httpx.Response:
        if not self.network.started:
            raise NetworkStateError("the network is not started; use 'async with net:' or 'await net.start()' first")
        instance = self.resolve(out.host)
        service = instance.service
        t_start = self.network.monotonic()
        self.started += 1
        seq = self.started
        status, error, fault_name, route = 0, "", "", ""
        served = _Served()
        balancer = service.balancer
        balancer.on_start(instance.name)
        instance.outstanding += 1
        try:
            if out.timeout is None:
                response, route, fault_name = await self.deliver(instance, out, served)
            else:
                try:
                    response, route, fault_name = await await_within(self.deliver(instance, out, served), out.timeout, t_start,
                                                                        self.network.monotonic)
                except TimeoutError:
                    fault_name = fault_name or _fault_label(instance)
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
            fault_name = fault_name or _fault_label(instance)
            raise
        finally:
            # -- 4. log
            instance.outstanding -= 1
            duration = self.network.monotonic() - t_start
            balancer.on_end(instance.name, duration, 0 < status < 500)
            self.log.append(Call(
                out.caller, out.caller_instance, service.name, instance.name, out.method, route, out.path,
                status, error, fault_name, round(t_start - self.network.t0, 9), round(duration, 9), out.trace_id,
                served.queued, served.service, seq,
            ))

    # -- 2. inject faults, 3. send ---------------------------------------------------
    async def deliver(self, instance: Instance, out: Outbound, served: "_Served | None" = None
                      ) -> tuple[httpx.Response, str, str]:
        """Faults first, then a worker slot (capacity model), then the transport.

        Returns (response, route template, fault label); ``served`` gets the
        wait for a slot and the service time.
        """
        fault = effective_fault(instance)
        if self.faults.partitions and self.faults.partitioned(out, instance):
            raise _labelled(PartitionError(
                f"a network partition separates {out.caller!r} from {instance.name!r}; heal it with net.heal()"
            ), "partition")
        if not instance.running or (fault is not None and fault.down):
            why = "was stopped" if not instance.running else "is marked down by an injected fault"
            if not instance.running and not instance.starts:
                why = ("was added after the network started and has never run ('await net.start()' starts the "
                       "instances added since)")
            raise _labelled(InstanceDownError(
                f"connection refused: instance {instance.name!r} {why}. Call the service URL "
                f"http://{instance.service.name}.svc to let the balancer pick another instance, or bring it back "
                f"with net.start_instance({instance.name!r}) / net.clear_faults({instance.name!r})"
            ), "down")
        label = ""
        if self.faults.pauses:
            now = self.network.now()
            end = self.faults.pause_end(instance, now)
            if end is not None:
                label = "pause"
                await asyncio.sleep(end - now)
        if fault is not None:
            if fault.latency is not None:
                label = label or "latency"
                await asyncio.sleep(fault.latency.sample(instance.rng))
            if fault.hang:
                # The callee never answers: only the caller's timeout ends this.
                await asyncio.sleep(out.timeout if out.timeout is not None else 3600.0)
                await asyncio.sleep(3600.0)
            if fault.error_rate and instance.rng.random() < fault.error_rate:
                return _injected_error(instance, out, fault.error_rate), "", "error"
        action = "deliver"
        if self.choices is not None:  # steered: the chooser decides which same-instant delivery goes in next
            action = await self.choices.door(f"{out.caller_instance or out.caller} -> {instance.name} {out.method} {out.path}")
        capacity = instance.capacity or instance.service.capacity
        if capacity is None:
            work = 0.0
            if self.network.service_time is not None:  # simulated time: serving takes time, without a queue
                served = served or _Served()
                work = served.service = self.network.service_time.sample(instance.rng)
            response, route = await self._send(instance, out, work, action)
            return response, route, label
        slots = instance.slots
        if slots is None or slots.workers != capacity.workers:
            slots = instance.slots = Slots(capacity.workers, self.network.now)
        queued_at = self.network.monotonic()
        await slots.acquire()
        try:
            served = served or _Served()
            served.queued = self.network.monotonic() - queued_at
            served.service = capacity.service_time.sample(instance.rng)
            response, route = await self._send(instance, out, served.service, action)
        finally:
            slots.release()
        return response, route, label


    async def _send(self, instance: Instance, out: Outbound, work: float, action: str) -> tuple[httpx.Response, str]:
        sent = await self.transport.send(instance, out, work)
        if action == "deliver":
            return sent
        return await self.choices.act(action, self.network, instance.name, lambda: self.transport.send(instance, out, work),
                                      sent)


class _Served:
    """What the capacity model did to one request: its wait for a slot and its service time."""

    __slots__ = ("queued", "service")

    def __init__(self) -> None:
        self.queued = 0.0
        self.service = 0.0


def _labelled(exc: Exception, label: str) -> Exception:
    exc.labsvc_fault = label  # type: ignore[attr-defined]
    return exc


def _fault_label(instance: Instance) -> str:
    f = (instance.service.fault or NO_FAULT).merged(instance.fault)
    return "hang" if f.hang else ("latency" if f.latency is not None else "")


def _injected_error(instance: Instance, out: Outbound, rate: float) -> Any:
    body = problem_bytes(
        503, "Injected fault", type=problem_type("injected-fault"),
        detail=f"the network failed this call to {instance.name} on purpose (error_rate={rate:g})",
        instance=out.path,
    )
    headers = [(b"content-type", PROBLEM_JSON.encode()), (INSTANCE_HEADER.encode(), instance.name.encode())]
    return build_response(503, headers, body, out)
