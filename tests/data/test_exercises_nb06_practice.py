"""Notebook 06's prediction (06.predict-schema) and change-and-observe (06.saga-timeout) exercises, and their lab call."""

from __future__ import annotations

import pandas as pd
import pytest

from labsvc.core import simtime
from labsvc.course import check
from labsvc.course.predictions import forget, predict
from labsvc.data import schema_change_experiment
from labsvc.course.exercises.nb06 import predict_schema, saga_timeout
from labsvc.data.lab import saga_settings_trial


@pytest.fixture(scope="module")
def schema():
    async def both():
        return {d: await schema_change_experiment(d, orders=4, customers=2, seed=3, name=f"test-predict-{d}")
                for d in ("shared", "per-service")}

    return simtime.run(both())


@pytest.fixture(autouse=True)
def fresh():
    forget("06.predict-schema")
    yield
    forget("06.predict-schema")


def test_no_prediction_is_a_friendly_miss(schema):
    result = check("06.predict-schema", schema)
    assert not result and result.message.startswith("no prediction was made")


def test_the_measured_share_judges_the_guess_and_explains_the_gap(schema):
    predict("06.predict-schema", percent=100)
    wrong = predict_schema(schema)  # the Feedback itself, with both languages
    assert not wrong.ok and "you predicted 100; the experiment gave 0" in wrong.message
    assert "served 0 of 4 receipts (OperationalError)" in wrong.message and "영수증 4건 중 0건" in wrong.ko
    predict("06.predict-schema", percent=3)
    assert check("06.predict-schema", schema)  # within five points
    predict("06.predict-schema", percent=0)
    assert check("06.predict-schema", schema.get("shared"))  # the shared run alone works too


def test_a_share_or_another_unit_is_named(schema):
    predict("06.predict-schema", percent=0.5)
    share = predict_schema(schema)
    assert not share.ok and "looks like a share between 0 and 1" in share.message and "백분율" in share.ko
    predict("06.predict-schema", share=0)
    assert "given in share, this question asks for percent" in check("06.predict-schema", schema).message
    predict("06.predict-schema", percent="none")
    assert "a number from 0 to 100" in check("06.predict-schema", schema).message


def test_the_wrong_run_is_refused(schema):
    predict("06.predict-schema", percent=0)
    assert "pass the runs of section 2" in check("06.predict-schema", schema["per-service"]).message
    assert "pass the runs of section 2" in check("06.predict-schema", pd.DataFrame()).message


def row(**changes):
    base = {"scenario": "payment timeouts", "timeout_ms": 50.0, "attempts": 3, "orders": 100, "approved": 97,
            "payment_unavailable": 3, "approved_pct": 97.0, "p99_ms": 60.0, "invariants_held": "5/5"}
    return pd.DataFrame([{**base, **changes}])


def test_the_timeout_checker_says_by_how_much_the_target_was_missed():
    missed = check("06.saga-timeout", row())
    assert not missed and "97 % of the orders approved (3 cancelled as payment_unavailable)" in missed.message
    assert "2 percentage points short of the 99 % target" in missed.message
    assert "2%p 모자랍니다" in saga_timeout(row()).ko
    ok = check("06.saga-timeout", row(timeout_ms=300.0, approved=99, payment_unavailable=1, approved_pct=99.0,
                                      p99_ms=259.0))
    assert ok and "99 % approved with 3 attempts and a 300 ms timeout" in ok.message and "259 ms" in ok.message


def test_the_timeout_checker_guards_its_constraints():
    more = check("06.saga-timeout", row(attempts=4, approved_pct=99.0))
    assert not more and "4 attempts per step breaks the constraint (at most 3)" in more.message
    long = check("06.saga-timeout", row(timeout_ms=2000.0, approved_pct=99.0))
    assert not long and "a timeout of 2 s breaks the constraint" in long.message and "bare number" not in long.message
    bare = saga_timeout(row(timeout_ms=300_000.0, approved_pct=99.0))
    assert not bare.ok and "looks like milliseconds written without a unit" in bare.message and "밀리초" in bare.ko
    broken = check("06.saga-timeout", row(approved_pct=100.0, invariants_held="4/5"))
    assert not broken and "only 4/5 invariants held" in broken.message
    assert "100 orders of the 'payment timeouts' scenario" in check("06.saga-timeout", row(orders=40)).message
    assert "pass the trial" in check("06.saga-timeout", {"approved_pct": 99}).message


def test_the_trial_measures_the_settings_it_was_given():
    async def trials():
        return [await saga_settings_trial("payment timeouts", timeout=t, attempts=a, seed=6, name="test-trial")
                for t, a in (("50ms", 3), ("300ms", 3), (0.05, 4))]

    start, longer, more = (t.iloc[0] for t in simtime.run(trials()))
    assert (start["timeout_ms"], start["attempts"], start["orders"]) == (50.0, 3, 100)
    assert start["approved_pct"] < 99 and start["payment_unavailable"] > 0 and start["invariants_held"] == "5/5"
    # waiting for the slow answers (250 ms) reaches the target, at the price of latency
    assert longer["approved_pct"] >= 99 and longer["invariants_held"] == "5/5"
    assert longer["p99_ms"] > 250 > start["p99_ms"]
    # a fourth try at 50 ms reaches it too, faster, and the checker refuses it for the retry budget
    assert more["approved_pct"] >= 99 and more["p99_ms"] < 250
    assert not check("06.saga-timeout", pd.DataFrame([more]))
    assert check("06.saga-timeout", pd.DataFrame([longer]))
    with pytest.raises(ValueError, match="timeout"):
        simtime.run(saga_settings_trial(timeout="soon"))
