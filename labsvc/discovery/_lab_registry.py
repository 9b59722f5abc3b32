"""Client-side discovery on the network (notebook 08): :class:`DiscoveryLab`, run at Eureka's true timings.

A registry service (a Eureka server: leases, eviction, self-preservation,
its read-only response cache), catalog instances that register themselves
and send heartbeats, and a caller, ``web``, whose discovery client (a
Eureka client's cache) and balancer list (Ribbon's) refresh on timers of
their own. Re-exported by :mod:`labsvc.discovery.lab`, which describes the
lab; its results are :class:`~labsvc.discovery._lab_result.DiscoveryResult`,
its plot is in :mod:`labsvc.discovery.plots`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpx
import pandas as pd
from fastapi import Request

from labsvc.core.errors import ConfigurationError, LabsvcError, NetworkStateError, UnknownInstanceError
from labsvc.core.experiment import NetworkClock, instance_of, run_schedule, seconds
from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.core.service import create_service, instance_name
from labsvc.core.simtime import experiment, network_methods
from labsvc.discovery._backend import RegistryBackend
from labsvc.discovery._client import DiscoveryClient
from labsvc.discovery._http import HttpRegistryClient
from labsvc.discovery._lab_result import DiscoveryResult
from labsvc.discovery._registry import ServiceRegistry
from labsvc.discovery._response_cache import ResponseCache
from labsvc.discovery._server_list import RIBBON_REFRESH_INTERVAL, ServerList
from labsvc.discovery.balancing import RoundRobin
from labsvc.discovery.registry_server import registry_app

__all__ = ["REGISTRY_URL", "SERVICE", "ACTIONS", "NoInstanceAvailable", "DiscoveryLab", "DiscoveryResult",
           "stale_sweep"]

REGISTRY_URL = "http://registry.svc"
SERVICE = "catalog"


class NoInstanceAvailable(LabsvcError, LookupError):
    """The caller's balancer lists no instance of the service (none registered, or its caches are empty)."""


# -- the catalog service and its Eureka client ------------------------------------------

def _catalog_app(lab: DiscoveryLab):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        me = instance_of(lab.net, SERVICE, app)
        registry = HttpRegistryClient(lab.net.client(SERVICE, caller_instance=me, timeout=0.5), REGISTRY_URL)
        app.state.graceful = True
        task = asyncio.get_running_loop().create_task(_eureka_client(lab, registry, me))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if app.state.graceful:  # a clean shutdown deregisters; a crash leaves the lease to expire
                with contextlib.suppress(httpx.HTTPError, LabsvcError):
                    await registry.cancel(SERVICE, me)

    app = create_service(SERVICE, description="the product catalog", lifespan=lifespan)

    @app.get("/items")
    async def items(request: Request):
        return {"instance": instance_name(request), "items": ["kettle", "teapot", "mug"]}

    return app


async def _eureka_client(lab: DiscoveryLab, registry: RegistryBackend, me: str) -> None:
    """What a Eureka client does inside every instance: register, then heartbeat every interval.

    Heartbeats start from a random (seeded) phase, as instances started at
    different moments do, so the registry's count of renewals per minute is
    not at the mercy of every instance beating at once; then each comes one
    interval after the previous one (fixed delay, like Eureka's client).
    """
    interval = lab.registry.renewal_interval
    phase = random.Random(f"{lab.seed}/{me}/phase").uniform(0, interval)
    registered = False
    first = True
    while True:
        try:
            if registered:
                await registry.heartbeat(SERVICE, me)
            else:
                await registry.register(SERVICE, me, f"http://{me}.svc")
                registered = True
        except UnknownInstanceError:
            registered = False  # evicted while we were cut off: register again at once
            continue
        except (httpx.HTTPError, LabsvcError):
            if not registered:
                await asyncio.sleep(0.01)  # the registry is still starting: try again soon
                continue
        # Fixed delay, as Eureka's heartbeat task reschedules itself after each run:
        # a late beat moves the later ones, it never bunches two into one minute.
        await lab.clock.sleep(phase if first else interval)
        first = False


# -- the lab -----------------------------------------------------------------------------

Action = Callable[[], Awaitable[Any]]
#: What :meth:`DiscoveryLab.run` can make happen.
ACTIONS = ("crash", "leave", "join", "partition", "heal")
_NO_REQUESTS = pd.DataFrame(columns=["i", "due", "sent", "latency", "status", "error", "ok", "schedule_lag",
                                     "instance", "time"]).astype({"ok": bool, "time": float})


