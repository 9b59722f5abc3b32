"""Service discovery and client-side load balancing, run on the network (notebook 08).

**Discovery.** :class:`DiscoveryLab` runs a registry service
(:func:`~labsvc.discovery.registry_app`, Eureka semantics) and a ``catalog``
service whose instances register themselves over HTTP when they start and
send a heartbeat every 30 s. The caller, ``web``, finds catalog instances
through a :class:`~labsvc.discovery.DiscoveryClient` (a cache refreshed every
30 s) and picks one round robin. Instances can join, leave cleanly (they
cancel their registration) or crash (they just stop sending heartbeats), and
the network between catalog and the registry can be cut.

Eureka's timers are tens of seconds, so the registry runs on a
:class:`~labsvc.experiments._common.ScaledClock`: with ``scale=200`` a 30 s
heartbeat interval passes in 0.15 real seconds. Registry times in the
results are converted back to network seconds, so one time axis serves the
call log, the requests and the registry's events.

**Balancing.** :func:`compare_balancers` runs the same open-loop load against
a service whose last instance is slow, once per balancer
(:mod:`labsvc.balancing`), and reports each instance's share of requests
and latency.

>>> lab = DiscoveryLab(instances=3, self_preservation=False, name="doc-lab")   # doctest: +SKIP
>>> result = await lab.run([(0.4, "crash", "catalog-4")])                     # doctest: +SKIP
>>> result.summary()                                                          # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd
from fastapi import Request
from matplotlib.figure import Figure

from ..balancing import RoundRobin, make_balancer
from ..discovery import DiscoveryClient, HttpRegistryClient, ServiceRegistry, registry_app
from ..errors import ConfigurationError, LabsvcError, NetworkStateError, UnknownInstanceError
from ..faults import Exponential, Latency
from ..load import LoadRun, open_loop
from ..network import Network
from ..service import create_service, instance_name
from ._common import NetworkClock, ScaledClock, instance_of, run_schedule, seconds

__all__ = [
    "REGISTRY_URL",
    "ACTIONS",
    "NoInstanceAvailable",
    "DiscoveryLab",
    "DiscoveryResult",
    "plot_discovery",
    "BALANCERS",
    "BalancerComparison",
    "balancer_experiment",
    "compare_balancers",
    "plot_balancers",
]

REGISTRY_URL = "http://registry.svc"
SERVICE = "catalog"


class NoInstanceAvailable(LabsvcError, LookupError):
    """The discovery client knows no instance of the service (none registered, or its cache is empty)."""


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


async def _eureka_client(lab: DiscoveryLab, registry: HttpRegistryClient, me: str) -> None:
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


class DiscoveryLab:
    """A registry, ``instances`` catalog instances that register themselves, and a discovering caller.

    Registry settings are Eureka's by default (seconds on the registry's
    clock, which runs ``scale`` times faster than the network's).
    ``refresh_interval`` is how often the caller's discovery cache fetches
    the registry. Only :meth:`run` sends traffic.
    """

    def __init__(
        self,
        *,
        instances: int = 4,
        seed: int = 0,
        name: str = "discovery-lab",
        scale: float = 200.0,
        self_preservation: bool = True,
        lease_duration: float = 90.0,
        renewal_interval: float = 30.0,
        eviction_interval: float = 60.0,
        refresh_interval: float = 30.0,
    ) -> None:
        self.seed = seed
        self.net = Network(seed=seed, name=name)
        self.clock = ScaledClock(NetworkClock(self.net), scale=scale)
        self.registry = ServiceRegistry(
            self.clock, lease_duration=lease_duration, renewal_interval=renewal_interval,
            eviction_interval=eviction_interval, self_preservation=self_preservation, rng=random.Random(seed))
        self.net.add("registry", registry_app(self.registry))
        self.net.add(SERVICE, lambda: _catalog_app(self), instances=instances)
        self.discovery = DiscoveryClient(HttpRegistryClient(self.net.client("web"), REGISTRY_URL),
                                         clock=self.clock, refresh_interval=refresh_interval)
        self.balancer = RoundRobin()
        self.rng = random.Random(f"{seed}/web")
        self.log: list[dict] = []
        self._chosen: dict[int, str] = {}
        self._stopped = False

    # -- life cycle ------------------------------------------------------
    async def start(self, *, ready_within: float = 2.0) -> DiscoveryLab:
        """Start every instance, and return once all have registered (at most ``ready_within`` s).

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
        return self

    async def stop(self) -> None:
        """Stop the registry and every instance (idempotent)."""
        if self.net.started:
            self._stopped = True
        await self.net.stop()

    async def __aenter__(self) -> DiscoveryLab:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

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
        """One request from ``web``: look catalog up in the (cached) registry, pick round robin, call it."""
        refreshing = self.discovery.due
        found = await self.discovery.alookup(SERVICE)
        if refreshing:
            self.log.append({"time": self.net.now(), "source": "web", "event": "cache refreshed",
                             "instance": "", "detail": ",".join(x.instance for x in found)})
        if not found:
            self._chosen[i] = ""
            raise NoInstanceAvailable(f"the discovery cache holds no instance of {SERVICE!r}")
        chosen = self.balancer.choose([x.instance for x in found], self.rng)
        self._chosen[i] = chosen
        url = next(x.url for x in found if x.instance == chosen)
        return await client.get(f"{url}/items")

    async def _sample(self, rows: list[dict], every: float) -> None:
        while True:
            rows.append({"time": self.net.now(), "registered": len(self.registry.lookup(SERVICE)),
                         "cached": len(self.discovery.cached(SERVICE)),
                         "running": sum(i.running for i in self.net.service(SERVICE).instances),
                         "self_preservation": self.registry.self_preservation})
            await asyncio.sleep(every)

    async def run(
        self,
        steps: Iterable[tuple] = (),
        *,
        rate: float = 100,
        duration: float | str = "2s",
        sample_every: float | str = "20ms",
        keep_running: bool = False,
    ) -> DiscoveryResult:
        """Send ``rate`` requests per second from ``web`` while ``steps`` happen.

        Each step is ``(at_seconds, action, *arguments)`` where ``action`` is
        ``"crash"``, ``"leave"``, ``"join"``, ``"partition"`` or ``"heal"``,
        e.g. ``(0.4, "crash", "catalog-4")``. Starts the lab if it is not
        running, and stops it afterwards unless ``keep_running``.
        """
        if not self.net.started:
            await self.start()
        schedule = [(float(at), action, self._action(action, *args)) for at, action, *args in steps]
        self._chosen.clear()
        samples: list[dict] = []
        sampler = asyncio.get_running_loop().create_task(self._sample(samples, seconds(sample_every, "sample_every")))
        started = self.net.now()
        try:
            run, _ = await asyncio.gather(
                open_loop(self.net, self.call, rate=rate, duration=duration, caller="web", timeout=1.0, progress=False,
                          label=lambda i: self._chosen.get(i, "")),
                run_schedule(self.net, schedule, []),
            )
        finally:
            sampler.cancel()
            if not keep_running:
                await self.stop()
        requests = run.df.rename(columns={"label": "instance"})
        # When each request was sent (it looked the service up then), on the network's time axis.
        requests["time"] = requests["sent"] + started
        return DiscoveryResult(requests, self.events(since=started), pd.DataFrame(samples), run, self.clock.scale)

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
        """What the lab did, what the registry did (renewals left out), when the cache refreshed.

        ``time`` is network seconds; ``registry_time`` is the registry's own clock.
        """
        reg = self.registry.events
        reg = reg[reg["event"] != "renewed"].assign(source="registry")
        reg = reg.assign(registry_time=reg["time"], time=reg["time"] / self.clock.scale)
        ours = pd.DataFrame(self.log, columns=["time", "source", "event", "instance", "detail"])
        ours = ours.assign(registry_time=ours["time"] * self.clock.scale)
        out = pd.concat([reg[ours.columns], ours], ignore_index=True).sort_values("time", kind="stable")
        return out[out["time"] >= since].reset_index(drop=True)

    def __repr__(self) -> str:
        return f"<DiscoveryLab {self.registry!r} on {self.net!r}>"


