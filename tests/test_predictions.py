"""predict(): a guess recorded before the experiment, judged against what was measured."""

import pytest

from labsvc.course import Feedback
from labsvc.course.predictions import forget, judge_prediction, predict, recorded


@pytest.fixture(autouse=True)
def fresh():
    forget("t.x")
    yield
    forget("t.x")


def _judge(actual, unit=None):
    return judge_prediction("t.x", actual, right=lambda g, a: abs(g - a) <= 1,
                            explain=lambda g, a: (f"gap {a - g}", f"차이 {a - g}"), unit=unit)


def test_a_placeholder_records_nothing_and_the_check_says_no_prediction_was_made():
    shown = predict("t.x", ...)
    assert "replace the ..." in repr(shown) and recorded("t.x") is None
    verdict = _judge(5)
    assert isinstance(verdict, Feedback) and not verdict.ok
    assert verdict.message.startswith("no prediction was made") and verdict.ko.startswith("예측이 없습니다")


def test_a_close_guess_passes_and_a_far_one_fails_with_the_gap_explained():
    predict("t.x", 4)
    assert _judge(5).ok and "gap 1" in _judge(5).message
    predict("t.x", 9)
    far = _judge(5)
    assert not far.ok and "you predicted 9; the experiment gave 5" in far.message and "gap -4" in far.message


def test_a_guess_changed_after_the_result_was_shown_is_marked():
    predict("t.x", 9)
    assert "after the check" not in _judge(5).message
    predict("t.x", 5)
    late = _judge(5)
    assert late.ok and "written after the check had shown the result" in late.message
    assert recorded("t.x").after_reveal


def test_a_guess_in_another_unit_is_named():
    predict("t.x", milliseconds=5000)
    verdict = _judge(5, unit="seconds")
    assert not verdict.ok and verdict.message == "the prediction was given in milliseconds, this question asks for seconds"
    predict("t.x", seconds=5)
    assert _judge(5, unit="seconds").ok


def test_predict_takes_one_guess():
    with pytest.raises(TypeError, match="one guess"):
        predict("t.x", 3, seconds=4)
    with pytest.raises(TypeError, match="one guess"):
        predict("t.x", seconds=4, ms=3)
