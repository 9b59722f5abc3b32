"""The built-in actions and probes an experiment can name (``module: labsvc.chaos.activities``).

Actions change the system through the network's own API (the same calls a
notebook makes: :meth:`labsvc.Network.crash`, :meth:`~labsvc.Network.fault`,
:meth:`~labsvc.Network.partition` ...). Probes measure the traffic the runner
sent during the current window: ``window`` is that traffic as a DataFrame
(one row per user request: ``label``, ``sent``, ``latency`` in seconds,
``status``, ``ok``), so a probe's value is computed from what users saw.

Every function here is one Chaos Toolkit can check: what the runner passes
(``net``, ``window``) has a default, and the rest are keyword arguments, so
``chaos validate`` binds an activity's ``arguments`` to the signature as it
does for any extension. Outside the labsvc runner (``chaos run`` against a
real system) there is no network to act on: the functions say so, and a real
system's experiment uses ``process`` or ``http`` activities instead.

A function of your own works the same way: give its ``module`` in the
experiment; parameters named ``net`` or ``window`` (or a name passed in
``run_experiment(..., extras=)``) are filled in by the runner.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from labsvc.core.errors import ConfigurationError

__all__ = ["ACTIONS", "PROBES", "crash", "restart", "stop_instance", "start_instance", "fault", "clear_faults",
           "partition", "heal", "availability", "latency_ms", "error_rate", "requests"]


def _on_network(net: Any, what: str) -> Any:
    if net is None:
        raise ConfigurationError(
            f"{what}() acts on a labsvc network and none was given: run the experiment with "
            f"labsvc.chaos.run_experiment(experiment, net, ...); against a real system (chaos run), write this "
            f"fault as a process or http activity (e.g. kill -9 of the container's main process)")
    return net


def _measured(window: Any, what: str) -> pd.DataFrame:
    if window is None:
        raise ConfigurationError(
            f"{what}() measures the users' traffic that labsvc.chaos.run_experiment records, and there is none "
            f"here: against a real system (chaos run), use an http probe, or labsvc.capstone.probes, which "
            f"sends its own sample of requests")
    return window


# ----------------------------------------------------------------- actions
async def crash(net: Any = None, *, target: str, restart_after: float | str | None = None) -> list[str]:
    """Crash a service's instances or one instance; with ``restart_after``, they come back after that long."""
    return await _on_network(net, "crash").crash(target, restart_after=restart_after)


async def restart(net: Any = None, *, target: str, rolling: bool = True) -> list[str]:
    """Redeploy ``target`` (rolling by default); returns the instances restarted."""
    return list((await _on_network(net, "restart").restart(target, rolling=rolling))["instance"])


async def stop_instance(net: Any = None, *, instance: str) -> str:
    """Stop one instance (it refuses connections until started)."""
    await _on_network(net, "stop_instance").stop_instance(instance)
    return instance


async def start_instance(net: Any = None, *, instance: str) -> str:
    """Start a stopped or crashed instance again."""
    await _on_network(net, "start_instance").start_instance(instance)
    return instance


def fault(net: Any = None, *, target: str, latency: Any = None, error_rate: float | None = None,
          hang: bool | None = None, down: bool | None = None) -> str:
    """Inject a fault on a service or an instance (see :meth:`labsvc.Network.fault`)."""
    return repr(_on_network(net, "fault").fault(target, latency=latency, error_rate=error_rate, hang=hang, down=down))


def clear_faults(net: Any = None, *, target: str | None = None) -> str:
    """Remove injected faults from ``target``, or every fault and partition."""
    _on_network(net, "clear_faults").clear_faults(target)
    return f"cleared {target or 'everything'}"


def partition(net: Any = None, *, a: str, b: str) -> str:
    """Cut the network between ``a`` and ``b`` both ways."""
    _on_network(net, "partition").partition(a, b)
    return f"{a} | {b}"


def heal(net: Any = None, *, a: str | None = None, b: str | None = None) -> str:
    """Remove the partition between ``a`` and ``b``, or every partition."""
    _on_network(net, "heal").heal(a, b)
    return f"healed {a} | {b}" if a else "healed all"


ACTIONS = {f.__name__: f for f in (crash, restart, stop_instance, start_instance, fault, clear_faults, partition, heal)}


# ------------------------------------------------------------------ probes
def _select(window: pd.DataFrame, journey: str | None) -> pd.DataFrame:
    if journey is None:
        return window
    if "label" not in window:
        raise ValueError(f"journey={journey!r}: this traffic has no journeys (no label column)")
    known = sorted(set(window["label"]))
    if journey not in known and len(window):
        raise ValueError(f"journey={journey!r} is not in the traffic; journeys: {known}")
    return window[window["label"] == journey]


def availability(window: pd.DataFrame | None = None, journey: str | None = None) -> float:
    """Share of the window's requests (of one ``journey``, or all) that got a 2xx/3xx answer."""
    rows = _select(_measured(window, "availability"), journey)
    return float(rows["ok"].mean()) if len(rows) else math.nan


def error_rate(window: pd.DataFrame | None = None, journey: str | None = None) -> float:
    """Share of the window's requests that failed (1 - availability)."""
    return 1.0 - availability(window, journey)


def latency_ms(window: pd.DataFrame | None = None, percentile: float = 95, journey: str | None = None) -> float:
    """The ``percentile``-th latency of the window's requests, in milliseconds (failed requests included)."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile={percentile!r} must be in (0, 100]")
    rows = _select(_measured(window, "latency_ms"), journey)
    return float(rows["latency"].quantile(percentile / 100) * 1000) if len(rows) else math.nan


def requests(window: pd.DataFrame | None = None, journey: str | None = None) -> int:
    """How many requests the window holds (a probe that the load really ran)."""
    return int(len(_select(_measured(window, "requests"), journey)))


PROBES = {f.__name__: f for f in (availability, error_rate, latency_ms, requests)}
