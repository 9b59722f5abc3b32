"""The platform: apps pushed from manifests, kept at their desired state by controllers.

:class:`Platform` sits on a :class:`labsvc.Network` (either mode). Each app
is one network service with its own URL (``http://<app>.svc``). One call to
:meth:`Platform.tick` is one pass of every controller, as Kubernetes runs
them:

- the *kubelet* part probes each instance (:mod:`._probes`), takes an
  unready instance out of the balancer (:mod:`._endpoints`), kills an
  instance whose liveness probe fails, and restarts a dead instance after
  its CrashLoopBackOff delay (:mod:`._backoff`);
- the *ReplicaSet* part (self-healing) adds or removes instances until the
  app has its desired count;
- the *HPA* part (:mod:`._hpa`) sets the desired count from a metric, once
  per sync period.

Time comes from the platform's clock: a :class:`labsvc.FakeClock` in tests,
the real clock (or a :class:`ScaledClock` that runs faster) in notebooks.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import httpx
import pandas as pd

from .._instances import Instance, _is_factory, _resolve_app
from ..clock import Clock, MonotonicClock
from ..errors import ConfigurationError, NetworkStateError, UnknownServiceError
from ..network import Network
from ._backoff import CrashLoopBackOff
from ._batch import JobSpec
from ._endpoints import Endpoints
from ._hpa import SYNC_PERIOD, HorizontalPodAutoscaler
from ._manifest import AppManifest, ManifestError
from ._metrics import PROBE_CALLER, CallRateMetric
from ._probes import ProbeTracker

__all__ = ["Platform", "App", "Pod"]

DRAIN_TIMEOUT = 5.0        # real seconds an instance leaving the balancer may finish its requests in


@dataclass
class Pod:
    """The platform's view of one instance: version, probes, restarts, back-off."""

    instance: Instance
    version: str
    app_spec: Any
    backoff: CrashLoopBackOff
    trackers: dict[str, ProbeTracker] = field(default_factory=dict)
    restart_at: float | None = None
    restarts: int = 0
    in_rotation: bool = True
    deleting: bool = False

    @property
    def name(self) -> str:
        return self.instance.name


class App:
    """One pushed app: its manifest, desired count, pods and endpoints."""

    def __init__(self, platform: "Platform", manifest: AppManifest) -> None:
        self.platform = platform
        self.manifest = manifest
        self.name = manifest.name
        self.desired = manifest.instances
        self.stopped = False
        self.version = manifest.version
        self.spec: Any = None        # the code new instances of the stable version run
        self.rolling_out = False     # while a rollout runs, it (not the replica controller) sets the count
        self.pods: dict[str, Pod] = {}
        self.hpa: HorizontalPodAutoscaler | None = None
        self.metric: Callable[["App"], float] | None = None
        self._hpa_due = 0.0

    @property
    def url(self) -> str:
        """The app's own URL (its route on the network)."""
        return self.manifest.route

    @property
    def service(self):
        """The app's service on the network."""
        return self.platform.network.service(self.name)

    def live_pods(self) -> list[Pod]:
        """Pods that count toward the desired number (not being deleted)."""
        return [p for p in self.pods.values() if not p.deleting]

    def ready_pods(self) -> list[Pod]:
        """Pods that take traffic now (see :meth:`Platform.is_ready`)."""
        return [p for p in self.live_pods() if self.platform.is_ready(p)]

    def __repr__(self) -> str:
        return f"<App {self.name} {self.version} desired={self.desired} ready={len(self.ready_pods())}>"


