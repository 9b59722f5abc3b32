"""Rolling out a new version: rolling update, recreate, blue-green, canary with analysis.

Each strategy changes a running app from its current version to a new one
while traffic flows, and returns a :class:`RolloutResult` whose ``steps``
DataFrame says what happened when (old and new instances, weights,
analysis verdicts).

- :class:`RollingUpdate` (Kubernetes Deployment ``RollingUpdate``):
  ``max_surge`` extra instances may exist and ``max_unavailable`` may be
  missing during the update (defaults 25 %; as Kubernetes rounds them, surge
  rounds up and unavailable rounds down, and they cannot both be 0). An old
  instance is deleted the way the platform deletes any pod
  (:mod:`labsvc.platform._kubelet`): whether requests are lost depends on its
  ``preStop`` sleep against the endpoints' delay.
- :class:`Recreate`: every old instance terminates, then the new ones start
  (the outage the other strategies avoid).
- :class:`BlueGreen`: the new version (green) starts beside the old (blue)
  and receives no traffic until all of it is ready; then one switch moves
  all traffic, and blue is removed.
- :class:`Canary` (Argo Rollouts / Flagger style): steps of traffic weight;
  after each step the canary's success rate and p95 latency, read from the
  call log, are checked against thresholds; a failed check sends all
  traffic back to the stable version and removes the canary (rollback).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.platform._controller import App, Platform, Pod
from labsvc.platform._metrics import PROBE_CALLER

__all__ = ["RollingUpdate", "Recreate", "BlueGreen", "Canary", "CanaryStep", "RolloutResult", "surge_and_unavailable"]

SAMPLE_TIMEOUT = 60.0  # seconds of network time a canary step waits for its minimum number of requests


def _count(value: int | str, replicas: int, *, round_up: bool, what: str) -> int:
    if isinstance(value, str):
        if not value.endswith("%"):
            raise ConfigurationError(f"{what}={value!r}: a count (1) or a percentage ('25%')")
        pct = float(value[:-1]) / 100
        return math.ceil(replicas * pct) if round_up else math.floor(replicas * pct)
    if value < 0:
        raise ConfigurationError(f"{what}={value!r} must be >= 0")
    return int(value)


def surge_and_unavailable(replicas: int, max_surge: int | str = "25%", max_unavailable: int | str = "25%") -> tuple[int, int]:
    """``(surge, unavailable)`` as Kubernetes resolves them for ``replicas``.

    >>> surge_and_unavailable(4)
    (1, 1)
    >>> surge_and_unavailable(3)          # surge rounds up, unavailable down
    (1, 0)
    >>> surge_and_unavailable(1, 0, 0)    # both zero is not allowed: one may be unavailable
    (0, 1)
    """
    surge = _count(max_surge, replicas, round_up=True, what="max_surge")
    unavailable = _count(max_unavailable, replicas, round_up=False, what="max_unavailable")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


@dataclass
class RolloutResult:
    """What a rollout did: the strategy, whether it completed, and one row per step."""

    strategy: str
    app: str
    from_version: str
    to_version: str
    completed: bool
    rolled_back: bool
    steps: pd.DataFrame
    started_at: float = 0.0
    ended_at: float = 0.0


class _Rollout:
    """One rollout under way: the platform, the app, the new code, and one row per step of what happened.

    It drives the platform only through its public interface
    (:meth:`Platform.add_pod`, :meth:`Platform.remove_pod`,
    :meth:`Platform.run_kubelet`, :meth:`App.promote`, :attr:`App.endpoints`).
    """

    def __init__(self, platform: Platform, app: App, spec: Any, version: str, step: float) -> None:
        self.platform, self.app, self.spec, self.version, self.step = platform, app, spec, version, step
        self.old = app.version
        self.rows: list[dict] = []

    def row(self, note: str, **extra: Any) -> None:
        """Record the old and new instances (and how many are ready) now, with ``note``."""
        p, live = self.platform, self.app.live_pods()
        self.rows.append({
            "time": p.network.now(), "clock": p.clock.now(),
            "old": sum(x.version == self.old for x in live), "new": sum(x.version == self.version for x in live),
            "old_ready": sum(x.version == self.old and p.is_ready(x) for x in live),
            "new_ready": sum(x.version == self.version and p.is_ready(x) for x in live), "note": note, **extra})

    def pods(self, version: str) -> list[Pod]:
        """The app's live instances of ``version``."""
        return [p for p in self.app.live_pods() if p.version == version]

    async def add(self, count: int) -> list[Pod]:
        """Start ``count`` instances of the new version."""
        return [await self.platform.add_pod(self.app, self.version, self.spec) for _ in range(count)]

    async def remove(self, pods: list[Pod], *, drain: bool = True, wait: bool = False) -> None:
        """Delete ``pods`` (gracefully unless ``drain=False``); with ``wait``, until they are gone."""
        tasks = [await self.platform.remove_pod(self.app, pod, drain=drain) for pod in list(pods)]
        if wait and tasks:
            await asyncio.gather(*tasks)

    async def settle(self) -> None:
        """Let one step of the platform's time pass and the kubelet run (new instances become ready)."""
        await self.platform.clock.sleep(self.step)
        await self.platform.run_kubelet(self.app)
        await asyncio.sleep(0)

    async def until_ready(self, pods: list[Pod], tries: int = 20) -> bool:
        """Settle until every one of ``pods`` is ready (True), or ``tries`` steps have passed (False)."""
        for _ in range(tries):
            if all(self.platform.is_ready(p) for p in pods):
                return True
            await self.settle()
        return False

    async def abandon(self, pods: list[Pod], note: str, **extra: Any) -> None:
        """All traffic back to the old version at once, ``pods`` removed, the weights cleared."""
        endpoints = self.app.endpoints
        endpoints.weights = {self.old: 1.0}
        self.row(note, **extra)
        await self.remove(pods, wait=True)     # the weights hold until the canary's endpoints are gone
        endpoints.weights = None

    def promote(self) -> None:
        """The new version becomes the stable one (what the replica controller creates from now on)."""
        self.app.promote(self.version, self.spec)


