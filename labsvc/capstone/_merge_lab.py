"""Notebook 14's decomposition lab: crash a service under the reference decomposition and under merged ones.

>>> await compare_decompositions({"reference": None, "orders + history": [("orders", "history")]})  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from labsvc.capstone._config import RESILIENCE_ON
from labsvc.capstone._decomposition import check_merge, crash_experiment, units
from labsvc.capstone._system import OrderSystem, run_chaos
from labsvc.chaos import load_experiment

__all__ = ["compare_decompositions", "checkout_hops"]


async def compare_decompositions(decompositions: dict[str, Any], crash: str = "orders", *, seed: int = 0,
                                 rate: float = 60.0, name: str = "decomposition") -> pd.DataFrame:
    """Crash ``crash`` under each decomposition (``{label: merge}``; ``None`` is the reference) and compare.

    One row per decomposition: its deployable units, each journey's
    availability while the service was down, and the hops one checkout
    made across the network when nothing was broken (a merged pair still
    calls over HTTP inside its unit, so hops between them are counted as
    ``hops_inside_units``).
    """
    experiment = load_experiment(crash_experiment(crash))
    rows = []
    for label, merge in decompositions.items():
        report = await run_chaos(experiment, RESILIENCE_ON, seed=seed, rate=rate,
                                 name=f"{name}-{len(rows)}", merge=merge)
        during = report.probes.query("phase == 'during'").set_index("probe")["value"]
        hops = await checkout_hops(merge, seed=seed, name=f"{name}-hops-{len(rows)}")
        rows.append({"decomposition": label, "crashed": crash, "units": len(units(merge)),
                     "merged": "; ".join(" + ".join(g) for g in check_merge(merge)) or "none",
                     "browse": during["browse availability"], "checkout": during["checkout availability"],
                     "history": during["history availability"], **hops})
    return pd.DataFrame(rows).set_index("decomposition")


async def checkout_hops(merge: Any = None, *, seed: int = 0, name: str = "decomposition-hops") -> dict[str, int]:
    """One checkout on a healthy system: the calls on its trace, and how many of them stayed inside one unit."""
    system = OrderSystem(seed=seed, name=name, merge=merge)
    async with system:
        system.net.reset_calls()
        client = system.net.client("users")
        await client.post("http://gateway.svc/orders/orders", json={"customer_id": 1, "product_id": 1, "quantity": 1})
        calls = system.net.calls
    trace = calls.loc[calls["caller"] == "users", "trace_id"].iloc[0]
    calls = calls[calls["trace_id"] == trace]  # the checkout's own calls, not the pumps'
    unit_of = {n: u[0] for u in units(merge) for n in u}
    inside = sum(1 for caller, callee in zip(calls["caller"], calls["callee"])
                 if unit_of.get(caller, caller) == unit_of.get(callee, callee))
    return {"checkout_calls": len(calls), "hops_inside_units": inside}
