"""Service discovery and client-side load balancing, run on the network (notebook 08).

**Discovery.** :class:`DiscoveryLab` runs a registry service
(:func:`~labsvc.discovery.registry_app`, Eureka semantics, with its
read-only response cache) and a ``catalog`` service whose instances register
themselves over HTTP when they start and send a heartbeat every 30 s. The
caller, ``web``, finds catalog instances through a
:class:`~labsvc.discovery.DiscoveryClient` (a Eureka client's cache, fetched
every 30 s) and a :class:`~labsvc.discovery.ServerList` (Ribbon's balancer
list, refreshed from that cache every 30 s), and picks one round robin.
Instances can join, leave cleanly (they cancel their registration) or crash
(they just stop sending heartbeats), and the network between catalog and the
registry can be cut.

Every timer runs at Eureka's true default length on the network's
simulated clock: a run of ten minutes costs well under a second of wall
time, and one time axis serves the call log, the requests and the
registry's events. :meth:`DiscoveryResult.stale_window` takes a stale window
apart stage by stage; :func:`stale_sweep` measures it for many timer phases;
:func:`preservation_trial` runs a crash and a partition with self-preservation on.

**Balancing.** :func:`compare_balancers` runs the same open-loop load against
a service whose last instance is slow, once per balancer
(:mod:`labsvc.discovery.balancing`), and reports each instance's share of requests
and latency.

>>> lab = DiscoveryLab(instances=4, self_preservation=False, name="doc-lab")   # doctest: +SKIP
>>> result = await lab.run([(150, "crash", "catalog-4")], duration="8min")     # doctest: +SKIP
>>> result.stale_window("catalog-4")                                          # doctest: +SKIP
"""

from __future__ import annotations

import asyncio

import pandas as pd

# The discovery lab lives in ``_lab_registry``, the balancer comparison in
# ``_lab_balancers``, the plots in ``plots``; this module keeps the names
# notebook 08 and ``labsvc.experiments`` import from it.
from labsvc.discovery._lab_balancers import BALANCERS, BalancerComparison, balancer_experiment, compare_balancers
from labsvc.discovery._lab_registry import (
    ACTIONS,
    REGISTRY_URL,
    DiscoveryLab,
    DiscoveryResult,
    NoInstanceAvailable,
    stale_sweep,
)
from labsvc.discovery._lab_result import stale_bounds
from labsvc.discovery.plots import plot_balancers, plot_discovery, plot_stale_sweep
from labsvc.core.errors import ConfigurationError
from labsvc.core.experiment import seconds
from labsvc.core.simtime import experiment

# Not in __all__, but importable from here before the split:
from labsvc.discovery._lab_registry import SERVICE  # noqa: F401

__all__ = [
    "REGISTRY_URL",
    "ACTIONS",
    "NoInstanceAvailable",
    "DiscoveryLab",
    "DiscoveryResult",
    "stale_bounds",
    "stale_sweep",
    "plot_discovery",
    "plot_stale_sweep",
    "BALANCERS",
    "BalancerComparison",
    "balancer_experiment",
    "compare_balancers",
    "plot_balancers",
    "preservation_trial",
]


@experiment
async def preservation_trial(instances: int = 4, *, seed: int = 8, at: float = 150.0,
                             duration: float | str = "12min") -> pd.DataFrame:
    """Two labs of ``instances`` catalog instances with self-preservation on, side by side.

    In one the last instance crashes at ``at`` s, in the other a partition cuts
    every instance off from the registry at ``at`` s (they keep serving
    ``web``). One row per scenario: requests, errors, ``last_error_s``
    (network seconds, NaN without errors; ``event_s`` is when the crash or
    the partition happened), ``evicted`` (instances the registry evicted),
    ``preserving`` (whether self-preservation switched on after the event)
    and the run's ``duration_s``.
    """
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 2:
        raise ConfigurationError(f"instances={instances!r}: give a whole number of at least 2 (one of them crashes)")
    scenarios = {"crash": [(at, "crash", f"catalog-{instances}")], "partition": [(at, "partition")]}
    labs = {kind: DiscoveryLab(instances=instances, self_preservation=True, seed=seed,
                               name=f"preservation-{kind}-{instances}") for kind in scenarios}
    try:
        results = await asyncio.gather(*(labs[kind].run(steps, duration=duration) for kind, steps in scenarios.items()))
    finally:
        for lab in labs.values():
            await lab.stop()
    rows = []
    for kind, result in zip(scenarios, results):
        summary, events = result.summary(), result.events
        after = events[events["time"] >= at]
        rows.append({"scenario": kind, "instances": instances, "event_s": float(at),
                     "requests": int(summary["requests"]), "errors": int(summary["errors"]),
                     "last_error_s": float(summary["last_error"]),
                     "evicted": int((events["event"] == "evicted").sum()),
                     "preserving": bool((after["event"] == "self_preservation_on").any()),
                     "duration_s": seconds(duration, "duration")})
    return pd.DataFrame(rows)