class _Strategy:
    name = "strategy"

    def __init__(self, *, step: float = 1.0) -> None:
        self.step = step

    async def run(self, platform: Platform, app_name: str, new_app: Any, version: str) -> RolloutResult:
        app = platform.app(app_name)
        t0 = platform.network.now()
        rollout = _Rollout(platform, app, platform.pod_spec(new_app), version, self.step)
        app.rolling_out = True
        try:
            completed, rolled_back = await self._run(rollout)
        finally:
            app.rolling_out = False
        await platform.terminated()          # the old instances are gone too
        rollout.row("old instances terminated")
        return RolloutResult(self.name, app_name, rollout.old, version, completed, rolled_back,
                             pd.DataFrame(rollout.rows), t0, platform.network.now())

    async def _run(self, r: _Rollout) -> tuple[bool, bool]:  # pragma: no cover
        """Move ``r.app`` to ``r.version``; ``(completed, rolled_back)``."""
        raise NotImplementedError


class RollingUpdate(_Strategy):
    """Replace instances a few at a time within ``max_surge`` / ``max_unavailable`` (defaults 25 %)."""

    name = "rolling"

    def __init__(self, max_surge: int | str = "25%", max_unavailable: int | str = "25%", *, step: float = 1.0) -> None:
        super().__init__(step=step)
        self.max_surge = max_surge
        self.max_unavailable = max_unavailable

    async def _run(self, r):
        app, platform = r.app, r.platform
        replicas = app.desired
        surge, unavailable = surge_and_unavailable(replicas, self.max_surge, self.max_unavailable)
        r.promote()
        r.row(f"start: surge {surge}, unavailable {unavailable}")
        for _ in range(10 * replicas + 10):
            live = app.live_pods()
            olds = [p for p in live if p.version != r.version]
            news = [p for p in live if p.version == r.version]
            if not olds and len(news) >= replicas and all(platform.is_ready(p) for p in news):
                r.row("complete")
                return True, False
            # Scale the new ReplicaSet up within the surge.
            await r.add(max(0, min(replicas + surge - len(live), replicas - len(news))))
            # Scale the old one down while enough instances stay available.
            removable = len(app.ready_pods()) - (replicas - unavailable)
            await r.remove(sorted(olds, key=platform.is_ready)[: max(0, removable)])
            r.row("step")
            await r.settle()
        r.row("did not converge")
        return False, False