@dataclass
class DiscoveryResult:
    """One :meth:`DiscoveryLab.run`: every request (with the ``instance`` chosen), the events, samples.

    ``samples`` has, every few milliseconds, how many catalog instances were
    registered, cached by the caller, and actually running, and whether
    self-preservation was on.
    """

    requests: pd.DataFrame
    events: pd.DataFrame
    samples: pd.DataFrame
    load: LoadRun
    scale: float

    def summary(self) -> pd.Series:
        """Requests, errors, availability, and the span from the first to the last error (s)."""
        r = self.requests
        bad = r[~r["ok"]]
        span = float(bad["time"].max() - bad["time"].min()) if len(bad) else 0.0
        return pd.Series({
            "requests": len(r), "errors": len(bad), "availability": float(r["ok"].mean()) if len(r) else math.nan,
            "first_error": float(bad["time"].min()) if len(bad) else math.nan,
            "last_error": float(bad["time"].max()) if len(bad) else math.nan,
            "error_span_s": span, "error_span_registry_s": span * self.scale,
        })

    def share(self) -> pd.DataFrame:
        """Successful requests per instance."""
        ok = self.requests[self.requests["ok"]]
        counts = ok.groupby("instance").size()
        return pd.DataFrame({"requests": counts, "share": counts / max(1, len(ok))}).reset_index()

    def first(self, event: str) -> float:
        """Network time of the first event called ``event`` (NaN if none)."""
        hits = self.events.loc[self.events["event"] == event, "time"]
        return float(hits.iloc[0]) if len(hits) else math.nan


