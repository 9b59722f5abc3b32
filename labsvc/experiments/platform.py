"""Deploying on a platform, measured (notebook 13).

Harnesses around :mod:`labsvc.platform`, each on a network of its own,
each returning DataFrames; ``plot_*`` functions return matplotlib Figures:

- :func:`heal_experiment`: an app is pushed, all its instances crash, and
  the platform brings them back by itself after its CrashLoopBackOff delay
  (a :class:`~labsvc.clock.FakeClock` stepped one second at a time);
- :func:`autoscale_experiment`: open-loop load ramps up and down while the
  HPA scales the app on the requests per second per instance it reads from
  the call log. The controllers run on a :class:`~labsvc.platform.ScaledClock`
  (``speed`` times real time), so the 15 s sync period and the 300 s
  scale-down window keep their values and the run takes seconds;
- :func:`rollout_experiment` / :func:`compare_rollouts`: the same app moves
  from v1 to v2 (or to a broken v3) under open-loop load with recreate,
  rolling, blue-green and canary; errors are counted per time bucket.

The apps (:func:`web_v1`, :func:`web_v2`, :func:`web_broken`) are factories
in this module, so process mode could start them too.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pandas as pd
from matplotlib.figure import Figure

from ..clock import FakeClock
from ..load import open_loop
from ..network import Network
from ..platform import (
    BlueGreen, Canary, CanaryStep, CallRateMetric, ChunkStep, Job, JobRepository, Platform, Recreate, RollingUpdate,
    ScaledClock, SqliteUpsertWriter,
)
from ..problems import Problem
from ..service import Request, create_service, instance_name

__all__ = [
    "web_v1", "web_v2", "web_broken", "heal_experiment", "HealResult", "plot_healing", "autoscale_experiment",
    "AutoscaleResult", "plot_autoscaling", "rollout_experiment", "RolloutRun", "compare_rollouts", "rollout_summary",
    "plot_rollouts", "STRATEGIES", "run_invoices",
]


def _web(version: str, broken: bool = False):
    app = create_service("web", version=version)

    @app.get("/hello")
    async def hello(request: Request):
        if broken:
            raise Problem(500, "Broken release", detail=f"{version} fails every request")
        return {"version": version, "instance": instance_name(request)}

    return app


def web_v1():
    """The app's first version: ``GET /hello`` answers with its version and instance."""
    return _web("v1")


def web_v2():
    """The next version, which works."""
    return _web("v2")


def web_broken():
    """A bad release: every ``GET /hello`` answers 500."""
    return _web("v3", broken=True)


APPS = {"v1": "labsvc.experiments.platform:web_v1", "v2": "labsvc.experiments.platform:web_v2",
        "v3": "labsvc.experiments.platform:web_broken"}


# ---------------------------------------------------------------------------- self-healing
@dataclass
class HealResult:
    """A crash and its repair: the platform's timeline and events."""

    timeline: pd.DataFrame
    events: pd.DataFrame
    crash_at: float
    crash_again: float
    status: pd.DataFrame


async def heal_experiment(*, instances: int = 3, seconds: float = 60, crash_at: float = 5, crash_again: float = 25,
                          seed: int = 13, name: str = "nb13-heal") -> HealResult:
    """Push ``web`` with ``instances`` instances, crash them all at ``crash_at``, one again at ``crash_again``."""
    clock = FakeClock()
    net = Network(seed=seed, name=name)
    platform = Platform(net, clock=clock)
    async with net:
        await platform.push({"name": "web", "app": APPS["v1"], "instances": instances})
        while clock.now() < seconds:
            if clock.now() == crash_at:
                await net.crash("web")
            if clock.now() == crash_again:
                await net.crash("web-1")
            await platform.tick()
            clock.advance(1)
        status = platform.status()
    return HealResult(platform.timeline, platform.events, crash_at, crash_again, status)


def plot_healing(result: HealResult) -> Figure:
    """Ready instances against time, with the crashes and restarts marked."""
    fig = Figure(figsize=(8, 2.8), layout="constrained")
    ax = fig.subplots()
    t = result.timeline
    ax.step(t["time"], t["desired"], where="post", linestyle="--", color="#888888", label="desired")
    ax.step(t["time"], t["ready"], where="post", color="#2a9d8f", label="ready")
    ev = result.events
    for _, row in ev[ev.reason == "Restarted"].iterrows():
        ax.axvline(row["time"], color="#e9c46a", linewidth=0.8)
    ax.set_xlabel("platform time (s)")
    ax.set_ylabel("instances")
    ax.set_title(f"every instance crashes at {result.crash_at:g} s, web-1 again at {result.crash_again:g} s; "
                 f"restarts (yellow) follow the back-off")
    ax.legend(loc="lower right", fontsize=8)
    return fig


