"""Deploying on a platform, measured (notebook 13).

Harnesses around :mod:`labsvc.platform`, each on a network of its own on
simulated time, so every Kubernetes and Cloud Foundry period keeps its real
length (a 300 s window, a 5 minute back-off) and costs no wall time. Each
returns DataFrames; the ``plot_*`` functions that draw them live in
:mod:`labsvc.platform.plots` and are importable from here too:

- :func:`heal_experiment`: an app is pushed, all its instances crash, and
  the platform brings them back by itself after its CrashLoopBackOff delay;
- :func:`crashloop_experiment`: one instance that crashes 5 s after every
  start, for 30 minutes, under Kubernetes' back-off and Cloud Foundry's;
- :func:`autoscale_experiment`: open-loop load ramps up and down for ten
  minutes while the HPA scales the app on the requests per second per
  instance it reads from the call log (15 s sync, 300 s scale-down window);
- :func:`rollout_experiment` / :func:`compare_rollouts`: the same app moves
  from v1 to v2 (or to a broken v3) under open-loop load with recreate,
  rolling, blue-green and canary; :func:`prestop_comparison`: a rolling
  update with and without a ``preStop`` sleep while the endpoints lag;
- Cloud Foundry's side, from :mod:`labsvc.platform._cf` and
  ``_cf_autoscaler``: :func:`restart_timeline` (Diego's crash restarts
  beside CrashLoopBackOff), :func:`health_check_experiment` (which
  health-check type sees which failure) and
  :func:`app_autoscaler_experiment` (the App Autoscaler's rules on the
  HPA's load ramp).

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

from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.platform import (
    BlueGreen, Canary, CanaryStep, CallRateMetric, ChunkStep, CloudFoundryBackOff, CrashLoopBackOff, Job,
    JobRepository, Platform, Recreate, RollingUpdate, SqliteUpsertWriter,
)
from labsvc.platform._cf import health_check_experiment, restart_timeline
from labsvc.platform._cf_autoscaler import app_autoscaler_experiment
from labsvc.platform.export import PRE_STOP_DRAIN
from labsvc.platform.plots import plot_autoscalers, plot_autoscaling, plot_crashloops, plot_healing, plot_rollouts
from labsvc.core.problems import Problem
from labsvc.core.service import Request, create_service, instance_name
from labsvc.core.simtime import experiment

__all__ = [
    "web_v1", "web_v2", "web_broken", "heal_experiment", "HealResult", "plot_healing", "crashloop_experiment",
    "CrashLoopResult", "plot_crashloops", "autoscale_experiment", "AutoscaleResult", "plot_autoscaling",
    "rollout_experiment", "RolloutRun", "compare_rollouts", "rollout_summary", "prestop_comparison", "plot_rollouts",
    "STRATEGIES", "ENDPOINT_DELAY", "PRE_STOP", "run_invoices", "restart_timeline", "health_check_experiment",
    "app_autoscaler_experiment", "plot_autoscalers",
]

#: Seconds the Services' endpoints take, in these experiments, to stop routing to a pod being deleted.
ENDPOINT_DELAY = 3.0
#: The preStop sleep the experiments give their pods: the one the Kubernetes export writes.
PRE_STOP = float(PRE_STOP_DRAIN)


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


APPS = {"v1": "labsvc.platform.lab:web_v1", "v2": "labsvc.platform.lab:web_v2",
        "v3": "labsvc.platform.lab:web_broken"}


# ---------------------------------------------------------------------------- self-healing
@dataclass
class HealResult:
    """A crash and its repair: the platform's timeline and events."""

    timeline: pd.DataFrame
    events: pd.DataFrame
    crash_at: float
    crash_again: float
    status: pd.DataFrame


@experiment
async def heal_experiment(*, instances: int = 3, seconds: float = 60, crash_at: float = 5, crash_again: float = 25,
                          seed: int = 13, name: str = "nb13-heal") -> HealResult:
    """Push ``web`` with ``instances`` instances, crash them all at ``crash_at``, one again at ``crash_again``.

    The controllers run once a second of the network's (simulated) time.
    """
    net = Network(seed=seed, name=name)
    platform = Platform(net, seed=seed)
    async with net:
        await platform.push({"name": "web", "app": APPS["v1"], "instances": instances})
        for t in range(int(seconds)):
            if t == crash_at:
                await net.crash("web")
            if t == crash_again:
                await net.crash("web-1")
            await platform.tick()
            await asyncio.sleep(1)
        status = platform.status()
    return HealResult(platform.timeline, platform.events, crash_at, crash_again, status)


