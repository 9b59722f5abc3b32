"""labsvc: run microservice patterns in a notebook, measure them, break them.

The core, in the order a learner meets it:

- :class:`Network` (:mod:`labsvc.network`): service instances with unique
  URLs, the in-process transport (or real processes), faults, the call log;
- :func:`create_service` and :func:`http` (:mod:`labsvc.service`): a FastAPI
  service with probes, problem-details errors and an outbound client;
- :func:`open_loop` and :func:`closed_loop` (:mod:`labsvc.load`): load;
- :class:`FakeClock` (:mod:`labsvc.clock`): time that tests control.

Names are imported lazily, so ``python -m labsvc serve`` starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labsvc' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