_MARKED = {"crash": "#e76f51", "leave": "#f4a261", "join": "#2a9d8f", "partition": "#6d597a", "heal": "#2a9d8f",
           "evicted": "#264653", "cancelled": "#f4a261", "self_preservation_on": "#6d597a"}


def plot_discovery(result: DiscoveryResult, title: str = "client-side discovery", bucket: float = 0.1) -> Figure:
    """Top: successful requests per instance and failed requests, per time bucket.
    Bottom: catalog instances registered, cached by the caller, and running.
    Vertical lines mark what happened (crash, eviction, ...)."""
    fig = Figure(figsize=(8, 4.6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    r = result.requests.assign(bucket=(result.requests["time"] // bucket) * bucket)
    ok = r[r["ok"]].groupby(["bucket", "instance"]).size().unstack(fill_value=0)
    for name in ok.columns:
        top.plot(ok.index + bucket / 2, ok[name], marker=".", linewidth=1, label=name)
    bad = r[~r["ok"]].groupby("bucket").size()
    if len(bad):
        top.bar(bad.index + bucket / 2, bad.values, width=bucket * 0.9, color="#e76f51", alpha=0.5, label="failed")
    top.set_ylabel(f"requests / {bucket:g} s")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    s = result.samples
    if len(s):
        for column, style in (("registered", "-"), ("cached", "--"), ("running", ":")):
            bottom.step(s["time"], s[column], where="post", linestyle=style, label=column)
        on = s[s["self_preservation"]]
        if len(on):
            bottom.fill_between(s["time"], 0, s["registered"].max() + 0.5, where=s["self_preservation"], step="post",
                                color="#6d597a", alpha=0.12, label="self-preservation on")
    bottom.set_ylabel("instances")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    end = float(result.requests["time"].max()) if len(result.requests) else None
    if end is not None:
        bottom.set_xlim(right=end)
    for _, e in result.events.iterrows():
        color = _MARKED.get(e["event"])
        if color is not None:
            for ax in (top, bottom):
                ax.axvline(e["time"], color=color, linewidth=0.8, linestyle="--")
            who = e["instance"] if isinstance(e["instance"], str) else ""
            top.annotate(f"{e['event']} {who}".strip(), (e["time"], 1), xycoords=("data", "axes fraction"),
                         rotation=90, va="top", ha="right", fontsize=7, color=color)
    fig.suptitle(title)
    return fig


# -- balancing ------------------------------------------------------------------------

#: The balancers compared in notebook 08 (names for :func:`labsvc.balancing.make_balancer`).
BALANCERS = ("round_robin", "random", "least_outstanding", "p2c")


def _shop_app():
    app = create_service(SERVICE, description="the product catalog")

    @app.get("/items")
    async def items(request: Request):
        return {"instance": instance_name(request)}

    return app


@dataclass
class BalancerComparison:
    """Per balancer and instance: requests, share, latency. ``overall``: one row per balancer."""

    per_instance: pd.DataFrame
    overall: pd.DataFrame
    slow: str

    def slow_share(self) -> dict[str, float]:
        """The share of requests each balancer sent to the slow instance."""
        rows = self.per_instance[self.per_instance["instance"] == self.slow]
        return dict(zip(rows["balancer"], rows["share"]))


async def balancer_experiment(
    balancer: str,
    *,
    instances: int = 4,
    slow_latency: float | str | Latency = "40ms",
    latency: float | str | Latency = Exponential("2ms"),
    rate: float = 300,
    requests: int = 300,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """Open-loop load on ``catalog`` (``instances`` instances, the last one slow) balanced by ``balancer``.

    Every instance answers after ``latency`` (a seeded distribution); the
    last one after ``slow_latency`` instead. Returns (per-instance table,
    overall row).
    """
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 2:
        raise ConfigurationError(f"instances={instances!r}: comparing balancers needs at least 2 instances")
    net = Network(seed=seed, name=f"balancers-{balancer.replace('_', '-')}")
    net.add(SERVICE, _shop_app, instances=instances, balancer=make_balancer(balancer))
    slow = f"{SERVICE}-{instances}"
    net.fault(SERVICE, latency=latency)
    net.fault(slow, latency=slow_latency)
    async with net:
        run = await open_loop(net, f"GET http://{SERVICE}.svc/items", rate=rate, requests=requests, caller="web",
                              timeout=2.0, progress=False)
        calls = net.calls
    calls = calls[calls["callee"] == SERVICE]
    grouped = calls.groupby("instance")["duration"]
    per = pd.DataFrame({"requests": grouped.size(), "p50_ms": grouped.quantile(0.5) * 1000,
                        "p99_ms": grouped.quantile(0.99) * 1000})
    per = per.reindex([f"{SERVICE}-{k}" for k in range(1, instances + 1)], fill_value=0).rename_axis("instance")
    per["share"] = per["requests"] / per["requests"].sum()
    per = per.reset_index()
    per.insert(0, "balancer", balancer)
    summary = run.summary()
    overall = pd.Series({"balancer": balancer, "requests": int(summary["requests"]), "availability": summary["availability"],
                         "slow_share": float(per.loc[per["instance"] == slow, "share"].iloc[0]),
                         "mean_ms": float(run.df["latency"].mean()) * 1000, "p50_ms": summary["p50_ms"],
                         "p90_ms": summary["p90_ms"], "p99_ms": summary["p99_ms"]})
    return per[["balancer", "instance", "requests", "share", "p50_ms", "p99_ms"]], overall


async def compare_balancers(balancers: Sequence[str] = BALANCERS, **options: Any) -> BalancerComparison:
    """:func:`balancer_experiment` once per balancer, one after the other (same seed, same load)."""
    tables, rows = [], []
    for name in balancers:
        per, overall = await balancer_experiment(name, **options)
        tables.append(per)
        rows.append(overall)
    slow = f"{SERVICE}-{options.get('instances', 4)}"
    return BalancerComparison(pd.concat(tables, ignore_index=True), pd.DataFrame(rows).reset_index(drop=True), slow)


def plot_balancers(comparison: BalancerComparison, title: str = "one slow instance, four balancers") -> Figure:
    """Left: each instance's share of requests per balancer (the slow one hatched).
    Right: mean and 90th percentile latency of the user's requests per balancer."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    per = comparison.per_instance
    pivot = per.pivot(index="balancer", columns="instance", values="share").reindex(pd.unique(per["balancer"]))
    width = 0.8 / len(pivot.columns)
    palette = ["#457b9d", "#2a9d8f", "#e9c46a", "#f4a261", "#8ab17d", "#6d597a"]
    for k, inst in enumerate(pivot.columns):
        slow = inst == comparison.slow
        xs = [i + k * width for i in range(len(pivot.index))]
        left.bar(xs, pivot[inst].values * 100, width=width, label=inst + (" (slow)" if slow else ""),
                 color="#e76f51" if slow else palette[k % len(palette)], hatch="//" if slow else None)
    left.set_xticks([i + width * (len(pivot.columns) - 1) / 2 for i in range(len(pivot.index))],
                    [b.replace("_", " ") for b in pivot.index], fontsize=8)
    left.set_ylabel("share of requests (%)")
    left.legend(fontsize=7, ncol=2, frameon=False)
    o = comparison.overall
    xs = range(len(o))
    right.bar([x - 0.2 for x in xs], o["mean_ms"], width=0.4, label="mean", color="#264653")
    right.bar([x + 0.2 for x in xs], o["p90_ms"], width=0.4, label="p90", color="#e9c46a")
    right.set_xticks(list(xs), [b.replace("_", " ") for b in o["balancer"]], fontsize=8, rotation=20)
    right.set_ylabel("user latency (ms)")
    right.legend(fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig
