"""Notebook 07's delivery-limit trial: one row per order, and the checkers of its two new exercises."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pandas as pd
import pytest

from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError
from labsvc.course import check
from labsvc.course.predictions import forget, predict
from labsvc.messaging.lab import delivery_limit_trial

COLUMNS = ["order_id", "poison", "deliveries", "charges", "dead_lettered", "delivery_count", "max_deliveries",
           "lost_acks"]


@pytest.fixture(scope="module")
def trials():
    """The notebook's starting limit (4), the solution's (8) and one over the constraint (20)."""
    return {m: simtime.run(delivery_limit_trial(m, lost_acks=0.5, seed=7)) for m in (4, 8, 20)}


def test_one_row_per_order_with_the_trials_settings(trials):
    t = trials[4]
    assert list(t.columns) == COLUMNS and list(t["order_id"]) == list(range(1, 31))
    assert set(t["max_deliveries"]) == {4} and set(t["lost_acks"]) == {0.5}
    assert list(t.loc[t["poison"], "order_id"]) == [7]
    # the poison order is never charged and is dead-lettered after exactly the limit
    poison = t[t["poison"]].iloc[0]
    assert poison["charges"] == 0 and poison["dead_lettered"] and poison["delivery_count"] == poison["deliveries"] == 4
    # the idempotent consumer charges every paid order once, dead-lettered or not
    assert (t.loc[~t["poison"], "charges"] == 1).all()
    assert (t["deliveries"] <= 4).all() and (t["delivery_count"][~t["dead_lettered"]] == 0).all()


def test_a_higher_limit_keeps_paid_orders_out_of_the_dead_letters(trials):
    paid_dead = {m: int((t["dead_lettered"] & ~t["poison"]).sum()) for m, t in trials.items()}
    assert paid_dead[4] > 0 and paid_dead[8] == 0 and paid_dead[20] == 0
    assert int(trials[20].loc[trials[20]["poison"], "delivery_count"].iloc[0]) == 20


def test_the_trial_gives_the_same_table_whenever_it_runs(trials):
    # all simulated networks share one clock: a rerun starts at another moment (a notebook's second pass)
    for idle in (0.0, 123.457, 4321.01):
        simtime.run(asyncio.sleep(idle))
        again = simtime.run(delivery_limit_trial(4, lost_acks=0.5, seed=7))
        pd.testing.assert_frame_equal(again, trials[4])


def test_a_limit_that_is_not_a_whole_number_of_deliveries_is_refused():
    with pytest.raises(ConfigurationError, match="max_deliveries=0"):
        simtime.run(delivery_limit_trial(0))
    with pytest.raises(ConfigurationError, match="whole number"):
        simtime.run(delivery_limit_trial(4.5))


def test_the_delivery_limit_checker(trials):
    start = check("07.delivery-limit", trials[4])
    assert not start and "missed by" in start.message and "Target: 0" in start.message
    assert check("07.delivery-limit", trials[8])
    over = check("07.delivery-limit", trials[20])
    assert not over and "refused" in over.message and "20 times" in over.message
    fewer = trials[8].assign(lost_acks=0.1)
    assert "keep lost_acks=0.5" in check("07.delivery-limit", fewer).message
    no_poison = trials[8].assign(dead_lettered=False)
    assert "never reached the dead letters" in check("07.delivery-limit", no_poison).message
    assert "pass the table" in check("07.delivery-limit", pd.DataFrame()).message
    assert "replace the ..." in check("07.delivery-limit", ...).message


def _outage(latencies_s, window=(0.6, 1.4), style="async", down="payment"):
    orders = pd.DataFrame({"completion_latency": latencies_s, "completed": [True] * len(latencies_s)})
    return SimpleNamespace(style=style, down=down, orders=orders, window=window)


def test_the_outage_wait_prediction():
    outage = {"sync": _outage([0.006], style="sync"), "async": _outage([0.008, 0.806, 0.3])}
    forget("07.predict-outage-wait")
    assert "no prediction was made" in check("07.predict-outage-wait", outage).message
    predict("07.predict-outage-wait", ms=750)
    right = check("07.predict-outage-wait", outage)
    assert right and "Off by 56 ms" in right.message and "800 ms later" in right.message
    predict("07.predict-outage-wait", ms=0.8)
    assert "looks like seconds; the question asks for milliseconds" in check("07.predict-outage-wait", outage).message
    predict("07.predict-outage-wait", ms="a lot")
    assert "number of milliseconds" in check("07.predict-outage-wait", outage).message
    predict("07.predict-outage-wait", ms=2000)
    wrong = check("07.predict-outage-wait", outage)
    assert not wrong and "the experiment gave 806.0" in wrong.message and "Off by 1194 ms" in wrong.message
    assert "outage runs of section 3" in check("07.predict-outage-wait", outage["sync"]).message
    assert "outage runs of section 3" in check("07.predict-outage-wait", {"async": _outage([0.1], down="notification")}
                                                ).message
    forget("07.predict-outage-wait")
