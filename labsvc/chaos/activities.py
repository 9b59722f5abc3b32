"""The built-in actions and probes an experiment can name without a ``module``.

Actions change the system through the network's own API (the same calls a
notebook makes: :meth:`labsvc.Network.crash`, :meth:`~labsvc.Network.fault`,
:meth:`~labsvc.Network.partition` ...). Probes measure the traffic the runner
sent during the current window: ``window`` is that traffic as a DataFrame
(one row per user request: ``label``, ``sent``, ``latency`` in seconds,
``status``, ``ok``), so a probe's value is computed from what users saw.

A function of your own works the same way: give its ``module`` in the
experiment; parameters named ``net`` or ``window`` (or a name passed in
``run_experiment(..., extras=)``) are filled in by the runner.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = ["ACTIONS", "PROBES", "crash", "restart", "stop_instance", "start_instance", "fault", "clear_faults",
           "partition", "heal", "availability", "latency_ms", "error_rate", "requests"]


# ----------------------------------------------------------------- actions
async def crash(net, target: str, restart_after: float | str | None = None) -> list[str]:
    """Crash a service's instances or one instance; with ``restart_after``, they come back after that long."""
    return await net.crash(target, restart_after=restart_after)


async def restart(net, target: str, rolling: bool = True) -> list[str]:
    """Redeploy ``target`` (rolling by default); returns the instances restarted."""
    return list((await net.restart(target, rolling=rolling))["instance"])


async def stop_instance(net, instance: str) -> str:
    """Stop one instance (it refuses connections until started)."""
    await net.stop_instance(instance)
    return instance


async def start_instance(net, instance: str) -> str:
    """Start a stopped or crashed instance again."""
    await net.start_instance(instance)
    return instance


def fault(net, target: str, latency: Any = None, error_rate: float | None = None, hang: bool | None = None,
          down: bool | None = None) -> str:
    """Inject a fault on a service or an instance (see :meth:`labsvc.Network.fault`)."""
    return repr(net.fault(target, latency=latency, error_rate=error_rate, hang=hang, down=down))


def clear_faults(net, target: str | None = None) -> str:
    """Remove injected faults from ``target``, or every fault and partition."""
    net.clear_faults(target)
    return f"cleared {target or 'everything'}"


def partition(net, a: str, b: str) -> str:
    """Cut the network between ``a`` and ``b`` both ways."""
    net.partition(a, b)
    return f"{a} | {b}"


def heal(net, a: str | None = None, b: str | None = None) -> str:
    """Remove the partition between ``a`` and ``b``, or every partition."""
    net.heal(a, b)
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


def availability(window: pd.DataFrame, journey: str | None = None) -> float:
    """Share of the window's requests (of one ``journey``, or all) that got a 2xx/3xx answer."""
    rows = _select(window, journey)
    return float(rows["ok"].mean()) if len(rows) else math.nan


def error_rate(window: pd.DataFrame, journey: str | None = None) -> float:
    """Share of the window's requests that failed (1 - availability)."""
    return 1.0 - availability(window, journey)


def latency_ms(window: pd.DataFrame, percentile: float = 95, journey: str | None = None) -> float:
    """The ``percentile``-th latency of the window's requests, in milliseconds (failed requests included)."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile={percentile!r} must be in (0, 100]")
    rows = _select(window, journey)
    return float(rows["latency"].quantile(percentile / 100) * 1000) if len(rows) else math.nan


def requests(window: pd.DataFrame, journey: str | None = None) -> int:
    """How many requests the window holds (a probe that the load really ran)."""
    return int(len(_select(window, journey)))


PROBES = {f.__name__: f for f in (availability, error_rate, latency_ms, requests)}