# ---------------------------------------------------------------------------- autoscaling
@dataclass
class AutoscaleResult:
    """A load ramp and the HPA's answer to it."""

    load: pd.DataFrame       # one row per request (open loop)
    timeline: pd.DataFrame   # desired / ready instances per controller pass
    hpa: pd.DataFrame        # one row per HPA sync
    offered: pd.DataFrame    # the ramp: phase start (real s), rate
    speed: float
    target: float


async def autoscale_experiment(*, ramp: tuple[tuple[float, float], ...] = ((0.8, 20), (1.7, 120), (3.5, 20)),
                               target: float = 20, speed: float = 120, max_instances: int = 8,
                               seed: int = 13, name: str = "nb13-hpa") -> AutoscaleResult:
    """Offer ``ramp`` (``(seconds, requests per second)`` phases, real time) to ``web`` with an HPA on it.

    The HPA keeps requests per second per instance near ``target``; its
    clock runs ``speed`` times faster than real time (15 s sync = 0.125 s real
    at speed 120, the 300 s scale-down window = 2.5 s real).
    """
    clock = ScaledClock(scale=speed)
    net = Network(seed=seed, name=name)
    platform = Platform(net, clock=clock)
    async with net:
        await platform.push({"name": "web", "app": APPS["v1"], "instances": 1})
        platform.autoscale("web", min_instances=1, max_instances=max_instances, target=target,
                           metric=CallRateMetric(window=0.5))
        total = sum(s for s, _ in ramp)
        controllers = asyncio.create_task(platform.run_for(total * speed, every=2.5))
        frames, offered, start = [], [], 0.0
        for seconds, rate in ramp:
            offered.append({"start": start, "seconds": seconds, "rate": rate})
            run = await open_loop(net, "GET http://web.svc/hello", rate=rate, duration=seconds, progress=False)
            frames.append(run.df.assign(due=run.df["due"] + start))
            start += seconds
        await controllers
        hpa = platform.app("web").hpa.history
    load = pd.concat(frames, ignore_index=True)
    timeline = platform.timeline.assign(real=lambda d: d["time"] / speed)
    return AutoscaleResult(load, timeline, hpa.assign(real=hpa["time"] / speed), pd.DataFrame(offered), speed, target)


def plot_autoscaling(result: AutoscaleResult) -> Figure:
    """Offered load (requests per second) and ready instances on one time axis."""
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    per_s = result.load.assign(sec=result.load["due"].astype(int)).groupby("sec").size()
    ax.bar(per_s.index + 0.5, per_s.values, width=0.9, color="#a8dadc", label="requests per second (offered)")
    ax.set_xlabel(f"real time (s); the controllers' clock runs {result.speed:g}x faster")
    ax.set_ylabel("requests per second")
    ax2 = ax.twinx()
    t = result.timeline
    ax2.step(t["real"], t["ready"], where="post", color="#e76f51", label="ready instances")
    ax2.step(t["real"], t["desired"], where="post", color="#264653", linestyle="--", label="desired")
    ax2.set_ylabel("instances")
    ax2.set_ylim(0, max(t["desired"].max(), 1) + 1)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8)
    ax.set_title(f"HPA: target {result.target:g} requests/s per instance; scale-down waits 300 platform seconds")
    return fig


# ---------------------------------------------------------------------------- rollouts
STRATEGIES = {
    "recreate": lambda: Recreate(step=3.0),   # 60 ms with no instance at speed 50
    "rolling": lambda: RollingUpdate(),
    "blue-green": lambda: BlueGreen(),
    "canary (bad v3)": lambda: Canary(steps=(CanaryStep(0.1, pause=5), CanaryStep(0.5, pause=5)), min_requests=20),
}


@dataclass
class RolloutRun:
    """One rollout under load: the load's rows, the rollout's steps and result."""

    strategy: str
    load: pd.DataFrame
    steps: pd.DataFrame
    completed: bool
    rolled_back: bool
    window: tuple[float, float]


async def _retry_once(client, i):
    try:
        return await client.get("http://web.svc/hello")
    except httpx.ConnectError:
        return await client.get("http://web.svc/hello")


