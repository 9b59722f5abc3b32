"""Checkers for notebook 00 (start here)."""

from __future__ import annotations

import math

import pandas as pd

from ..course import Feedback, exercise


@exercise("00.instance-url")
def instance_url(answer: str) -> Feedback:
    if not isinstance(answer, str):
        return Feedback(False, "give the URL as a string, e.g. 'http://something.svc'")
    if answer.rstrip("/") == "http://catalog-2.svc":
        return Feedback(True, "each instance has its own URL; http://catalog.svc lets the balancer choose.")
    if answer.rstrip("/") == "http://catalog.svc":
        return Feedback(False, "that is the service URL (the balancer picks an instance); the question asks for one instance")
    return Feedback(False, "instances are named <service>-<number>; look at the 'url' column of net.status()")


def _instance_calls(calls: pd.DataFrame, instance: str) -> pd.DataFrame:
    return calls[(calls["instance"] == instance) & (calls["status"] > 0)]


@exercise("00.inject-latency")
def inject_latency(answer: float, calls: pd.DataFrame) -> Feedback:
    mine = _instance_calls(calls, "inventory-1")
    slow = mine[mine["fault"] == "latency"]
    if len(slow) < 10:
        return Feedback(False, f"the call log has {len(slow)} calls to inventory-1 with injected latency; make at least 10")
    measured = slow["duration"].median() * 1000
    if measured < 50:
        return Feedback(False, f"the median hop took {measured:.1f} ms: inject at least 50 ms on inventory-1")
    if not isinstance(answer, (int, float)) or math.isnan(answer) or abs(answer - measured) > max(1.0, 0.05 * measured):
        return Feedback(False, f"read the median of the 'duration' column (in ms) for those calls; it is not {answer!r}")
    return Feedback(True, f"median {measured:.1f} ms: the injected delay plus the service's own time.")


@exercise("00.error-rate")
def error_rate(answer: float, calls: pd.DataFrame) -> Feedback:
    mine = calls[calls["callee"] == "catalog"]
    if len(mine) < 100:
        return Feedback(False, f"send at least 100 requests to catalog (the call log has {len(mine)})")
    observed = float((mine["status"] >= 500).mean())
    if not isinstance(answer, (int, float)) or abs(answer - observed) > 1e-9:
        return Feedback(False, "compute the share of calls to catalog whose status is 500 or more from the call log")
    injected = 0.25
    band = 3 * math.sqrt(injected * (1 - injected) / len(mine))
    if abs(observed - injected) > band:
        return Feedback(False, f"observed {observed:.2f}, far from 0.25: inject error_rate=0.25 on 'catalog' and clear the log first")
    return Feedback(True, f"observed {observed:.3f} for an injected 0.25: a seeded coin flip per call, so the same seed repeats it.")
