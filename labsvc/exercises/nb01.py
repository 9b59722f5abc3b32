"""Checkers for notebook 01 (monolith vs microservices)."""

from __future__ import annotations

import pandas as pd

from ..course import Feedback, exercise
from ..shop import FEATURES


@exercise("01.blast-radius")
def blast_radius(answer, result) -> Feedback:
    if result.design != "microservices":
        return Feedback(False, "run module_crash_experiment('microservices', 'inventory') and pass its result")
    answer = set(answer) if not isinstance(answer, str) else {answer}
    unknown = answer - set(FEATURES)
    if unknown:
        return Feedback(False, f"{sorted(unknown)} are not features; they are {list(FEATURES)}")
    table = result.availability.set_index("feature")
    hurt = set(table.index[table["availability"] < 0.99])
    expected = {f for f, spec in FEATURES.items() if "inventory" in spec["modules"]}
    if hurt != expected:
        return Feedback(False, f"the experiment you passed hurt {sorted(hurt)}: crash 'inventory', not another module")
    if answer != hurt:
        return Feedback(False, "look at the availability column: which features dropped below 99 %?")
    return Feedback(True, f"only {sorted(hurt)} need inventory; the others never call it, so they kept working.")


@exercise("01.hops")
def hops(answer, calls: pd.DataFrame) -> Feedback:
    first = calls[(calls["caller"] == "users") & (calls["method"] == "POST") & (calls["status"] == 201)]
    if first.empty:
        return Feedback(False, "the call log has no successful checkout (POST /orders from 'users'); place one first")
    sizes = calls[calls["trace_id"].isin(first["trace_id"])].groupby("trace_id").size()
    expected = int(sizes.median())
    if answer != expected:
        return Feedback(False, "group the call log by trace_id and count the rows of a checkout's trace")
    return Feedback(True, f"{expected} hops for one checkout: every arrow is a network call that can be slow or fail.")


@exercise("01.redeploy")
def redeploy(answer, results: dict) -> Feedback:
    lost = {d: int((~r.requests["ok"]).sum()) for d, r in results.items()}
    if set(lost) != {"monolith", "microservices"}:
        return Feedback(False, "pass both results: {'monolith': ..., 'microservices': ...}")
    worse = max(lost, key=lost.get)
    if answer != worse:
        return Feedback(False, f"count the failed requests of each design (the 'ok' column) and compare: {lost}")
    return Feedback(True, f"failed requests during the redeploy: {lost}.")
