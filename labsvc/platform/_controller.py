"""The platform: apps pushed from manifests, kept at their desired state by controllers.

:class:`Platform` sits on a :class:`labsvc.Network` (either mode). Each app
is one network service with its own URL (``http://<app>.svc``). One call to
:meth:`Platform.tick` is one pass of every controller, as Kubernetes runs
them:

- the *kubelet* part (:mod:`._kubelet`) probes each instance
  (:mod:`._probes`), takes an unready instance out of the balancer
  (:mod:`._endpoints`), kills an instance whose liveness probe fails,
  restarts a dead instance after its back-off delay (:mod:`._backoff`:
  Kubernetes' CrashLoopBackOff by default, Cloud Foundry's with
  ``backoff=CloudFoundryBackOff``), and terminates deleted pods gracefully
  (``preStop``, SIGTERM, drain) while their endpoints catch up;
- the *ReplicaSet* part (self-healing) adds or removes instances until the
  app has its desired count;
- the *HPA* part (:mod:`._hpa`) sets the desired count from a metric, once
  per sync period.

Time comes from the platform's clock: a :class:`labsvc.FakeClock` in tests,
by default the network's own clock (simulated time in-process: a 300 s
autoscaler window or a 5 minute back-off costs no wall time).
The clock and the seed are given to the platform (the seed defaults to its
network's) and handed down to what it makes: back-offs, probes, the HPA,
the endpoints' weighted draw.

Rollout strategies (:mod:`._rollout`) drive a platform through a small
public interface: :meth:`Platform.pod_spec`, :meth:`Platform.add_pod`,
:meth:`Platform.remove_pod`, :meth:`Platform.run_kubelet`, and on an app
:meth:`App.promote`, :attr:`App.endpoints` and :attr:`App.rolling_out`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import pandas as pd

from labsvc.core.apps import AppSpec, is_factory, shared
from labsvc.core.clock import Clock
from labsvc.core.experiment import NetworkClock
from labsvc.core.errors import ConfigurationError, NetworkStateError, UnknownServiceError
from labsvc.platform._backoff import CrashLoopBackOff, RestartBackOff
from labsvc.platform._batch import JobSpec
from labsvc.platform._endpoints import Endpoints
from labsvc.platform._hpa import SYNC_PERIOD, HorizontalPodAutoscaler
from labsvc.platform._kubelet import Kubelet
from labsvc.platform._manifest import AppManifest, ManifestError
from labsvc.platform._metrics import CallRateMetric
from labsvc.platform._probes import ProbeTracker

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.core.network import Instance, Network

__all__ = ["Platform", "App", "Pod"]

DRAIN_TIMEOUT = 30.0       # seconds a restarting instance may finish its requests in (terminationGracePeriodSeconds)


@dataclass
class Pod:
    """The platform's view of one instance: version, probes, restarts, back-off, termination."""

    instance: Instance
    version: str
    app_spec: Any
    backoff: RestartBackOff
    trackers: dict[str, ProbeTracker] = field(default_factory=dict)
    restart_at: float | None = None
    restarts: int = 0
    in_rotation: bool = True
    deleting: bool = False
    gave_up: bool = False                       # the back-off stopped restarting it (Cloud Foundry, 200 restarts)
    terminating_since: float | None = None      # network time the deletion began
    leaves_endpoints_at: float | None = None    # network time the endpoints stop routing to it

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

    @property
    def endpoints(self) -> Endpoints:
        """The app's :class:`Endpoints` balancer: set its ``weights`` (version -> share) to split traffic."""
        return self.service.balancer

    def promote(self, version: str, spec: Any) -> None:
        """Make ``version`` the stable one: instances the replica controller creates from now on run ``spec``.

        ``spec`` is what :meth:`Platform.pod_spec` returned for the new code.
        """
        self.version, self.spec = version, spec

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

    ``clock`` (default: the network's clock, simulated or real) is the
    controllers' time; ``seed`` (default: the network's seed) seeds each
    app's weighted draw between versions during a canary or a blue-green
    switch. ``backoff`` makes each instance's restart back-off (called with
    ``clock=``): :class:`~labsvc.platform.CrashLoopBackOff` (Kubernetes,
    the default) or :class:`~labsvc.platform.CloudFoundryBackOff`.
    ``endpoint_delay`` is how many seconds of network time the Services'
    endpoints take to stop routing to a pod being deleted (0: at once; on a
    cluster it is never quite 0, see :mod:`labsvc.platform._kubelet`).
    """

    def __init__(self, network: Network, *, clock: Clock | None = None, seed: Any = None,
                 backoff: Callable[..., RestartBackOff] = CrashLoopBackOff, endpoint_delay: float = 0.0) -> None:
        if isinstance(endpoint_delay, bool) or not isinstance(endpoint_delay, (int, float)) or endpoint_delay < 0:
            raise ConfigurationError(f"endpoint_delay={endpoint_delay!r}: seconds >= 0, e.g. 3")
        self.network = network
        self.clock = clock or NetworkClock(network)   # seconds since the network started: the call log's axis
        self.seed = network.seed if seed is None else seed   # seeds each app's weighted draw between versions
        self.backoff = backoff
        self.endpoint_delay = float(endpoint_delay)
        self.kubelet = Kubelet(self)
        self.apps: dict[str, App] = {}
        self.jobs: dict[str, JobSpec] = {}
        self._events: list[dict] = []
        self._timeline: list[dict] = []
        self._terminations: set[asyncio.Task] = set()

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
        spec = self.pod_spec(m.app)
        app.spec = spec
        self.network.add(m.name, self.on_network(spec), instances=max(1, m.instances))
        svc = self.network.service(m.name)
        svc.env = dict(m.env)
        svc.balancer = Endpoints(svc.balancer, self._in_endpoints_name, self._version_of, seed=f"{self.seed}/{m.name}")
        self.apps[m.name] = app
        for inst in svc.instances:
            pod = self._adopt(app, inst, m.version, spec)
            self.kubelet.arm(app, pod)
            if self.network.started:
                await self.kubelet.start(app, pod, fresh=False)
        if m.autoscaling is not None:
            self.autoscale(m.name, min_instances=m.autoscaling.min_instances,
                           max_instances=m.autoscaling.max_instances, target=m.autoscaling.target)
        self.event(app, None, "Pushed", f"{m.instances} instance(s) of {m.version}")
        if self.network.started:
            await self._reconcile(app)
        return app

    def pod_spec(self, app: Any) -> Any:
        """The spec this platform's instances of ``app`` run (an app, a factory or ``'module:attr'``).

        A factory (and, in process mode, anything: the child imports it)
        is kept as it is; in-process, an app object becomes
        :func:`labsvc.core.apps.shared`: every instance runs that object.
        Rollouts pass the result to :meth:`add_pod` and :meth:`App.promote`.
        """
        if self.network.mode == "process" or is_factory(app):
            return app
        return shared(app)

    def on_network(self, spec: Any) -> Any:
        """What the network is given for ``spec``: each instance runs its own lifespan.

        The network gives the instances of one app object one shared
        lifespan; here each instance runs its own (a new version's instances
        must not share the old version's), so a shared spec goes to the
        network as a factory that returns that same object.
        """
        if self.network.mode == "process" or is_factory(spec):
            return spec
        return AppSpec.of(spec).new_app

    def _adopt(self, app: App, instance: Instance, version: str, spec: Any) -> Pod:
        pod = Pod(instance, version, spec, self.backoff(clock=self.clock))
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
        self.event(app, None, "Scaled", f"desired {instances}")
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
        self.event(app, None, "Stopped", "")

    async def start(self, name: str) -> None:
        """Start a stopped app again."""
        app = self.app(name)
        app.stopped = False
        for pod in app.live_pods():
            await self.kubelet.start(app, pod, fresh=True)
        self.event(app, None, "Started", "")
        await self._reconcile(app)

    async def restart(self, name: str) -> None:
        """Restart one app's instances one at a time, each out of the balancer while it restarts."""
        app = self.app(name)
        for pod in list(app.live_pods()):
            pod.in_rotation = False
            await self._drain(pod)
            await self.network.stop_instance(pod.name)
            await self.kubelet.start(app, pod, fresh=True)
        self.event(app, None, "Restarted", "rolling")

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

    def _in_endpoints_name(self, name: str) -> bool:
        pod = self._pod(name)
        return pod is not None and self.in_endpoints(pod)

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

    def in_endpoints(self, pod: Pod) -> bool:
        """Whether the Services' endpoints still route to ``pod``.

        A ready pod is in them; a pod being deleted stays in them until the
        endpoints have caught up (``endpoint_delay`` seconds of network time
        after its deletion began), whatever its container does meanwhile.
        """
        if pod.deleting:
            return pod.leaves_endpoints_at is not None and self.network.now() < pod.leaves_endpoints_at
        return self.is_ready(pod)

    # ------------------------------------------------------------------ controllers
    async def tick(self) -> None:
        """One pass of every controller at the clock's current time."""
        if not self.network.started:
            raise NetworkStateError("the platform's network is not started; 'async with net:' first")
        for app in list(self.apps.values()):
            await self.run_kubelet(app)
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

    async def run_kubelet(self, app: App) -> None:
        """One kubelet pass over ``app``'s instances: restart those whose back-off is over, run the probes due."""
        await self.kubelet.run(app)

    async def _autoscale(self, app: App) -> None:
        if app.hpa is None or app.stopped or self.clock.now() < app._hpa_due:
            return
        app._hpa_due = self.clock.now() + SYNC_PERIOD
        current = len(app.live_pods())
        if current == 0:
            return
        desired = app.hpa.reconcile(current, app.metric(app))
        if desired != app.desired:
            self.event(app, None, "Autoscaled", f"{app.desired} -> {desired}")
            app.desired = desired

    async def _reconcile(self, app: App) -> None:
        """ReplicaSet: create or delete instances until the live count is the desired count."""
        if app.stopped or app.rolling_out:
            return
        live = app.live_pods()
        for _ in range(app.desired - len(live)):
            await self.add_pod(app, app.version, app.spec)
        if len(live) > app.desired:
            # Kubernetes deletes unready and newer pods first.
            victims = sorted(live, key=lambda p: (self.is_ready(p), -p.instance.index))[: len(live) - app.desired]
            for pod in victims:
                await self.remove_pod(app, pod)

    async def add_pod(self, app: App, version: str, spec: Any) -> Pod:
        """Start one more instance of ``app`` running ``spec`` (from :meth:`pod_spec`), labelled ``version``.

        Its probes run once at start, so it may be ready at once; it counts
        toward the app's instances like any other.
        """
        svc = app.service
        svc.set_app(self.on_network(spec))
        svc.env = dict(app.manifest.env)
        inst = await self.network.add_instance(app.name) if self.network.started else None
        if inst is None:
            raise NetworkStateError("start the network before scaling an app")
        pod = self._adopt(app, inst, version, spec)
        self.kubelet.arm(app, pod)
        await self.kubelet.probe(app, pod, force=True)
        self.event(app, pod, "Created", version)
        return pod

    async def remove_pod(self, app: App, pod: Pod, *, drain: bool = True) -> asyncio.Task:
        """Delete ``pod``: it stops counting at once and terminates in the background (see :mod:`._kubelet`).

        With ``drain`` (default) the container runs its ``preStop`` sleep,
        gets SIGTERM and finishes its requests; ``drain=False`` kills it at
        once. Either way the endpoints keep routing to it for
        ``endpoint_delay`` seconds. Returns the termination's task, on the
        network's loop; :meth:`terminated` waits for every termination.
        """
        self.kubelet.begin_termination(app, pod)
        self.event(app, pod, "Terminating", pod.version)
        task = self.network.spawn(self.kubelet.terminate(app, pod, graceful=drain), name=f"terminate {pod.name}")
        self._terminations.add(task)
        task.add_done_callback(self._terminations.discard)
        await asyncio.sleep(0)          # let it begin (a kill happens now)
        return task

    async def terminated(self) -> None:
        """Wait until every pod being deleted is gone (their tasks run on the network's time)."""
        while self._terminations:
            await asyncio.gather(*list(self._terminations))

    async def _drain(self, pod: Pod) -> None:
        # Let requests already inside finish, for at most DRAIN_TIMEOUT seconds of network time.
        deadline = self.network.now() + DRAIN_TIMEOUT
        while pod.instance.outstanding > 0 and self.network.now() < deadline:
            await asyncio.sleep(0.005)

    # ------------------------------------------------------------------ observing
    def event(self, app: App, pod: Pod | None, reason: str, message: str) -> None:
        """Record one event (what :attr:`events` lists), at the platform clock's time."""
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
                state = ("Terminating" if pod.deleting else "Running" if pod.instance.running else
                         "Stopped" if app.stopped else "Crashed" if pod.gave_up else "CrashLoopBackOff")
                rows.append({"app": app.name, "instance": pod.name, "url": pod.instance.url, "version": pod.version,
                             "state": state, "ready": self.is_ready(pod), "restarts": pod.restarts,
                             "restart_at": pod.restart_at})
        return pd.DataFrame(rows, columns=["app", "instance", "url", "version", "state", "ready", "restarts",
                                           "restart_at"])
