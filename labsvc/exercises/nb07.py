"""Checkers for notebook 07 (sync and async communication)."""

from __future__ import annotations

import math

from ..course import Feedback, exercise

STYLES = ("sync", "async")


def _outage_runs(results, down: str) -> str | None:
    """Why ``results`` is not a pair of outage runs of ``down`` (None if it is)."""
    if not isinstance(results, dict) or set(results) != set(STYLES):
        return "pass the dict compare_styles(...) returned: {'sync': ..., 'async': ...}"
    for style, r in results.items():
        if getattr(r, "style", None) != style or not hasattr(r, "orders"):
            return "pass the dict compare_styles(...) returned, unchanged"
        if r.down != down:
            return f"the {style} run had {r.down or 'no service'} down; run it with down={down!r}"
    return None


@exercise("07.lost-orders")
def lost_orders(answer, results) -> Feedback:
    why = _outage_runs(results, "payment")
    if why:
        return Feedback(False, why)
    truth = {style: r.lost for style, r in results.items()}
    if not isinstance(answer, dict) or set(answer) != set(STYLES):
        return Feedback(False, "answer with a dict: {'sync': <orders lost>, 'async': <orders lost>}")
    if any(answer[s] != truth[s] for s in STYLES):
        return Feedback(False, "count, for each style, the orders whose 'completed' column is False "
                               "in outage[style].orders")
    return Feedback(True, f"sync lost {truth['sync']} orders, async {truth['async']}: the broker kept the orders "
                          f"placed during the outage until payment came back.")


@exercise("07.notification-down")
def notification_down(answer, results) -> Feedback:
    why = _outage_runs(results, "notification")
    if why:
        return Feedback(False, why)
    truth = {style: float(r.orders["accepted"].mean()) for style, r in results.items()}
    if not isinstance(answer, dict) or set(answer) != set(STYLES):
        return Feedback(False, "answer with a dict: {'sync': <share accepted>, 'async': <share accepted>}")
    try:
        close = all(math.isclose(float(answer[s]), truth[s], abs_tol=1e-6) for s in STYLES)
    except (TypeError, ValueError):
        close = False
    if not close:
        return Feedback(False, "take the mean of the 'accepted' column of each run's orders table")
    return Feedback(True, f"accepted: sync {truth['sync']:.0%}, async {truth['async']:.0%}. The synchronous chain is "
                          f"only as available as its last link, even one that is not needed to take the order; "
                          f"and payment charged cards for orders the user saw fail.")


@exercise("07.double-charges")
def double_charges(answer, result) -> Feedback:
    if getattr(result, "consumer", None) != "naive":
        return Feedback(False, "pass the result of delivery_experiment(idempotent=False, ...)")
    truth = int((result.ledger.groupby("order_id").size() > 1).sum())
    if isinstance(answer, bool) or not isinstance(answer, int) or answer != truth:
        return Feedback(False, "group result.ledger by order_id and count the orders with more than one charge")
    return Feedback(True, f"{truth} orders were charged more than once: each lost acknowledgement brought a message "
                          f"back, and a consumer that does not remember what it did does it again.")
