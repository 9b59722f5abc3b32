"""Rolling out a new version: rolling update, recreate, blue-green, canary with analysis.

Each strategy changes a running app from its current version to a new one
while traffic flows, and returns a :class:`RolloutResult` whose ``steps``
DataFrame says what happened when (old and new instances, weights,
analysis verdicts).

- :class:`RollingUpdate` (Kubernetes Deployment ``RollingUpdate``):
  ``max_surge`` extra instances may exist and ``max_unavailable`` may be
  missing during the update (defaults 25 %; as Kubernetes rounds them, surge
  rounds up and unavailable rounds down, and they cannot both be 0). An old
  instance leaves the balancer and finishes its requests before it stops.
- :class:`Recreate`: every old instance stops, then the new ones start (the
  outage the other strategies avoid).
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
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import ConfigurationError
from ._controller import App, Platform
from ._metrics import PROBE_CALLER

__all__ = ["RollingUpdate", "Recreate", "BlueGreen", "Canary", "CanaryStep", "RolloutResult", "surge_and_unavailable"]

SAMPLE_TIMEOUT = 10.0  # real seconds a canary step waits for its minimum number of requests


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


class _Strategy:
    name = "strategy"

    def __init__(self, *, step: float = 1.0) -> None:
        self.step = step

    async def run(self, platform: Platform, app_name: str, new_app: Any, version: str) -> RolloutResult:
        app = platform.app(app_name)
        old_version = app.version
        rows: list[dict] = []
        t0 = platform.network.now()
        spec = platform._spec(new_app)
        app.rolling_out = True
        try:
            completed, rolled_back = await self._run(platform, app, spec, version, rows)
        finally:
            app.rolling_out = False
        return RolloutResult(self.name, app_name, old_version, version, completed, rolled_back,
                             pd.DataFrame(rows), t0, platform.network.now())

    def _row(self, platform: Platform, app: App, rows: list, old: str, new: str, note: str, **extra) -> None:
        live = app.live_pods()
        rows.append({
            "time": platform.network.now(), "clock": platform.clock.now(),
            "old": sum(p.version == old for p in live), "new": sum(p.version == new for p in live),
            "old_ready": sum(p.version == old and platform.is_ready(p) for p in live),
            "new_ready": sum(p.version == new and platform.is_ready(p) for p in live), "note": note, **extra})

    async def _settle(self, platform: Platform, app: App, version: str) -> None:
        # Let time pass and the probes run until new instances are ready.
        await platform.clock.sleep(self.step)
        await platform._kubelet(app)
        await asyncio.sleep(0)

    async def _run(self, platform, app, spec, version, rows) -> tuple[bool, bool]:  # pragma: no cover
        raise NotImplementedError


class RollingUpdate(_Strategy):
    """Replace instances a few at a time within ``max_surge`` / ``max_unavailable`` (defaults 25 %)."""

    name = "rolling"

    def __init__(self, max_surge: int | str = "25%", max_unavailable: int | str = "25%", *, step: float = 1.0) -> None:
        super().__init__(step=step)
        self.max_surge = max_surge
        self.max_unavailable = max_unavailable

    async def _run(self, platform, app, spec, version, rows):
        old = app.version
        replicas = app.desired
        surge, unavailable = surge_and_unavailable(replicas, self.max_surge, self.max_unavailable)
        app.version, app.spec = version, spec
        self._row(platform, app, rows, old, version, f"start: surge {surge}, unavailable {unavailable}")
        for _ in range(10 * replicas + 10):
            live = app.live_pods()
            olds = [p for p in live if p.version != version]
            news = [p for p in live if p.version == version]
            if not olds and len(news) >= replicas and all(platform.is_ready(p) for p in news):
                self._row(platform, app, rows, old, version, "complete")
                return True, False
            # Scale the new ReplicaSet up within the surge.
            room = replicas + surge - len(live)
            for _ in range(max(0, min(room, replicas - len(news)))):
                await platform._create_pod(app, version, spec)
            # Scale the old one down while enough instances stay available.
            available = len([p for p in app.live_pods() if platform.is_ready(p)])
            removable = available - (replicas - unavailable)
            for pod in sorted(olds, key=lambda p: platform.is_ready(p))[: max(0, removable)]:
                await platform._delete_pod(app, pod)
            self._row(platform, app, rows, old, version, "step")
            await self._settle(platform, app, version)
        self._row(platform, app, rows, old, version, "did not converge")
        return False, False


class Recreate(_Strategy):
    """Stop every old instance, then start the new ones: simple, with an outage in between."""

    name = "recreate"

    async def _run(self, platform, app, spec, version, rows):
        old = app.version
        replicas = app.desired
        for pod in list(app.live_pods()):
            pod.deleting = True
            await platform.network.remove_instance(pod.name)
            app.pods.pop(pod.name, None)
        self._row(platform, app, rows, old, version, "old stopped")
        # Old containers terminate and new ones start: one step with no instance at all.
        await platform.clock.sleep(self.step)
        app.version, app.spec = version, spec
        for _ in range(replicas):
            await platform._create_pod(app, version, spec)
        await self._settle(platform, app, version)
        self._row(platform, app, rows, old, version, "complete")
        return True, False


class BlueGreen(_Strategy):
    """Start the new version beside the old, switch all traffic at once when it is ready, remove the old."""

    name = "blue-green"

    async def _run(self, platform, app, spec, version, rows):
        old = app.version
        replicas = app.desired
        endpoints = app.service.balancer
        endpoints.weights = {old: 1.0}                 # green gets nothing until the switch
        greens = [await platform._create_pod(app, version, spec) for _ in range(replicas)]
        self._row(platform, app, rows, old, version, "green started (preview)")
        for _ in range(20):
            if all(platform.is_ready(p) for p in greens):
                break
            await self._settle(platform, app, version)
        else:
            for pod in greens:
                await platform._delete_pod(app, pod)
            endpoints.weights = None
            self._row(platform, app, rows, old, version, "green never ready: aborted")
            return False, True
        app.version, app.spec = version, spec
        endpoints.weights = {version: 1.0}             # the switch
        self._row(platform, app, rows, old, version, "switched")
        for pod in [p for p in app.live_pods() if p.version == old]:
            await platform._delete_pod(app, pod)
        endpoints.weights = None
        self._row(platform, app, rows, old, version, "blue removed")
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

    async def _run(self, platform, app, spec, version, rows):
        old = app.version
        endpoints = app.service.balancer
        endpoints.weights = {old: 1.0}
        canaries = [await platform._create_pod(app, version, spec) for _ in range(self.canary_instances)]
        for _ in range(20):
            if all(platform.is_ready(p) for p in canaries):
                break
            await self._settle(platform, app, version)
        for step in self.steps:
            endpoints.weights = {old: 1 - step.weight, version: step.weight}
            since = platform.network.now()
            await platform.clock.sleep(step.pause)
            await self._samples(platform, app, version, since)
            verdict = self.analyse(platform, app, version, since)
            self._row(platform, app, rows, old, version, f"weight {step.weight:g}", weight=step.weight, **verdict)
            if not verdict["passed"]:
                endpoints.weights = {old: 1.0}          # rollback: all traffic to stable at once
                for pod in canaries:
                    await platform._delete_pod(app, pod)
                endpoints.weights = None
                self._row(platform, app, rows, old, version, "rolled back", weight=0.0)
                return False, True
        # Promote: the rest of the instances move with a rolling update.
        endpoints.weights = None
        result = await RollingUpdate(step=self.step)._run(platform, app, spec, version, rows)
        for pod in [p for p in app.live_pods() if p.version == version][app.desired:]:
            await platform._delete_pod(app, pod)
        return result

    async def _samples(self, platform: Platform, app: App, version: str, since: float) -> None:
        deadline = time.monotonic() + SAMPLE_TIMEOUT
        while time.monotonic() < deadline and len(self._calls(platform, app, version, since)) < self.min_requests:
            await asyncio.sleep(0.005)

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