def _phase(seed: int, what: str, interval: float) -> float:
    """A seeded moment within one interval: when a timer that started at some unknown moment fires first."""
    return random.Random(f"{seed}/{what}/phase").uniform(0, interval)


@network_methods
class DiscoveryLab:
    """A registry, ``instances`` catalog instances that register themselves, and a discovering caller.

    Every timer is Eureka's default, at its true length (seconds of the
    network's clock, simulated by default, so minutes pass in moments):
    heartbeats every ``renewal_interval`` (30 s), leases of
    ``lease_duration`` (90 s; with ``eureka_renew_bug``, as in Eureka, a
    renewed lease lasts twice that), eviction every ``eviction_interval``
    (60 s), the server's read-only response cache copied every
    ``response_cache_interval`` (30 s; None: reads go straight to the
    registry), the caller's discovery client fetching every
    ``refresh_interval`` (30 s) and its balancer's list refreshed every
    ``lb_refresh_interval`` (Ribbon's 30 s; Spring Cloud LoadBalancer's
    cache keeps it 35 s). Each timer starts at a seeded moment, as
    processes started at different times do. Only :meth:`run` sends traffic.
    """

    def __init__(
        self,
        *,
        instances: int = 4,
        seed: int = 0,
        name: str = "discovery-lab",
        self_preservation: bool = True,
        lease_duration: float = 90.0,
        renewal_interval: float = 30.0,
        eviction_interval: float = 60.0,
        eureka_renew_bug: bool = True,
        response_cache_interval: float | None = 30.0,
        refresh_interval: float = 30.0,
        lb_refresh_interval: float = RIBBON_REFRESH_INTERVAL,
    ) -> None:
        self.seed = seed
        self.net = Network(seed=seed, name=name)
        self.clock = NetworkClock(self.net)
        self.registry = ServiceRegistry(
            self.clock, lease_duration=lease_duration, renewal_interval=renewal_interval,
            eviction_interval=eviction_interval, self_preservation=self_preservation,
            eureka_renew_bug=eureka_renew_bug, rng=random.Random(seed))
        self.response_cache = None if response_cache_interval is None else ResponseCache(
            self.registry, update_interval=response_cache_interval,
            first_update=_phase(seed, "response-cache", seconds(response_cache_interval, "response_cache_interval")))
        self.net.add("registry", registry_app(self.registry, response_cache=self.response_cache, timers=True))
        self.net.add(SERVICE, lambda: _catalog_app(self), instances=instances)
        self.discovery = DiscoveryClient(HttpRegistryClient(self.net.client("web"), REGISTRY_URL),
                                         clock=self.clock, refresh_interval=refresh_interval)
        self.servers = ServerList(self.discovery, SERVICE, refresh_interval=lb_refresh_interval)
        self.balancer = RoundRobin()
        self.rng = random.Random(f"{seed}/web")
        self.log: list[dict] = []
        self._chosen: dict[int, str] = {}
        self._timers: list[asyncio.Task] = []
        self._stopped = False

    def settings(self) -> dict[str, Any]:
        """The lab's timers (seconds) and switches, as a result records them."""
        return {
            "lease_duration": self.registry.lease_duration, "renewal_interval": self.registry.renewal_interval,
            "eviction_interval": self.registry.eviction_interval, "eureka_renew_bug": self.registry.eureka_renew_bug,
            "response_cache_interval": None if self.response_cache is None else self.response_cache.update_interval,
            "refresh_interval": self.discovery.refresh_interval, "lb_refresh_interval": self.servers.refresh_interval,
            "self_preservation": self.registry.self_preservation_enabled,
        }

    # -- life cycle ------------------------------------------------------
    async def start(self, *, ready_within: float = 2.0) -> DiscoveryLab:
        """Start every instance, and return once all have registered (at most ``ready_within`` s) and the
        caller has fetched the registry and filled its balancer's list.

        A lab runs once: its registry's clock follows the network's, which
        starts again from zero on a restart. Build a new lab instead.
        """
        if self.net.started:
            return self
        if self._stopped:
            raise NetworkStateError(
                "this DiscoveryLab has run and stopped; build a new one (DiscoveryLab(...)) to run again, "
                "or pass keep_running=True to run() to send more load to a running lab"
            )
        await self.net.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_within
        expected = len(self.net.service(SERVICE).instances)
        while len(self.registry.lookup(SERVICE)) < expected and loop.time() < deadline:
            await asyncio.sleep(0.005)
        await self._fetch()          # a Eureka client fetches the whole registry when it starts,
        self._refresh_list()         # and the balancer loads its list when it is created
        self._timers = [loop.create_task(self._every(self.discovery.refresh_interval, "fetch", self._fetch)),
                        loop.create_task(self._every(self.servers.refresh_interval, "list", self._refresh_list))]
        return self

    async def stop(self) -> None:
        """Stop the caller's timers, the registry and every instance (idempotent)."""
        for task in self._timers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._timers = []
        if self.net.started:
            self._stopped = True
        await self.net.stop()

    async def __aenter__(self) -> DiscoveryLab:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -- the caller's two caches ------------------------------------------------
    async def _every(self, interval: float, what: str, work: Callable[[], Any]) -> None:
        """A timer: first at a seeded moment within ``interval``, then ``interval`` after each run (fixed delay)."""
        await asyncio.sleep(_phase(self.seed, what, interval))
        while True:
            result = work()
            if asyncio.iscoroutine(result):
                await result
            await asyncio.sleep(interval)

    async def _fetch(self) -> None:
        """The Eureka client's registry fetch; a failed fetch keeps the old cache, as Eureka's does."""
        with contextlib.suppress(httpx.HTTPError, LabsvcError):
            await self.discovery.arefresh()
            names = ",".join(i.instance for i in self.discovery.cached(SERVICE))
            self.log.append({"time": self.net.now(), "source": "web", "event": "fetched", "instance": "",
                             "detail": names})

    def _refresh_list(self) -> None:
        """Ribbon's server-list refresh: copy the discovery client's cache into the balancer's list."""
        self.servers.refresh()
        self.log.append({"time": self.net.now(), "source": "web", "event": "list refreshed", "instance": "",
                         "detail": ",".join(self.servers.names())})

    # -- things that happen to instances -----------------------------------
    async def crash(self, instance: str) -> None:
        """``instance`` dies: it refuses connections and sends no more heartbeats (no deregistration)."""
        # An in-process stop runs the lifespan's shutdown; a killed process
        # would not, so tell the instance to skip its deregistration.
        self.net.instance(instance).app.state.graceful = False
        began = self.net.now()
        await self.net.crash(instance)
        self._note("crash", instance, at=began)

    async def leave(self, instance: str) -> None:
        """``instance`` shuts down cleanly: it cancels its registration, then stops."""
        began = self.net.now()
        await self.net.stop_instance(instance)
        self._note("leave", instance, at=began)

    async def join(self) -> str:
        """A new catalog instance starts (and registers itself); returns its name."""
        began = self.net.now()  # the join starts here: the instance registers while it starts up
        inst = await self.net.add_instance(SERVICE)
        self._note("join", inst.name, at=began)
        return inst.name

    def partition(self) -> None:
        """Cut the network between the catalog instances and the registry (both stay alive)."""
        self.net.partition(SERVICE, "registry")
        self._note("partition", SERVICE)

    def heal(self) -> None:
        """Repair the partition."""
        self.net.heal()
        self._note("heal", SERVICE)

    def _note(self, event: str, instance: str, at: float | None = None) -> None:
        time = self.net.now() if at is None else at
        self.log.append({"time": time, "source": "lab", "event": event, "instance": instance, "detail": ""})

    # -- the caller ----------------------------------------------------------
    async def call(self, client: Any, i: int = 0) -> httpx.Response:
        """One request from ``web``: pick a catalog instance from the balancer's list (round robin) and call it."""
        found = self.servers.servers
        if not found:
            self._chosen[i] = ""
            raise NoInstanceAvailable(f"the balancer's list holds no instance of {SERVICE!r}")
        chosen = self.balancer.choose([x.instance for x in found], self.rng)
        self._chosen[i] = chosen
        url = next(x.url for x in found if x.instance == chosen)
        return await client.get(f"{url}/items")

    def _sample_row(self) -> dict:
        served = self.response_cache.serving(SERVICE) if self.response_cache is not None else None
        registered = len(self.registry.lookup(SERVICE))
        return {"time": self.net.now(), "registered": registered,
                "served": registered if served is None else len(served),
                "cached": len(self.discovery.cached(SERVICE)), "listed": len(self.servers.servers),
                "running": sum(i.running for i in self.net.service(SERVICE).instances),
                "self_preservation": self.registry.self_preservation}

    async def _sample(self, rows: list[dict], every: float) -> None:
        while True:
            rows.append(self._sample_row())
            await asyncio.sleep(every)

    async def run(
        self,
        steps: Iterable[tuple] = (),
        *,
        rate: float | None = 4,
        duration: float | str = "8min",
        sample_every: float | str = "1s",
        keep_running: bool = False,
    ) -> DiscoveryResult:
        """Send ``rate`` requests per second from ``web`` for ``duration`` while ``steps`` happen.

        Each step is ``(at_seconds, action, *arguments)`` where ``action`` is
        ``"crash"``, ``"leave"``, ``"join"``, ``"partition"`` or ``"heal"``,
        e.g. ``(150, "crash", "catalog-4")``. ``rate=None`` sends no requests
        (the timers still run: a stale window still shows in the events).
        Starts the lab if it is not running, and stops it afterwards unless
        ``keep_running``.
        """
        if not self.net.started:
            await self.start()
        length = seconds(duration, "duration")
        schedule = [(float(at), action, self._action(action, *args)) for at, action, *args in steps]
        self._chosen.clear()
        samples: list[dict] = []
        sampler = asyncio.get_running_loop().create_task(self._sample(samples, seconds(sample_every, "sample_every")))
        started = self.net.now()
        try:
            load = (open_loop(self.net, self.call, rate=rate, duration=length, caller="web", timeout=1.0,
                              progress=False, label=lambda i: self._chosen.get(i, ""))
                    if rate else asyncio.sleep(length))
            run, _ = await asyncio.gather(load, run_schedule(self.net, schedule, []))
        finally:
            sampler.cancel()
            samples.append(self._sample_row())
            if not keep_running:
                await self.stop()
        if run is None:
            requests = _NO_REQUESTS.copy()
        else:
            requests = run.df.rename(columns={"label": "instance"})
            # When each request was sent (it picked its instance then), on the network's time axis.
            requests["time"] = requests["sent"] + started
        return DiscoveryResult(requests, self.events(), pd.DataFrame(samples), run, self.settings())

    def _action(self, action: str, *args: Any) -> Action:
        if action not in ACTIONS:
            raise ConfigurationError(f"action={action!r} is not known; use one of {ACTIONS}")
        method = getattr(self, action)

        async def step() -> None:
            result = method(*args)
            if asyncio.iscoroutine(result):
                await result

        return step

    def events(self, since: float = 0.0) -> pd.DataFrame:
        """What the lab did, what the registry and its response cache did, when the caller fetched and
        refreshed its balancer's list; ``time`` is network seconds."""
        columns = ["time", "source", "event", "instance", "detail"]
        parts = [self.registry.events.assign(source="registry")[columns]]
        if self.response_cache is not None:
            parts.append(self.response_cache.events.assign(source="registry")[columns])
        parts.append(pd.DataFrame(self.log, columns=columns))
        out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else \
            pd.DataFrame(columns=columns)
        out = out.sort_values("time", kind="stable")
        return out[out["time"] >= since].reset_index(drop=True)

    def __repr__(self) -> str:
        return f"<DiscoveryLab {self.registry!r} on {self.net!r}>"


