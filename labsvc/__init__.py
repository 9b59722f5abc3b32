"""labsvc: run microservice patterns in a notebook, measure them, break them.

How the package is put together
===============================

In layers, each importing only from those below it (``docs/architecture.md``):

- :mod:`labsvc.core`: :class:`Network` (service instances with unique URLs,
  ``http://catalog-2.svc``; ``http://catalog.svc`` for the balancer), its
  transports (in-process ASGI, or real uvicorn processes), the hop
  (resolve, inject faults, send, log), the call log and the services' log
  lines, clocks and simulated time, :func:`create_service` and
  :func:`http` (a FastAPI service with probes and RFC 9457 errors), and
  :func:`open_loop` / :func:`closed_loop`. It imports nothing above it;
  other packages attach through :mod:`labsvc.core.hooks`.
- One package per guide chapter, each with its notebook's experiments in
  ``lab`` and their plots in ``plots``, the pattern written by hand where
  the pattern is the lesson: :mod:`labsvc.design` (domain model,
  decomposition metrics), :mod:`labsvc.api` (contract first),
  :mod:`labsvc.data` (database per service, CQRS, sagas),
  :mod:`labsvc.messaging` (RabbitMQ-like acknowledgements and dead
  letters), :mod:`labsvc.discovery` (Eureka semantics, balancers),
  :mod:`labsvc.gateway`, :mod:`labsvc.resilience` (resilience4j
  semantics), :mod:`labsvc.observability` (OpenTelemetry traces, RED
  metrics, SLO alerts; ``net.observe()``), :mod:`labsvc.config`,
  :mod:`labsvc.auth` (tokens, JWT, mutual TLS), :mod:`labsvc.platform`
  (Kubernetes semantics and the export) and :mod:`labsvc.chaos`.
- :mod:`labsvc.shop` (the example domain) and :mod:`labsvc.capstone` (the
  order-management system of notebook 14).
- :mod:`labsvc.course`: exercise checks in the notebook's language,
  the Korean edition's translations, fonts, the Studio for live demos.

The rules the code keeps:

1. A service is a plain FastAPI app; ``python -m labsvc serve module:attr``
   serves it alone with uvicorn on 127.0.0.1.
2. Services talk only over HTTP through the network (or through the broker),
   and each owns its data.
3. The network is the seam: the same code runs in-process (default) and with
   ``mode="process"``; one shared test suite passes in both.
4. Faults live in the network and are seeded.
5. Every hop is recorded; measurements come from the call log.
6. Every time-based component takes a clock; tests use :class:`FakeClock`.
7. Experiments return DataFrames; plots are separate functions returning a
   matplotlib Figure.
8. Every HTTP error is a problem document; bad arguments raise specific
   exceptions (:mod:`labsvc.core.errors`) that say how to fix them.
9. Re-running is safe: a network replaces a running one of the same name, and
   stopping it stops every task, thread and process it started.

Names are imported lazily, so ``python -m labsvc serve`` starts fast.
"""

from __future__ import annotations

from labsvc.core.hooks import register_plugin
from labsvc.core.lazy import lazy_exports

__version__ = "0.2.0"

_EXPORTS = {
    "Network": "core.network",
    "Service": "core.network",
    "Instance": "core.network",
    "Client": "core.client",
    "Fault": "core.faults",
    "Fixed": "core.faults",
    "Uniform": "core.faults",
    "Exponential": "core.faults",
    "Normal": "core.faults",
    "LogNormal": "core.faults",
    "create_service": "core.service",
    "http": "core.service",
    "Problem": "core.problems",
    "problem": "core.problems",
    "open_loop": "core.load",
    "closed_loop": "core.load",
    "LoadRun": "core.load",
    "Clock": "core.clock",
    "FakeClock": "core.clock",
    "MonotonicClock": "core.clock",
    "LabsvcError": "core.errors",
    "ConfigurationError": "core.errors",
    "UnknownServiceError": "core.errors",
    "UnknownInstanceError": "core.errors",
    "DuplicateInstanceError": "core.errors",
    "InstanceDownError": "core.errors",
    "PartitionError": "core.errors",
    "NetworkStateError": "core.errors",
    "ProcessModeError": "core.errors",
    "check": "course",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

# net.observe() and net.spans reach labsvc.observability through these (the core never imports it).
register_plugin("observe", "labsvc.observability:observe")
register_plugin("span_frame", "labsvc.observability:span_frame")