class Recreate(_Strategy):
    """Terminate every old instance, then start the new ones: simple, with an outage in between.

    As in Kubernetes, the new instances are created only once the old ones
    are gone; ``step`` seconds then pass before they run (a container is
    scheduled and started; an in-process instance would start at once).
    """

    name = "recreate"

    async def _run(self, r):
        replicas = r.app.desired
        await r.remove(r.app.live_pods(), wait=True)
        r.row("old terminated")
        await r.platform.clock.sleep(self.step)          # no instance at all meanwhile
        r.promote()
        await r.add(replicas)
        await r.settle()
        r.row("complete")
        return True, False


class BlueGreen(_Strategy):
    """Start the new version beside the old, switch all traffic at once when it is ready, remove the old."""

    name = "blue-green"

    async def _run(self, r):
        endpoints = r.app.endpoints
        endpoints.weights = {r.old: 1.0}                 # green gets nothing until the switch
        greens = await r.add(r.app.desired)
        r.row("green started (preview)")
        if not await r.until_ready(greens):
            await r.abandon(greens, "green never ready: aborted")
            return False, True
        r.promote()
        endpoints.weights = {r.version: 1.0}             # the switch
        r.row("switched")
        await r.remove(r.pods(r.old), wait=True)          # blue stays out of the draw until it is gone
        endpoints.weights = None
        r.row("blue removed")
        return True, False


@dataclass(frozen=True)
class CanaryStep:
    """Send ``weight`` (0-1) of traffic to the canary, wait ``pause`` platform seconds, then analyse."""

    weight: float
    pause: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.weight <= 1:
            raise ConfigurationError(f"CanaryStep weight={self.weight!r}: a share between 0 and 1, e.g. 0.1")


@dataclass
class Canary(_Strategy):
    """Shift traffic to the new version step by step, checking it after each step; roll back on failure.

    The analysis after each step reads the canary's calls since the step
    began from the call log (probe calls excluded): it passes when there are
    at least ``min_requests``, their success rate (answers below 500) is at
    least ``min_success_rate`` and their p95 latency at most ``max_p95``
    seconds.
    """

    steps: tuple[CanaryStep, ...] = (CanaryStep(0.1), CanaryStep(0.5))
    min_success_rate: float = 0.99
    max_p95: float = 0.5
    min_requests: int = 20
    canary_instances: int = 1
    step: float = 1.0
    name: str = field(default="canary", init=False)

    async def _run(self, r):
        app, platform = r.app, r.platform
        endpoints = app.endpoints
        endpoints.weights = {r.old: 1.0}
        canaries = await r.add(self.canary_instances)
        await r.until_ready(canaries)
        for step in self.steps:
            endpoints.weights = {r.old: 1 - step.weight, r.version: step.weight}
            since = platform.network.now()
            await platform.clock.sleep(step.pause)
            await self._samples(platform, app, r.version, since)
            verdict = self.analyse(platform, app, r.version, since)
            r.row(f"weight {step.weight:g}", weight=step.weight, **verdict)
            if not verdict["passed"]:
                await r.abandon(canaries, "rolled back", weight=0.0)   # rollback: all traffic to stable at once
                return False, True
        # Promote: the rest of the instances move with a rolling update.
        endpoints.weights = None
        result = await RollingUpdate(step=self.step)._run(r)
        await r.remove(r.pods(r.version)[app.desired:])
        return result

    async def _samples(self, platform: Platform, app: App, version: str, since: float) -> None:
        net = platform.network
        deadline = net.now() + SAMPLE_TIMEOUT
        while net.now() < deadline and len(self._calls(platform, app, version, since)) < self.min_requests:
            await asyncio.sleep(0.5)

    @staticmethod
    def _calls(platform: Platform, app: App, version: str, since: float) -> pd.DataFrame:
        log = platform.network.calls
        if log.empty:
            return log
        names = {p.name for p in app.pods.values() if p.version == version}
        return log[log["instance"].isin(names) & (log["caller"] != PROBE_CALLER) & (log["start"] >= since)]

    def analyse(self, platform: Platform, app: App, version: str, since: float) -> dict:
        """The canary's requests since ``since``: count, success rate, p95, and whether they pass."""
        calls = self._calls(platform, app, version, since)
        n = len(calls)
        ok = ((calls["status"] > 0) & (calls["status"] < 500)).sum() if n else 0
        rate = ok / n if n else float("nan")
        p95 = float(calls["duration"].quantile(0.95)) if n else float("nan")
        passed = n >= self.min_requests and rate >= self.min_success_rate and p95 <= self.max_p95
        return {"requests": n, "success_rate": rate, "p95": p95, "passed": bool(passed)}
