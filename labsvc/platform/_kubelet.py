"""The node agent's part of the platform: probes, restarts after a back-off, and graceful termination.

:class:`Kubelet` works for one :class:`~labsvc.platform.Platform` and on
its pods:

- :meth:`Kubelet.run` is one pass over an app: a dead instance is restarted
  once its back-off delay is over (a delay of 0 restarts it in the same
  pass), the probes that are due run, and a failed liveness or startup
  probe kills the instance (the back-off path restarts it);
- :meth:`Kubelet.terminate` deletes one pod the way Kubernetes does
  ("Termination of Pods"): the pod stops counting as available at once,
  but the Services' endpoints learn of it only ``endpoint_delay`` seconds
  later (kube-proxy, DNS and ingress controllers watch the API and update
  their own tables asynchronously), so traffic keeps arriving meanwhile.
  The container first runs its ``preStop`` sleep (it keeps serving), then
  gets SIGTERM: it closes its listener (a new connection is refused) and
  finishes the requests it holds, for at most the grace period
  (``terminationGracePeriodSeconds``, counted from the start of the
  deletion, default 30 s). Its address leaves the network only once the
  endpoints have caught up: until then a request routed there is refused.

Without a ``preStop`` sleep the container stops while the endpoints still
point at it, and the requests sent to it in that gap are lost; with a
``preStop`` sleep at least as long as the endpoints' delay, none are.

Termination runs on the network's time (simulated or real), where the
requests live; the probes and back-offs run on the platform's clock.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx

from labsvc.core.apps import AppSpec
from labsvc.platform._metrics import PROBE_CALLER

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.platform._controller import App, Platform, Pod
    from labsvc.platform._probes import ProbeTracker

__all__ = ["Kubelet", "DRAIN_POLL"]

DRAIN_POLL = 0.005   # seconds between two looks at the requests a terminating instance still holds


class Kubelet:
    """Probes, restarts and terminations for the pods of one platform (see the module docstring)."""

    def __init__(self, platform: "Platform") -> None:
        self.platform = platform

    # ------------------------------------------------------------------ restarts and probes
    async def run(self, app: "App") -> None:
        """One pass over ``app``'s instances: restart those whose back-off is over, run the probes due."""
        p = self.platform
        now = p.clock.now()
        for pod in list(app.live_pods()):
            if app.stopped or pod.gave_up:
                continue
            if not pod.instance.running:
                if pod.restart_at is None:
                    delay = pod.backoff.next_delay()
                    if delay is None:
                        pod.gave_up = True
                        p.event(app, pod, "GaveUp", f"crashed {pod.backoff.failures} times; not restarted again")
                        continue
                    pod.restart_at = now + delay
                    p.event(app, pod, "BackOff", f"restarting in {delay:g} s ({type(pod.backoff).__name__})")
                if now >= pod.restart_at:
                    await self.start(app, pod, fresh=True)
                    pod.restarts += 1
                    p.event(app, pod, "Restarted", f"restart #{pod.restarts}")
                continue
            await self.probe(app, pod)

    async def probe(self, app: "App", pod: "Pod", *, force: bool = False) -> None:
        """Run the probes of ``pod`` that are due (all of them with ``force``) and act on a changed verdict."""
        p = self.platform
        now = p.clock.now()
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
            results = tracker.probe.success_threshold if verdict else tracker.probe.failure_threshold
            p.event(app, pod, f"{kind.capitalize()} {'passed' if verdict else 'failed'}",
                    f"{tracker.probe.path} after {results} result(s)")
            if not verdict and kind in ("liveness", "startup"):
                # The kubelet kills the container; the back-off path restarts it.
                await p.network.crash(pod.name)
                p.event(app, pod, "Killing", f"{kind} probe failed")
                return

    async def _probe_once(self, pod: "Pod", tracker: "ProbeTracker") -> bool:
        client = self.platform.network.client(PROBE_CALLER, timeout=tracker.probe.timeout)
        try:
            r = await client.get(pod.instance.url + tracker.probe.path)
        except httpx.HTTPError:
            return False
        if tracker.probe.check == "port":    # a connection was accepted: whatever the answer, the port is open
            return True
        return 200 <= r.status_code < 400

    async def start(self, app: "App", pod: "Pod", *, fresh: bool) -> None:
        """Start ``pod``'s instance (from a clean state when ``fresh``), arm its probes, probe it once."""
        p = self.platform
        inst = pod.instance
        if fresh and p.network.mode == "inprocess":
            inst.app = AppSpec.of(pod.app_spec).new_app()  # a restarted container starts from a clean state
        if not inst.running:
            app.service.set_app(p.on_network(pod.app_spec))   # process mode starts whatever the service's app is now
            await p.network.start_instance(inst.name)
        pod.restart_at = None
        pod.in_rotation = True
        pod.backoff.started()
        self.arm(app, pod)
        await self.probe(app, pod, force=True)   # initialDelaySeconds 0: the first probe runs at start

    def arm(self, app: "App", pod: "Pod") -> None:
        """Give ``pod`` fresh probe trackers for the probes its manifest declares."""
        from labsvc.platform._probes import ProbeTracker

        now = self.platform.clock.now()
        pod.trackers = {k: ProbeTracker(probe, now) for k in ("startup", "liveness", "readiness")
                        if (probe := app.manifest.health_probe(k)) is not None}

    # ------------------------------------------------------------------ termination
    def begin_termination(self, app: "App", pod: "Pod") -> None:
        """Mark ``pod`` terminating: no longer available, still in the endpoints for ``endpoint_delay`` s."""
        net = self.platform.network
        pod.deleting = True
        pod.terminating_since = net.now()
        pod.leaves_endpoints_at = pod.terminating_since + self.platform.endpoint_delay

    async def terminate(self, app: "App", pod: "Pod", *, graceful: bool = True) -> None:
        """Delete ``pod`` (see the module docstring); ``graceful=False`` kills it at once (SIGKILL)."""
        p = self.platform
        net = p.network
        m = app.manifest
        t0 = pod.terminating_since if pod.terminating_since is not None else net.now()
        deadline = t0 + m.termination_grace_period
        if graceful and pod.instance.running:
            pre_stop = min(m.pre_stop, m.termination_grace_period)
            if pre_stop > 0:
                p.event(app, pod, "PreStop", f"sleep {pre_stop:g} s (still serving)")
                await asyncio.sleep(pre_stop)           # the container keeps serving
            p.event(app, pod, "Killing", "SIGTERM: stop accepting, finish the requests in flight")
            await net.stop_instance(pod.name)           # the listener closes: new connections are refused
            while pod.instance.outstanding > 0 and net.now() < deadline:
                await asyncio.sleep(DRAIN_POLL)         # requests already inside finish
        elif pod.instance.running:
            p.event(app, pod, "Killing", "SIGKILL")
            await net.crash(pod.name)
        wait = (pod.leaves_endpoints_at or 0.0) - net.now()
        if wait > 0:
            await asyncio.sleep(wait)                   # its address stays in the endpoints until they catch up
        await net.remove_instance(pod.name)
        app.pods.pop(pod.name, None)
        p.event(app, pod, "Deleted", pod.version)