@experiment
async def stale_sweep(seeds: Sequence[int] = tuple(range(12)), *, kind: str = "crash", at: float = 150.0,
                      duration: float | str = "8min", **options: Any) -> pd.DataFrame:
    """The stale window of ``catalog-4`` after a ``kind`` (``"crash"`` or ``"leave"``) at ``at`` s, once per seed.

    Each seed starts every timer at another moment (heartbeats, response
    cache, client fetch, balancer list), so the windows spread between the
    best and the worst case. No requests are sent: the window ends when the
    caller's balancer drops the instance (:meth:`DiscoveryResult.stale_window`).
    One row per seed, one column per stage (seconds waited) and ``window_s``.
    """
    if kind not in ("crash", "leave"):
        raise ConfigurationError(f"kind={kind!r}: use 'crash' or 'leave'")
    labs = [DiscoveryLab(seed=seed, name=f"sweep-{kind}-{seed}", **{"self_preservation": False, **options})
            for seed in seeds]
    try:
        results = await asyncio.gather(*(lab.run([(at, kind, f"{SERVICE}-4")], rate=None, duration=duration)
                                         for lab in labs))
    finally:
        for lab in labs:
            await lab.stop()
    rows = []
    for seed, result in zip(seeds, results):
        window = result.stale_window(f"{SERVICE}-4").set_index("stage")["waited_s"]
        row = {"seed": seed, **{k: window[k] for k in window.index if k not in ("crash", "leave (cancel)",
                                                                                 "handed out until", "last request")}}
        row["window_s"] = window["handed out until"]
        rows.append(row)
    return pd.DataFrame(rows)
