"""The core: a network of service instances, and everything it needs.

Nothing here imports anything outside ``labsvc.core``; the guide chapters
(``labsvc.discovery``, ``labsvc.resilience``, ...) build on it, and attach to
the network through :mod:`labsvc.core.hooks` where they need to act inside
it (``labsvc.observability`` does). In the order a request meets them:

- :mod:`~labsvc.core.network`: :class:`Network`, services and instances
  with unique URLs, their life cycle (start, stop, crash, restart);
- :mod:`~labsvc.core.apps`: what an app spec is (an app, a factory, ``"module:attr"``);
- :mod:`~labsvc.core.client`: the client a caller uses, trace ids;
- :mod:`~labsvc.core.hop`: resolve, inject faults, send, log: one request's way;
- :mod:`~labsvc.core.faults`: latency distributions and faults (seeded);
- :mod:`~labsvc.core.transport`: in-process (ASGI, :mod:`~labsvc.core.asgi`)
  or process mode (:mod:`~labsvc.core.process`, :mod:`~labsvc.core.serve`,
  :mod:`~labsvc.core.tls` for mutual TLS), behind one interface;
- :mod:`~labsvc.core.calllog` and :mod:`~labsvc.core.logs`: every hop and
  every log line, as DataFrames;
- :mod:`~labsvc.core.service` and :mod:`~labsvc.core.problems`: a FastAPI
  service with probes and RFC 9457 errors, and its outbound client;
- :mod:`~labsvc.core.load`: open- and closed-loop load;
- :mod:`~labsvc.core.clock` and :mod:`~labsvc.core.durations`: injectable
  time and durations as learners write them; :mod:`~labsvc.core.errors`;
- :mod:`~labsvc.core.balancer`: the balancer interface and round robin;
- :mod:`~labsvc.core.experiment` and :mod:`~labsvc.core.plots`: what every
  chapter's lab shares (the network's clock, schedules, latency plots).
"""

from __future__ import annotations

from labsvc.core.lazy import lazy_exports

_EXPORTS = {
    "Network": "network", "Service": "network", "Instance": "network", "InstanceContext": "network",
    "Client": "client", "AppSpec": "apps", "Instrumentation": "hooks", "Transport": "transport",
    "Fault": "faults", "Fixed": "faults", "Uniform": "faults", "Exponential": "faults", "Normal": "faults",
    "LogNormal": "faults", "create_service": "service", "http": "service", "Problem": "problems",
    "problem": "problems", "open_loop": "load", "closed_loop": "load", "LoadRun": "load", "Clock": "clock",
    "FakeClock": "clock", "MonotonicClock": "clock", "parse_duration": "durations", "Balancer": "balancer",
    "RoundRobin": "balancer", "LabsvcError": "errors", "ConfigurationError": "errors",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
