"""Notebook 13's new checkers: the scale-down prediction and the preStop sleep for an 8 s lag, in both languages."""

from __future__ import annotations

import pytest

from labsvc.core import simtime
from labsvc.course import check, set_language
from labsvc.course.predictions import forget, predict
from labsvc.platform.lab import autoscale_experiment, rollout_experiment


@pytest.fixture(scope="module")
def ramp():
    return simtime.run(autoscale_experiment(name="ex-ramp"))


def _rolled(pre_stop, endpoint_delay=8.0, **kw):
    return simtime.run(rollout_experiment("rolling", pre_stop=pre_stop, endpoint_delay=endpoint_delay,
                                          name="ex-prestop", **kw))


def test_the_scale_down_prediction_is_judged_on_the_measured_time(ramp):
    forget("13.predict-scale-down")
    try:
        assert "no prediction" in check("13.predict-scale-down", ramp).message
        predict("13.predict-scale-down", seconds=490)
        assert check("13.predict-scale-down", ramp).ok                  # within one 15 s sync of 480
        predict("13.predict-scale-down", seconds=480_000)
        assert "milliseconds" in check("13.predict-scale-down", ramp).message
        predict("13.predict-scale-down", minutes=8)
        feedback = check("13.predict-scale-down", ramp)
        assert not feedback.ok and "minutes" in feedback.message and "seconds" in feedback.message
        assert "pass the load ramp" in check("13.predict-scale-down", "ramp").message
    finally:
        forget("13.predict-scale-down")


def test_the_prestop_checker_judges_failures_then_the_budget():
    assert "missed by 80" in check("13.prestop-lag", _rolled(5)).message
    assert check("13.prestop-lag", _rolled(8)).ok                       # the sleep covers the lag exactly
    slow = check("13.prestop-lag", _rolled(12))
    assert not slow.ok and "took 13 s" in slow.message and "12 s" in slow.message
    retried = check("13.prestop-lag", _rolled(5, retry=True))
    assert not retried.ok and "does not retry" in retried.message
    assert "rolling update" in check("13.prestop-lag", None).message


def test_the_new_feedback_has_korean(ramp):
    set_language("ko")
    try:
        assert "목표는 0개" in check("13.prestop-lag", _rolled(5)).message
        predict("13.predict-scale-down", seconds=0.008)
        assert "300초" in check("13.predict-scale-down", ramp).message
    finally:
        forget("13.predict-scale-down")
        set_language("en")
