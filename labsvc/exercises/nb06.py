"""Checkers for notebook 06 (data per service, CQRS, sagas)."""

from __future__ import annotations

import inspect
from typing import Any

import pandas as pd

from ..course import Feedback, exercise
from ..data import SAGA_STEPS, expected_hops


def _size(total: float) -> str:
    return "large" if total >= 100 else "small"


@exercise("06.read-model-field")
def read_model_field(answer: Any, orders: Any = None) -> Feedback:
    """``answer``: the read model's rows (``await cqrs.views()``); ``orders``: the command side's (``await cqrs.orders()``)."""
    views = pd.DataFrame(answer) if not isinstance(answer, pd.DataFrame) else answer
    if orders is None:
        return Feedback(False, "pass the command side's orders too: check(..., views, orders=await cqrs.orders())")
    orders = pd.DataFrame(orders) if not isinstance(orders, pd.DataFrame) else orders
    if views.empty or "visible_at" not in views.columns or "order_id" not in views.columns:
        return Feedback(False, "pass the read model's rows: views = await cqrs.views()")
    if "size" not in views.columns:
        return Feedback(False, "the read model has no 'size' field yet: redeploy it with "
                               "await cqrs.redeploy_read_model(fields={'size': size}), then read the views again")
    if orders.empty:
        return Feedback(False, "the command side has no orders: place some first")
    by_id = views.set_index("order_id")
    missing = sorted(set(orders["id"]) - set(by_id.index))
    if missing:
        return Feedback(False, f"{len(missing)} order(s) are not in the read model yet (e.g. {missing[:3]}): "
                               f"await cqrs.converge() before reading the views")
    wrong = [int(o) for o, t in zip(orders["id"], orders["total"]) if by_id.loc[o, "size"] != _size(t)]
    if wrong:
        o = wrong[0]
        total = float(orders.set_index("id").loc[o, "total"])
        return Feedback(False, f"order {o} has total {total:.2f} and size {by_id.loc[o, 'size']!r}; "
                               f"it should be {_size(total)!r} (large from 100 on)")
    return Feedback(True, f"all {len(orders)} orders carry the new field. The command side never changed: a read "
                          f"model is shaped for its queries, and can be rebuilt from the events whenever that shape changes.")


@exercise("06.compensations")
def compensations(answer: Any, log: Any = None) -> Feedback:
    """``answer``: ``{step: compensation}`` for the steps that have one; ``log``: a saga run's log."""
    if log is None or not isinstance(log, pd.DataFrame) or "step" not in log.columns:
        return Feedback(False, "pass the saga log of a run: check(..., answer, log=saga_runs['all at once'].log)")
    if not isinstance(answer, dict):
        return Feedback(False, "answer with a dict {step: compensation}, e.g. {'reserve_stock': '...'}")
    truth = {s: c for s, c in zip(SAGA_STEPS["step"], SAGA_STEPS["compensation"]) if isinstance(c, str)}
    seen = set(log.loc[log["kind"] == "compensation", "step"])
    absent = sorted(set(truth.values()) - seen)
    if absent:
        return Feedback(False, f"this log never ran {absent}: pass the log of a run with faults of every kind "
                               f"(e.g. the 'all at once' scenario)")
    answer = {k: v for k, v in answer.items() if v is not None}
    unknown = sorted(set(answer) - set(SAGA_STEPS["step"]))
    if unknown:
        return Feedback(False, f"{unknown} are not steps; the steps are {list(SAGA_STEPS['step'])}")
    for step, compensation in truth.items():
        if answer.get(step) != compensation:
            # Point at an order in the learner's log where the step succeeded and was undone.
            done = log[(log["step"] == step) & (log["outcome"] == "ok")]["order_id"]
            undone = log[(log["kind"] == "compensation") & (log["order_id"].isin(done))]
            example = undone["order_id"].iloc[0] if len(undone) else None
            trail = (", ".join(f"{r.step} ({r.outcome})" for r in log[log["order_id"] == example].itertuples())
                     if example is not None else "")
            return Feedback(False, f"look again at '{step}': in order {example} the log reads {trail}"
                            if example is not None else f"look again at '{step}'")
    extra = sorted(set(answer) - set(truth))
    if extra:
        return Feedback(False, f"{extra} need no compensation: nothing runs after the last step")
    return Feedback(True, "each compensation undoes one step, and they run in reverse order: refund, then release, "
                          "then cancel. approve_order needs none: once it runs, the saga succeeded.")


@exercise("06.composition-hops")
def composition_hops(answer: Any, result: Any = None) -> Feedback:
    """``answer``: a function ``hops(n)`` for the sequential strategy; ``result``: a composition experiment."""
    if not callable(answer) or len(inspect.signature(answer).parameters) != 1:
        return Feedback(False, "answer with a function of the number of orders, e.g. def hops(n): return ...")
    if result is None or not hasattr(result, "table") or not hasattr(result, "answers"):
        return Feedback(False, "pass the experiment: check(..., hops, result=composition)")
    table = result.table
    row = table[(table["strategy"] == "sequential") & (table["delivery"] == "up")]
    if row.empty:
        return Feedback(False, "the experiment has no sequential run with the delivery service up")
    n = len(result.answers.get("sequential", []))
    measured = int(row["hops"].iloc[0])
    try:
        value = answer(n)
        if value is None or value is ...:
            return Feedback(False, "hops(n) returns nothing yet: replace the ... with your formula")
        predicted = int(value)
    except Exception as exc:  # noqa: BLE001 - report the learner's error, do not crash
        return Feedback(False, f"hops({n}) raised {type(exc).__name__}: {exc}")
    if predicted != measured:
        return Feedback(False, f"for {n} orders you predict {predicted} hops, the call log measured {measured}. "
                               f"Count: your request to the composer, its call to orders, then two calls per order")
    for k in (1, 5, 50, 200):
        if int(answer(k)) != expected_hops("sequential", k):
            return Feedback(False, f"right for {n} orders, but hops({k}) = {answer(k)}: is the formula linear in n?")
    return Feedback(True, f"2n + 2: {measured} hops for {n} orders, and growing with every order, while the batched "
                          f"composition stays at 4 and the read model answers in 1.")
