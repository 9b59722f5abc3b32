"""The order system's decomposition as a choice: merge two of its services into one deployable unit, or not.

A merged unit keeps both services' code and APIs (``http://history.svc``
still answers) but runs them as one: one set of instances, one deploy, one
fate (:mod:`labsvc.core.colocate`). What that costs or buys is measured the
way everything in the capstone is: a chaos experiment under the users'
traffic. :func:`crash_experiment` crashes one service's only instance for the
`during` window; :func:`labsvc.capstone.compare_decompositions` runs it on the
reference decomposition and on merged ones, side by side.

>>> units(merge=[("orders", "history")])
(('catalog',), ('inventory',), ('payment',), ('orders', 'history'), ('broker',), ('delivery',), ('gateway',))
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from labsvc.core.errors import ConfigurationError

__all__ = ["SERVICES", "MERGEABLE", "check_merge", "units", "crash_experiment"]

#: The system's services, in the order the network adds them.
SERVICES = ("catalog", "inventory", "payment", "orders", "broker", "history", "delivery", "gateway")
#: The services of ours that can share a unit. The catalog is deployed release by release (the bad-deploy
#: experiment), the payment provider is someone else's system, the broker and the gateway are infrastructure.
MERGEABLE = ("orders", "inventory", "history", "delivery")
_WHY_NOT = {
    "catalog": "the catalog is deployed release by release on its own (the bad-deploy and canary experiments)",
    "payment": "payment is the external provider's system, not ours to deploy",
    "broker": "the broker is infrastructure the services share, not a service of the shop",
    "gateway": "the gateway is the system's entry point, not a business service",
}


def check_merge(merge: Iterable[Iterable[str]] | None) -> tuple[tuple[str, ...], ...]:
    """The merged groups, checked: each a tuple of two or more mergeable services, no service in two groups."""
    if merge is None:
        return ()
    if isinstance(merge, (str, bytes)) or any(isinstance(g, (str, bytes)) for g in merge):
        raise ConfigurationError(f"merge={merge!r}: give pairs of services, e.g. merge=[('orders', 'history')]")
    groups = tuple(tuple(group) for group in merge)
    seen: set[str] = set()
    for group in groups:
        if len(group) < 2:
            raise ConfigurationError(f"merge group {group!r}: a unit merges at least two services")
        for name in group:
            if name in _WHY_NOT:
                raise ConfigurationError(f"{name!r} cannot be merged: {_WHY_NOT[name]}; merge among {MERGEABLE}")
            if name not in MERGEABLE:
                raise ConfigurationError(f"{name!r} is not a service of the order system; merge among {MERGEABLE}")
            if name in seen:
                raise ConfigurationError(f"{name!r} is in two merge groups; put it in one unit only")
            seen.add(name)
    return groups


def units(merge: Iterable[Iterable[str]] | None = None) -> tuple[tuple[str, ...], ...]:
    """The deployable units: one per service, except that each merged group is one unit (at its first member's place)."""
    groups = check_merge(merge)
    merged_into = {name: group for group in groups for name in group}
    out: list[tuple[str, ...]] = []
    for name in SERVICES:
        group = merged_into.get(name, (name,))
        if group not in out:
            out.append(group)
    return tuple(out)


def crash_experiment(service: str) -> dict:
    """A chaos experiment (a Chaos Toolkit dict) that crashes ``service``'s first instance for the `during` window.

    Its steady-state hypothesis is the capstone's own (the SLOs); the rollback starts the instance again.
    """
    from labsvc.capstone import experiments

    crashable = [s for s in SERVICES if s not in ("broker", "gateway")]
    if service not in crashable:
        raise ConfigurationError(f"crash_experiment({service!r}): crash one of {crashable}")
    spec = copy.deepcopy(experiments.spec("instance_crash"))
    instance = f"{service}-1"
    spec["title"] = f"losing the {service} service's instance"
    spec["description"] = f"{instance} crashes and stays down for the `during` window, then starts again."
    spec["method"] = [{"type": "action", "name": f"crash {instance}", "provider": {
        "type": "python", "module": "labsvc.chaos.activities", "func": "crash", "arguments": {"target": instance}}}]
    spec["rollbacks"] = [{"type": "action", "name": f"start {instance} again", "provider": {
        "type": "python", "module": "labsvc.chaos.activities", "func": "start_instance",
        "arguments": {"instance": instance}}}]
    return spec
