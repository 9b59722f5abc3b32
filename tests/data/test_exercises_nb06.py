"""Notebook 06's checkers accept the right answers, refuse wrong ones, and say why."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from labsvc.course import check


def orders_and_views(sizes=None, drop=0):
    orders = pd.DataFrame({"id": [1, 2, 3], "total": [50.0, 100.0, 150.0]})
    views = pd.DataFrame({"order_id": [1, 2, 3], "total": [50.0, 100.0, 150.0], "visible_at": [1.0, 2.0, 3.0]})
    if sizes is not None:
        views["size"] = sizes
    return orders, views.iloc[: len(views) - drop]


def test_read_model_field():
    orders, views = orders_and_views(["small", "large", "large"])
    assert check("06.read-model-field", views, orders=orders)
    orders, views = orders_and_views()
    assert "no 'size' field" in check("06.read-model-field", views, orders=orders).message
    orders, views = orders_and_views(["small", "small", "large"])
    result = check("06.read-model-field", views, orders=orders)
    assert not result and "order 2" in result.message and "'large'" in result.message
    orders, views = orders_and_views(["small", "large", "large"], drop=1)
    assert "not in the read model yet" in check("06.read-model-field", views, orders=orders).message
    assert not check("06.read-model-field", views)
    assert not check("06.read-model-field", orders, orders=orders)  # the command side is not the read model


def saga_log():
    rows = []
    for oid, trail in {
        1: [("create_order", "action", "ok"), ("reserve_stock", "action", "ok"), ("charge_payment", "action", "unknown"),
            ("refund_payment", "compensation", "ok"), ("release_stock", "compensation", "ok"),
            ("cancel_order", "compensation", "ok")],
        2: [("create_order", "action", "ok"), ("reserve_stock", "action", "ok"), ("charge_payment", "action", "ok"),
            ("approve_order", "action", "ok")],
    }.items():
        rows += [{"order_id": oid, "step": s, "kind": k, "outcome": o} for s, k, o in trail]
    return pd.DataFrame(rows)


RIGHT = {"create_order": "cancel_order", "reserve_stock": "release_stock", "charge_payment": "refund_payment"}


def test_compensations():
    log = saga_log()
    assert check("06.compensations", RIGHT, log=log)
    assert check("06.compensations", {**RIGHT, "approve_order": None}, log=log)
    wrong = check("06.compensations", {**RIGHT, "reserve_stock": "refund_payment"}, log=log)
    assert not wrong and "reserve_stock" in wrong.message and "release_stock (ok)" in wrong.message
    assert "need no compensation" in check("06.compensations", {**RIGHT, "approve_order": "cancel_order"}, log=log).message
    assert "are not steps" in check("06.compensations", {**RIGHT, "ship": "unship"}, log=log).message
    happy = log[log["order_id"] == 2]
    assert "never ran" in check("06.compensations", RIGHT, log=happy).message
    assert not check("06.compensations", RIGHT)
    assert not check("06.compensations", list(RIGHT), log=log)


def composition_result(hops=42, n=20):
    table = pd.DataFrame([{"strategy": "sequential", "delivery": "up", "hops": hops}])
    return SimpleNamespace(table=table, answers={"sequential": [{}] * n})


def test_composition_hops():
    result = composition_result()
    assert check("06.composition-hops", lambda n: 2 * n + 2, result=result)
    off_by_one = check("06.composition-hops", lambda n: 2 * n + 1, result=result)
    assert not off_by_one and "measured 42" in off_by_one.message
    # Right for the measured n only: not a formula.
    assert "linear" in check("06.composition-hops", lambda n: 42, result=result).message
    assert "replace the" in check("06.composition-hops", lambda n: None, result=result).message
    assert "raised ZeroDivisionError" in check("06.composition-hops", lambda n: 1 // 0, result=result).message
    assert "function" in check("06.composition-hops", 42, result=result).message
    assert not check("06.composition-hops", lambda n: 2 * n + 2)