async def rollout_experiment(strategy: str, *, retry: bool = True, rate: float = 300, requests: int = 360,
                             replicas: int = 4, seed: int = 13, name: str | None = None) -> RolloutRun:
    """Roll ``web`` from v1 to v2 (to the broken v3 for the canary) with ``strategy`` under open-loop load.

    With ``retry``, the client retries once on a refused connection.
    """
    if strategy not in STRATEGIES:
        raise KeyError(f"strategy {strategy!r} is not known; use one of {list(STRATEGIES)}")
    net = Network(seed=seed, name=name or f"nb13-{strategy.split()[0]}")
    platform = Platform(net, clock=ScaledClock(scale=50))
    version = "v3" if strategy.startswith("canary") else "v2"
    async with net:
        await platform.push({"name": "web", "app": APPS["v1"], "instances": replicas,
                             "probes": {"readiness": {"path": "/ready"}}})
        target = _retry_once if retry else "GET http://web.svc/hello"
        load_start = net.now()
        load = asyncio.create_task(open_loop(net, target, rate=rate, requests=requests, progress=False))
        await asyncio.sleep(0.3)                       # the rollout starts 0.3 s into the load
        t0 = net.now()
        result = await STRATEGIES[strategy]().run(platform, "web", APPS[version], version)
        t1 = net.now()
        run = await load
    return RolloutRun(strategy, run.df, result.steps, result.completed, result.rolled_back,
                      (t0 - load_start, t1 - load_start))


async def compare_rollouts(*, seed: int = 13) -> dict[str, RolloutRun]:
    """Every strategy in :data:`STRATEGIES`, one after the other (each on its own network)."""
    runs = {}
    for s in STRATEGIES:
        runs[s] = await rollout_experiment(s, seed=seed, retry=(s != "recreate"))
    return runs


def rollout_summary(runs: dict[str, RolloutRun]) -> pd.DataFrame:
    """Per strategy: requests, failed requests, whether it completed or rolled back."""
    rows = []
    for s, r in runs.items():
        rows.append({"strategy": s, "requests": len(r.load), "failed": int((~r.load["ok"]).sum()),
                     "completed": r.completed, "rolled_back": r.rolled_back})
    return pd.DataFrame(rows)


def plot_rollouts(runs: dict[str, RolloutRun], bucket: float = 0.1) -> Figure:
    """Failed requests per time bucket during each rollout, side by side."""
    fig = Figure(figsize=(9, 2.6), layout="constrained")
    axes = fig.subplots(1, len(runs), sharey=True, squeeze=False)[0]
    for ax, (s, r) in zip(axes, runs.items()):
        df = r.load.assign(bucket=(r.load["due"] // bucket) * bucket)
        total = df.groupby("bucket").size()
        bad = df[~df["ok"]].groupby("bucket").size().reindex(total.index, fill_value=0)
        ax.bar(total.index, total.values, width=bucket * 0.9, color="#a8dadc", label="requests")
        ax.bar(bad.index, bad.values, width=bucket * 0.9, color="#e76f51", label="failed")
        ax.axvspan(*r.window, color="#999999", alpha=0.15, label="rollout")
        ax.set_title(f"{s}: {int(bad.sum())} failed", fontsize=9)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel(f"requests per {bucket:g} s")
    axes[0].set_ylim(0, axes[0].get_ylim()[1] * 1.5)          # room for the legend above the bars
    axes[0].legend(fontsize=7, loc="upper left", ncols=3)
    return fig


# ---------------------------------------------------------------------------- a batch job a container can run
def _invoice(item: int) -> tuple[str, dict]:
    return f"order-{item:03d}", {"amount": item * 10}


def run_invoices() -> str:
    """Invoice 100 orders in chunks of 10 (the notebook's job), as a Kubernetes Job or CronJob runs it.

    The job repository and the output live in ``$LABSVC_BATCH_DIR`` (default:
    the current folder); ``$LABSVC_BATCH_DAY`` (default: today) identifies the
    job instance, so a rerun of the same day resumes or does nothing.
    Returns the execution's status.
    """
    folder = Path(os.environ.get("LABSVC_BATCH_DIR", "."))
    folder.mkdir(parents=True, exist_ok=True)
    writer = SqliteUpsertWriter(folder / "invoices.db")
    job = Job("invoices", [ChunkStep("invoice", lambda: range(100), _invoice, writer, commit_interval=10)],
              JobRepository(folder / "repository.db"))
    return job.run(day=os.environ.get("LABSVC_BATCH_DAY", date.today().isoformat())).status
