"""Checkers for notebook 08 (service discovery and load balancing)."""

from __future__ import annotations

import math

from ..course import Feedback, exercise


@exercise("08.stale-bound")
def stale_bound(answer, lab) -> Feedback:
    registry, client = getattr(lab, "registry", None), getattr(lab, "discovery", None)
    if registry is None or client is None:
        return Feedback(False, "pass the DiscoveryLab you built: check(..., lab=crash_lab)")
    truth = registry.lease_duration + registry.eviction_interval + client.refresh_interval
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isclose(answer, truth):
        return Feedback(False, "add up three waits: the lease running out without heartbeats, the eviction task "
                               "getting round to it, and the client's cache refreshing")
    return Feedback(True, f"{truth:g} s with these settings (lease {registry.lease_duration:g} + eviction "
                          f"{registry.eviction_interval:g} + refresh {client.refresh_interval:g}). Real Eureka adds "
                          f"the lease twice by mistake, so it can be about 90 s longer still.")


@exercise("08.silent-instances")
def silent_instances(answer, registry) -> Feedback:
    n = registry.status()["instances"] if hasattr(registry, "status") else 0
    if n != 10:
        return Feedback(False, f"register 10 instances in a fresh ServiceRegistry and pass it (it holds {n})")
    per_instance = registry.expected_renewals_per_minute / n
    threshold = registry.renewal_threshold
    # Self-preservation switches on when renewals fall to the threshold or below.
    truth = max(k for k in range(n + 1) if (n - k) * per_instance > threshold) if n * per_instance > threshold else 0
    if isinstance(answer, bool) or not isinstance(answer, int) or answer != truth:
        return Feedback(False, f"the registry expects {registry.expected_renewals_per_minute:g} renewals a minute and "
                               f"keeps evicting only above {threshold}; each silent instance takes away "
                               f"{per_instance:g}")
    return Feedback(True, f"{truth}: with {truth + 1} silent instances renewals drop to "
                          f"{(n - truth - 1) * per_instance:g} a minute, at or below the threshold of {threshold}, "
                          f"and the registry stops evicting.")


@exercise("08.join-delay")
def join_delay(answer, result) -> Feedback:
    events = getattr(result, "events", None)
    if events is None or not (events["event"] == "join").any():
        return Feedback(False, "pass the result of a run with a join step, e.g. lab.run([(0.3, 'join')])")
    join = events[events["event"] == "join"].iloc[0]
    r = result.requests
    served = r[(r["instance"] == join["instance"]) & r["ok"] & (r["time"] >= join["time"])]
    if served.empty:
        return Feedback(False, f"{join['instance']} never got a request: run the load longer after the join")
    truth = (float(served["time"].min()) - float(join["time"])) * result.scale
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isclose(answer, truth, rel_tol=0.02,
                                                                                             abs_tol=0.5):
        return Feedback(False, "subtract the join event's time from the time of the first request the new instance "
                               "answered, and multiply by result.scale to get registry seconds")
    return Feedback(True, f"{truth:.0f} registry seconds: the new instance registered at once, but the caller only "
                          f"learned of it at its next cache refresh (every 30 s).")


@exercise("08.ewma-share")
def ewma_share(answer, table) -> Feedback:
    if not hasattr(table, "columns") or set(table.get("balancer", [])) != {"ewma"}:
        return Feedback(False, "pass the per-instance table of balancer_experiment('ewma', ...): the first of the two "
                               "values it returns")
    slow = table.iloc[-1]  # the last instance is the slow one
    truth = float(slow["share"])
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isclose(answer, truth,
                                                                                             abs_tol=1e-9):
        return Feedback(False, f"read the 'share' of {slow['instance']} (the slow instance) in the table")
    return Feedback(True, f"{truth:.1%} to the slow instance: EWMA also remembers how slow each instance was, "
                          f"not only how many calls it has in flight.")