@dataclass
class CrashLoopResult:
    """One instance crashing again and again under each platform's restart back-off."""

    timeline: pd.DataFrame   # per platform and second: running (0/1)
    restarts: pd.DataFrame   # per platform: each crash, the wait before its restart, the restart
    summary: pd.DataFrame    # per platform: restarts, seconds running, longest wait
    minutes: float
    crash_after: float


BACKOFFS = {"Kubernetes": CrashLoopBackOff, "Cloud Foundry": CloudFoundryBackOff}


@experiment
async def crashloop_experiment(*, minutes: float = 30, crash_after: float = 5.0, seed: int = 13) -> CrashLoopResult:
    """An instance whose process dies ``crash_after`` seconds after every start, for ``minutes``, on both platforms.

    Its health check is ``process`` (no probe): only the crash counts. The
    platform runs its controllers once a second; each platform restarts the
    instance after its own back-off (:data:`BACKOFFS`).
    """
    timeline, restarts, summary = [], [], []
    for label, backoff in BACKOFFS.items():
        net = Network(seed=seed, name=f"nb13-crashloop-{label.split()[0].lower()}")
        platform = Platform(net, seed=seed, backoff=backoff)
        async with net:
            await platform.push({"name": "worker", "app": APPS["v1"], "instances": 1, "health-check-type": "process"})
            inst = net.instance("worker-1")
            for t in range(int(minutes * 60)):
                if inst.running and net.now() - inst.started_at >= crash_after:
                    await net.crash("worker-1")
                await platform.tick()
                timeline.append({"platform": label, "time": float(t), "running": int(inst.running)})
                await asyncio.sleep(1)
            events = platform.events
        waits = events[events.reason == "BackOff"]["message"].str.extract(r"in ([\d.]+) s")[0].astype(float)
        back = events[events.reason == "Restarted"]["time"].tolist()
        for k, (at, wait) in enumerate(zip(events[events.reason == "BackOff"]["time"], waits)):
            restarts.append({"platform": label, "crash": k + 1, "crashed_at": at, "wait": wait,
                             "restarted_at": back[k] if k < len(back) else float("nan")})
        ran = sum(r["running"] for r in timeline if r["platform"] == label)
        summary.append({"platform": label, "crashes": len(waits), "restarts": len(back), "seconds_running": ran,
                        "longest_wait": float(waits.max())})
    return CrashLoopResult(pd.DataFrame(timeline), pd.DataFrame(restarts), pd.DataFrame(summary), minutes, crash_after)


# ---------------------------------------------------------------------------- autoscaling
@dataclass
class AutoscaleResult:
    """A load ramp and the HPA's answer to it (every time on the network's axis, in seconds)."""

    load: pd.DataFrame       # one row per request (open loop); ``due`` on the network's time
    timeline: pd.DataFrame   # desired / ready instances per controller pass
    hpa: pd.DataFrame        # one row per HPA sync
    offered: pd.DataFrame    # the ramp: phase start, seconds, rate
    target: float


@experiment
async def autoscale_experiment(*, ramp: tuple[tuple[float, float], ...] = ((60, 4), (120, 24), (420, 4)),
                               target: float = 4, window: float = 15.0, max_instances: int = 8,
                               seed: int = 13, name: str = "nb13-hpa") -> AutoscaleResult:
    """Offer ``ramp`` (``(seconds, requests per second)`` phases) to ``web`` with an HPA on it.

    The HPA keeps requests per second per instance, averaged over the last
    ``window`` seconds of the call log, near ``target``; it syncs every 15 s
    and scales down only after its 300 s window, on simulated time.
    """
    net = Network(seed=seed, name=name)
    platform = Platform(net, seed=seed)
    async with net:
        await platform.push({"name": "web", "app": APPS["v1"], "instances": 1})
        platform.autoscale("web", min_instances=1, max_instances=max_instances, target=target,
                           metric=CallRateMetric(window=window))
        total = sum(s for s, _ in ramp)
        controllers = asyncio.create_task(platform.run_for(total, every=1))
        frames, offered = [], []
        for seconds, rate in ramp:
            start = net.now()
            offered.append({"start": start, "seconds": seconds, "rate": rate})
            run = await open_loop(net, "GET http://web.svc/hello", rate=rate, duration=seconds, progress=False)
            frames.append(run.df.assign(due=run.df["due"] + start))
        await controllers
        hpa = platform.app("web").hpa.history
    return AutoscaleResult(pd.concat(frames, ignore_index=True), platform.timeline, hpa, pd.DataFrame(offered),
                           target)


