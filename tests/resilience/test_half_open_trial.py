"""half_open_trial replays a half-open trial call by call, and the 10.half-open checker judges a prediction of it."""

from __future__ import annotations

import pytest

from labsvc.core.errors import ConfigurationError
from labsvc.course import check
from labsvc.course.exercises.nb10 import half_open
from labsvc.resilience.lab import HalfOpenTrial, half_open_trial


def transitions(trial: HalfOpenTrial) -> list[tuple[str, str]]:
    t = trial.events[trial.events["kind"] == "state_transition"]
    return list(zip(t["from_state"], t["to_state"]))


# --- the trial ----------------------------------------------------------------------------------


def test_one_failure_in_three_trial_calls_closes_the_breaker():
    trial = half_open_trial(["success", "failure", "success"])
    assert trial.state == "CLOSED"
    assert trial.outcomes == ("success", "failure", "success")
    assert trial.failure_rate == pytest.approx(100 / 3)  # 33 % < 50 %
    assert trial.threshold == 50
    assert transitions(trial) == [("CLOSED", "OPEN"), ("OPEN", "HALF_OPEN"), ("HALF_OPEN", "CLOSED")]


@pytest.mark.parametrize("outcomes, rate", [
    (["failure", "success", "failure"], 200 / 3),
    (["success", "failure", "failure"], 200 / 3),
    (["failure", "failure", "failure"], 100.0),
])
def test_two_or_more_failures_in_three_trial_calls_reopen_it(outcomes, rate):
    trial = half_open_trial(outcomes)
    assert trial.state == "OPEN"
    assert trial.failure_rate == pytest.approx(rate)
    assert transitions(trial)[-1] == ("HALF_OPEN", "OPEN")


def test_the_trial_calls_are_judged_together_once_the_last_is_in():
    # A failure first does not reopen the breaker: the verdict waits for all three calls.
    trial = half_open_trial(["failure", "success", "success"])
    assert trial.state == "CLOSED"
    kinds = trial.events["kind"].tolist()
    assert kinds == ["state_transition", "state_transition", "error", "success", "success", "state_transition"]
    assert trial.events["state"].tolist()[2:5] == ["HALF_OPEN"] * 3


def test_all_successes_close_it_with_a_zero_failure_rate():
    trial = half_open_trial(["success"] * 3)
    assert (trial.state, trial.failure_rate) == ("CLOSED", 0.0)


def test_breaker_settings_can_be_overridden():
    # With a threshold of 30 %, one failure in three (33 %) reopens it.
    assert half_open_trial(["success", "failure", "success"], failure_rate_threshold=30).state == "OPEN"
    trial = half_open_trial(["success", "failure", "success", "success"],
                            permitted_number_of_calls_in_half_open_state=4)
    assert (trial.state, trial.failure_rate) == ("CLOSED", 25.0)


@pytest.mark.parametrize("outcomes", [
    ["success", "failure"],                          # too few trial calls
    ["success", "failure", "success", "success"],    # too many
    ["success", "timeout", "success"],               # not 'success' or 'failure'
    "success",                                       # a single string is one call
])
def test_wrong_outcomes_raise_a_configuration_error_saying_what_to_give(outcomes):
    with pytest.raises(ConfigurationError, match="give 3 trial calls, each 'success' or 'failure'"):
        half_open_trial(outcomes)


# --- the 10.half-open checker -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def trial() -> HalfOpenTrial:
    return half_open_trial(["success", "failure", "success"])  # the notebook's trial: it closes


@pytest.mark.parametrize("prediction", ["CLOSED", "closed", " Closed "])
def test_the_right_prediction_passes(trial, prediction):
    result = check("10.half-open", trial, prediction=prediction)
    assert result.ok
    assert "failure rate of 33 %" in result.message and "as you predicted" in result.message


def test_a_wrong_prediction_fails_and_explains_the_rule(trial):
    result = check("10.half-open", trial, prediction="OPEN")
    assert not result.ok
    assert "you predicted OPEN" in result.message
    assert "below the 50 % threshold" in result.message and "went CLOSED" in result.message


def test_a_reopening_trial_needs_open():
    reopened = half_open_trial(["failure", "success", "failure"])
    assert check("10.half-open", reopened, prediction="OPEN").ok
    wrong = check("10.half-open", reopened, prediction="CLOSED")
    assert not wrong.ok and "at or above the 50 % threshold" in wrong.message


@pytest.mark.parametrize("prediction", [..., None])
def test_no_prediction_says_so_without_raising(trial, prediction):
    result = check("10.half-open", trial, prediction=prediction)
    assert not result.ok
    assert "no prediction was made" in result.message
    assert check("10.half-open", trial).message == result.message  # prediction left out entirely


def test_a_prediction_that_is_not_a_state_is_named(trial):
    result = check("10.half-open", trial, prediction="HALF_OPEN")
    assert not result.ok and "'HALF_OPEN'" in result.message and "CLOSED" in result.message


def test_something_that_is_not_a_trial_says_what_to_pass():
    result = check("10.half-open", {"state": "CLOSED"}, prediction="CLOSED")
    assert not result.ok and "check('10.half-open', trial, prediction=prediction)" in result.message


def test_feedback_has_korean_that_counts_the_trial_calls():
    four = half_open_trial(["success", "failure", "success", "success"],
                           permitted_number_of_calls_in_half_open_state=4)
    for trial, prediction in [(half_open_trial(["success", "failure", "success"]), "CLOSED"), (four, "OPEN"),
                              (four, ...)]:
        feedback = half_open(trial, prediction=prediction)
        assert feedback.ko and any("\uac00" <= ch <= "\ud7a3" for ch in feedback.ko)
    assert "호출 4번이 모두" in half_open(four, prediction="CLOSED").ko
