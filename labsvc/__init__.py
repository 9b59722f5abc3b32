"""labsvc: run microservice patterns in a notebook, measure them, break them.

How the package is put together
===============================

The core, in the order a learner meets it:

- :class:`Network` (:mod:`labsvc.network`): service instances with unique
  URLs (``http://catalog-2.svc``; ``http://catalog.svc`` for the balancer),
  the in-process transport (:mod:`labsvc.asgi`, lifespans included) or real
  uvicorn processes (:mod:`labsvc.process`, :mod:`labsvc.serve`), injected
  faults (:mod:`labsvc.faults`), the call log (:mod:`labsvc.calllog`), and
  the services' structured log lines, correlated with the call log by trace
  id (:mod:`labsvc.logs`, ``net.logs``);
- :func:`create_service` and :func:`http` (:mod:`labsvc.service`,
  :mod:`labsvc.problems`): a FastAPI service with probes, RFC 9457 errors and
  an outbound client (:mod:`labsvc.client`);
- :func:`open_loop` and :func:`closed_loop` (:mod:`labsvc.load`): load;
- :class:`FakeClock` (:mod:`labsvc.clock`): time that tests control.

The patterns, one small module or package each, written by hand because the
pattern is the lesson: :mod:`labsvc.balancing`, :mod:`labsvc.discovery`
(Eureka semantics), :mod:`labsvc.resilience` (resilience4j semantics),
:mod:`labsvc.messaging` (RabbitMQ-like acknowledgements and dead letters),
:mod:`labsvc.gateway` with :mod:`labsvc.security` (PyJWT),
:mod:`labsvc.config` (config server, live refresh, bus refresh),
:mod:`labsvc.auth` (client-credentials tokens, scopes, key rotation) with
:mod:`labsvc.tls` (mutual TLS in process mode),
:mod:`labsvc.api` (contract first), :mod:`labsvc.data` (database per
service, CQRS, saga), :mod:`labsvc.design` (domain model, decomposition
metrics, decompositions deployed as topologies), :mod:`labsvc.platform`
(Kubernetes semantics: probes, self-healing, HPA, rollouts, batch jobs, and
the export to Compose, Kubernetes and Cloud Foundry) and :mod:`labsvc.chaos`
(chaos experiments in Chaos Toolkit's format, run under open-loop traffic,
with verdicts computed from what users saw). The example domain is
:mod:`labsvc.shop`; :mod:`labsvc.experiments` holds the harnesses behind
notebooks 07-10 and 13; :mod:`labsvc.observability` (``net.observe()``) adds
OpenTelemetry traces, RED metrics, log queries and SLO alerts (notebook 11);
:mod:`labsvc.capstone` is the order-management system of notebook 14;
:mod:`labsvc.course` and :mod:`labsvc.exercises` check the exercises, in the
notebook's language; :mod:`labsvc.translations` keeps the Korean edition
(``notebooks/ko/``) in step with the English notebooks and :mod:`labsvc.fonts`
draws Hangul in plots; :mod:`labsvc.studio` has widgets for live demos.

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
   exceptions (:mod:`labsvc.errors`) that say how to fix them.
9. Re-running is safe: a network replaces a running one of the same name, and
   stopping it stops every task, thread and process it started.

Names are imported lazily, so ``python -m labsvc serve`` starts fast.
"""

from __future__ import annotations

from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Network": "network",
    "Service": "network",
    "Instance": "network",
    "Client": "client",
    "Fault": "faults",
    "Fixed": "faults",
    "Uniform": "faults",
    "Exponential": "faults",
    "Normal": "faults",
    "LogNormal": "faults",
    "create_service": "service",
    "http": "service",
    "Problem": "problems",
    "problem": "problems",
    "open_loop": "load",
    "closed_loop": "load",
    "LoadRun": "load",
    "Clock": "clock",
    "FakeClock": "clock",
    "MonotonicClock": "clock",
    "LabsvcError": "errors",
    "ConfigurationError": "errors",
    "UnknownServiceError": "errors",
    "UnknownInstanceError": "errors",
    "DuplicateInstanceError": "errors",
    "InstanceDownError": "errors",
    "PartitionError": "errors",
    "NetworkStateError": "errors",
    "ProcessModeError": "errors",
    "check": "course",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