# ---------------------------------------------------------------------------- rollouts
#: Each strategy, and how many seconds of load its run offers (enough to outlast the rollout).
STRATEGIES = {
    "recreate": (lambda: Recreate(step=3.0), 16.0),
    "rolling": (lambda: RollingUpdate(), 16.0),
    "blue-green": (lambda: BlueGreen(), 12.0),
    "canary (bad v3)": (lambda: Canary(steps=(CanaryStep(0.1, pause=10), CanaryStep(0.5, pause=10)),
                                       min_requests=20), 22.0),
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
    pre_stop: float = 0.0
    endpoint_delay: float = 0.0
    retry: bool = False


async def _retry_once(client, i):
    try:
        return await client.get("http://web.svc/hello")
    except httpx.ConnectError:
        return await client.get("http://web.svc/hello")


@experiment
async def rollout_experiment(strategy: str, *, pre_stop: float = PRE_STOP, endpoint_delay: float = ENDPOINT_DELAY,
                             retry: bool = False, rate: float = 50, replicas: int = 4, lead: float = 1.0,
                             seed: int = 13, name: str | None = None) -> RolloutRun:
    """Roll ``web`` from v1 to v2 (to the broken v3 for the canary) with ``strategy`` under open-loop load.

    The pods sleep ``pre_stop`` seconds before SIGTERM; the endpoints stop
    routing to a deleted pod ``endpoint_delay`` seconds after its deletion.
    With ``retry``, the client retries once on a refused connection. The
    rollout starts ``lead`` seconds into the load.
    """
    if strategy not in STRATEGIES:
        raise KeyError(f"strategy {strategy!r} is not known; use one of {list(STRATEGIES)}")
    make, seconds = STRATEGIES[strategy]
    net = Network(seed=seed, name=name or f"nb13-{strategy.split()[0]}")
    platform = Platform(net, seed=seed, endpoint_delay=endpoint_delay)
    version = "v3" if strategy.startswith("canary") else "v2"
    async with net:
        await platform.push({"name": "web", "app": APPS["v1"], "instances": replicas, "pre_stop": pre_stop,
                             "probes": {"readiness": {"path": "/ready"}}})
        target = _retry_once if retry else "GET http://web.svc/hello"
        load_start = net.now()
        load = asyncio.create_task(open_loop(net, target, rate=rate, duration=seconds, progress=False))
        await asyncio.sleep(lead)
        t0 = net.now()
        result = await make().run(platform, "web", APPS[version], version)
        t1 = net.now()
        run = await load
    return RolloutRun(strategy, run.df, result.steps, result.completed, result.rolled_back,
                      (t0 - load_start, t1 - load_start), pre_stop, endpoint_delay, retry)


@experiment
async def compare_rollouts(*, seed: int = 13) -> dict[str, RolloutRun]:
    """Every strategy in :data:`STRATEGIES`, one after the other (each on its own network), with the preStop sleep."""
    return {s: await rollout_experiment(s, seed=seed) for s in STRATEGIES}


def rollout_summary(runs: dict[str, RolloutRun]) -> pd.DataFrame:
    """Per run: requests, failed requests, how long the rollout took, whether it completed or rolled back."""
    rows = []
    for s, r in runs.items():
        rows.append({"run": s, "pre_stop": r.pre_stop, "endpoint_delay": r.endpoint_delay, "retry": r.retry,
                     "requests": len(r.load), "failed": int((~r.load["ok"]).sum()),
                     "seconds": round(r.window[1] - r.window[0], 3), "completed": r.completed,
                     "rolled_back": r.rolled_back})
    return pd.DataFrame(rows)


@experiment
async def prestop_comparison(*, seed: int = 13) -> dict[str, RolloutRun]:
    """The rolling update three ways while the endpoints lag :data:`ENDPOINT_DELAY` s: no preStop, no preStop with
    one retry, and a :data:`PRE_STOP` s preStop sleep."""
    return {
        "no preStop": await rollout_experiment("rolling", pre_stop=0, seed=seed, name="nb13-prestop-none"),
        "no preStop, one retry": await rollout_experiment("rolling", pre_stop=0, retry=True, seed=seed,
                                                          name="nb13-prestop-retry"),
        f"preStop {PRE_STOP:g} s": await rollout_experiment("rolling", pre_stop=PRE_STOP, seed=seed,
                                                            name="nb13-prestop-sleep"),
    }


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