class Platform:
    """Apps on a network, kept at their desired state (see the module docstring).

    >>> net = labsvc.Network(seed=1)                                   # doctest: +SKIP
    >>> platform = Platform(net, clock=labsvc.FakeClock())             # doctest: +SKIP
    >>> async with net:                                                # doctest: +SKIP
    ...     app = await platform.push({"name": "catalog", "app": catalog_app, "instances": 2})
    ...     await net.crash("catalog-1")
    ...     await platform.run_for(15)      # restarted after its 10 s back-off
    """

    def __init__(self, network: Network, *, clock: Clock | None = None) -> None:
        self.network = network
        self.clock = clock or MonotonicClock()
        self.apps: dict[str, App] = {}
        self.jobs: dict[str, JobSpec] = {}
        self._events: list[dict] = []
        self._timeline: list[dict] = []

    # ------------------------------------------------------------------ apps
    async def push(self, manifest: AppManifest | Mapping[str, Any], **changes: Any) -> App:
        """Deploy an app from its manifest (a :class:`AppManifest` or a dict in ``manifest.yml`` shape).

        The app gets its own URL and ``instances`` instances; if the network
        is running they start now. Pushing a name that exists raises; use
        :mod:`labsvc.platform` rollouts to change a running app's version.
        """
        m = manifest if isinstance(manifest, AppManifest) else AppManifest.from_dict(manifest)
        if changes:
            m = AppManifest(**{**m.__dict__, **changes})
        if m.name in self.jobs:
            raise ManifestError(f"name={m.name!r}: a job of that name is declared on this platform")
        if m.name in self.apps:
            raise ManifestError(f"name={m.name!r}: an app of that name is already pushed; pick another name or "
                                f"roll out a new version with labsvc.platform.RollingUpdate")
        taken = {r: a.name for a in self.apps.values() for r in a.manifest.routes}
        for route in m.routes:
            if route in taken:
                raise ManifestError(f"routes: {route!r} already belongs to app {taken[route]!r}; every app needs "
                                    f"its own route")
        if m.name in self.network.services:
            raise ManifestError(f"name={m.name!r}: the network already has a service of that name")
        app = App(self, m)
        spec = self._spec(m.app)
        app.spec = spec
        self.network.add(m.name, spec, instances=max(1, m.instances))
        svc = self.network.service(m.name)
        svc.env = dict(m.env)
        svc.balancer = Endpoints(svc.balancer, self._is_ready_name, self._version_of,
                                 seed=f"{self.network.seed}/{m.name}")
        self.apps[m.name] = app
        for inst in svc.instances:
            pod = self._adopt(app, inst, m.version, spec)
            self._arm(app, pod)
            if self.network.started:
                await self._start_pod(app, pod, fresh=False)
        if m.autoscaling is not None:
            self.autoscale(m.name, min_instances=m.autoscaling.min_instances,
                           max_instances=m.autoscaling.max_instances, target=m.autoscaling.target)
        self._event(app, None, "Pushed", f"{m.instances} instance(s) of {m.version}")
        if self.network.started:
            await self._reconcile(app)
        return app

    def _spec(self, spec: Any) -> Any:
        # In-process, each instance gets its own app object from a factory, so
        # two versions never share a lifespan; process mode needs 'module:attr'.
        if self.network.mode == "process" or _is_factory(spec):
            return spec
        obj = _resolve_app(spec)
        return _Same(obj)

    def _adopt(self, app: App, instance: Instance, version: str, spec: Any) -> Pod:
        pod = Pod(instance, version, spec, CrashLoopBackOff(clock=self.clock))
        app.pods[instance.name] = pod
        return pod

    def app(self, name: str) -> App:
        """The pushed app called ``name``."""
        try:
            return self.apps[name]
        except KeyError:
            raise UnknownServiceError(f"no app named {name!r} is pushed; apps: {sorted(self.apps) or 'none'}") from None

    async def scale(self, name: str, instances: int) -> App:
        """Set the desired instance count of one app (others keep serving)."""
        if isinstance(instances, bool) or not isinstance(instances, int) or instances < 0:
            raise ConfigurationError(f"instances={instances!r}: a whole number >= 0")
        app = self.app(name)
        app.desired = instances
        self._event(app, None, "Scaled", f"desired {instances}")
        await self._reconcile(app)
        return app

    async def stop(self, name: str) -> None:
        """Stop every instance of one app; the controllers leave it stopped until :meth:`start`."""
        app = self.app(name)
        app.stopped = True
        for pod in app.live_pods():
            pod.in_rotation = False
            await self.network.stop_instance(pod.name)
            pod.restart_at = None
        self._event(app, None, "Stopped", "")

    async def start(self, name: str) -> None:
        """Start a stopped app again."""
        app = self.app(name)
        app.stopped = False
        for pod in app.live_pods():
            await self._start_pod(app, pod, fresh=True)
        self._event(app, None, "Started", "")
        await self._reconcile(app)

    async def restart(self, name: str) -> None:
        """Restart one app's instances one at a time, each out of the balancer while it restarts."""
        app = self.app(name)
        for pod in list(app.live_pods()):
            pod.in_rotation = False
            await self._drain(pod)
            await self.network.stop_instance(pod.name)
            await self._start_pod(app, pod, fresh=True)
            await self._probe_pod(app, pod, force=True)
        self._event(app, None, "Restarted", "rolling")

    def add_job(self, name: str, target: str, *, backoff_limit: int = 6, schedule: str | None = None) -> JobSpec:
        """Declare a batch job (run by ``target``, ``"module:function"``), one-off or on a cron ``schedule``.

        The platform does not run it here (run a :class:`~labsvc.platform.Job`
        directly, or through :class:`~labsvc.platform.KubernetesJob`); the
        export turns it into a Kubernetes Job or CronJob.
        """
        spec = JobSpec(name, target, backoff_limit, schedule)
        if name in self.jobs or name in self.apps:
            raise ManifestError(f"name={name!r} is already used by an app or a job on this platform")
        self.jobs[name] = spec
        return spec

    def autoscale(self, name: str, *, min_instances: int = 1, max_instances: int = 10, target: float = 50.0,
                  metric: Callable[[App], float] | None = None, **hpa: Any) -> HorizontalPodAutoscaler:
        """Attach an HPA to one app: ``metric(app)`` (default :class:`CallRateMetric`) kept near ``target``."""
        app = self.app(name)
        app.hpa = HorizontalPodAutoscaler(target=target, min_replicas=min_instances, max_replicas=max_instances,
                                          clock=self.clock, **hpa)
        app.metric = metric or CallRateMetric()
        app._hpa_due = self.clock.now()
        return app.hpa

    # ------------------------------------------------------------------ readiness
    def _pod(self, name: str) -> Pod | None:
        app = self.apps.get(name.rsplit("-", 1)[0])
        return None if app is None else app.pods.get(name)

    def _is_ready_name(self, name: str) -> bool:
        pod = self._pod(name)
        return pod is not None and self.is_ready(pod)

    def _version_of(self, name: str) -> str:
        pod = self._pod(name)
        return pod.version if pod is not None else ""

    def is_ready(self, pod: Pod) -> bool:
        """Whether ``pod`` takes traffic: running, in rotation, started and ready by its probes."""
        if not pod.instance.running or not pod.in_rotation or pod.deleting:
            return False
        startup = pod.trackers.get("startup")
        if startup is not None and startup.passing is not True:
            return False
        readiness = pod.trackers.get("readiness")
        return readiness is None or readiness.passing is True

    # ------------------------------------------------------------------ controllers
    async def tick(self) -> None:
        """One pass of every controller at the clock's current time."""
        if not self.network.started:
            raise NetworkStateError("the platform's network is not started; 'async with net:' first")
        for app in list(self.apps.values()):
            await self._kubelet(app)
            await self._autoscale(app)
            await self._reconcile(app)
            self._timeline.append({"time": self.clock.now(), "app": app.name, "desired": app.desired,
                                   "running": sum(p.instance.running for p in app.live_pods()),
                                   "ready": len(app.ready_pods())})

    async def run_for(self, seconds: float, *, every: float = 1.0) -> None:
        """Run the controllers every ``every`` seconds of the platform's clock for ``seconds``."""
        end = self.clock.now() + seconds
        while True:
            await self.tick()
            if self.clock.now() + every > end + 1e-9:
                break
            await self.clock.sleep(every)

    async def _kubelet(self, app: App) -> None:
        now = self.clock.now()
        for pod in list(app.live_pods()):
            if app.stopped:
                continue
            inst = pod.instance
            if not inst.running:
                if pod.restart_at is None:
                    delay = pod.backoff.next_delay()
                    pod.restart_at = now + delay
                    self._event(app, pod, "BackOff", f"restarting in {delay:g} s (CrashLoopBackOff)")
                elif now >= pod.restart_at:
                    await self._start_pod(app, pod, fresh=True)
                    pod.restarts += 1
                    self._event(app, pod, "Restarted", f"restart #{pod.restarts}")
                continue
            await self._probe_pod(app, pod)

    async def _probe_pod(self, app: App, pod: Pod, *, force: bool = False) -> None:
        now = self.clock.now()
        startup = pod.trackers.get("startup")
        kinds = ["startup"] if startup is not None and startup.passing is not True else ["liveness", "readiness"]
        for kind in kinds:
            tracker = pod.trackers.get(kind)
            if tracker is None or not (force or tracker.due(now)):
                continue
            ok = await self._probe_once(pod, tracker)
            verdict = tracker.record(now, ok)
            if verdict is None:
                continue
            self._event(app, pod, f"{kind.capitalize()} {'passed' if verdict else 'failed'}",
                        f"{tracker.probe.path} after {tracker.probe.success_threshold if verdict else tracker.probe.failure_threshold} result(s)")
            if not verdict and kind in ("liveness", "startup"):
                # The kubelet kills the container; the back-off path restarts it.
                await self.network.crash(pod.name)
                self._event(app, pod, "Killing", f"{kind} probe failed")
                return

    async def _probe_once(self, pod: Pod, tracker: ProbeTracker) -> bool:
        client = self.network.client(PROBE_CALLER, timeout=tracker.probe.timeout)
        try:
            r = await client.get(pod.instance.url + tracker.probe.path)
        except httpx.HTTPError:
            return False
        return 200 <= r.status_code < 400

    async def _autoscale(self, app: App) -> None:
        if app.hpa is None or app.stopped or self.clock.now() < app._hpa_due:
            return
        app._hpa_due = self.clock.now() + SYNC_PERIOD
        current = len(app.live_pods())
        if current == 0:
            return
        desired = app.hpa.reconcile(current, app.metric(app))
        if desired != app.desired:
            self._event(app, None, "Autoscaled", f"{app.desired} -> {desired}")
            app.desired = desired

    async def _reconcile(self, app: App) -> None:
        """ReplicaSet: create or delete instances until the live count is the desired count."""
        if app.stopped or app.rolling_out:
            return
        live = app.live_pods()
        for _ in range(app.desired - len(live)):
            await self._create_pod(app, app.version, app.spec)
        if len(live) > app.desired:
            # Kubernetes deletes unready and newer pods first.
            victims = sorted(live, key=lambda p: (self.is_ready(p), -p.instance.index))[: len(live) - app.desired]
            for pod in victims:
                await self._delete_pod(app, pod)

    async def _create_pod(self, app: App, version: str, spec: Any) -> Pod:
        svc = app.service
        svc.set_app(spec)
        svc.env = dict(app.manifest.env)
        inst = await self.network.add_instance(app.name) if self.network.started else None
        if inst is None:
            raise NetworkStateError("start the network before scaling an app")
        pod = self._adopt(app, inst, version, spec)
        self._arm(app, pod)
        await self._probe_pod(app, pod, force=True)
        self._event(app, pod, "Created", version)
        return pod

    async def _delete_pod(self, app: App, pod: Pod) -> None:
        pod.deleting = True
        pod.in_rotation = False
        await self._drain(pod)
        await self.network.remove_instance(pod.name)
        app.pods.pop(pod.name, None)
        self._event(app, pod, "Deleted", pod.version)

    async def _drain(self, pod: Pod) -> None:
        # Out of the balancer first; then let requests already inside finish
        # (a bounded wait in real time, like terminationGracePeriodSeconds).
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while pod.instance.outstanding > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.001)

    async def _start_pod(self, app: App, pod: Pod, *, fresh: bool) -> None:
        inst = pod.instance
        if fresh and self.network.mode == "inprocess":
            inst.app = _resolve_app(pod.app_spec)()  # a restarted container starts from a clean state
        if not inst.running:
            app.service.set_app(pod.app_spec)   # process mode starts whatever the service's app is now
            await self.network.start_instance(inst.name)
        pod.restart_at = None
        pod.in_rotation = True
        pod.backoff.started()
        self._arm(app, pod)
        await self._probe_pod(app, pod, force=True)   # initialDelaySeconds 0: the first probe runs at start

    def _arm(self, app: App, pod: Pod) -> None:
        now = self.clock.now()
        pod.trackers = {k: ProbeTracker(p, now) for k in ("startup", "liveness", "readiness")
                        if (p := app.manifest.probe(k)) is not None}

    # ------------------------------------------------------------------ observing
    def _event(self, app: App, pod: Pod | None, reason: str, message: str) -> None:
        self._events.append({"time": self.clock.now(), "app": app.name, "instance": pod.name if pod else "",
                             "reason": reason, "message": message})

    @property
    def events(self) -> pd.DataFrame:
        """What the controllers did, oldest first (like ``kubectl get events``)."""
        return pd.DataFrame(self._events, columns=["time", "app", "instance", "reason", "message"])

    @property
    def timeline(self) -> pd.DataFrame:
        """Per tick and app: desired, running and ready instance counts."""
        return pd.DataFrame(self._timeline, columns=["time", "app", "desired", "running", "ready"])

    def status(self) -> pd.DataFrame:
        """One row per instance: app, version, state, ready, restarts, next restart."""
        rows = []
        for app in self.apps.values():
            for pod in app.pods.values():
                state = "Running" if pod.instance.running else ("Stopped" if app.stopped else "CrashLoopBackOff")
                rows.append({"app": app.name, "instance": pod.name, "url": pod.instance.url, "version": pod.version,
                             "state": state, "ready": self.is_ready(pod), "restarts": pod.restarts,
                             "restart_at": pod.restart_at})
        return pd.DataFrame(rows, columns=["app", "instance", "url", "version", "state", "ready", "restarts",
                                           "restart_at"])


class _Same:
    """A factory that hands every instance the same app object (an app given as an object, not a factory)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self) -> Any:
        return self.app

    def __repr__(self) -> str:
        return f"_Same({self.app!r})"
