"""Predictions: the learner writes down what will happen before an experiment runs.

A prediction exercise has two cells. The first, *before* the experiment,
records the learner's guess::

    predict("08.crash-window", seconds=...)     # replace ... with your guess

The experiment runs below it, and the exercise's check compares the guess
with what was measured and explains the gap::

    check("08.crash-window", lab)               # the checker reads the prediction

Under Run All the guess is still ``...``: nothing is recorded, the experiment
runs anyway, and the check says that no prediction was made (never an error).
A guess changed after the check has shown the result is still judged, but
the feedback says it came after the answer was seen.

>>> forget("xx.demo"); predict("xx.demo", 3).value
3
>>> recorded("xx.demo").after_reveal
False
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from itertools import count
from typing import Any, Callable

__all__ = ["predict", "Prediction", "recorded", "forget", "judge_prediction", "PREDICTIONS"]

_order = count(1)
#: exercise id -> the learner's latest recorded prediction
PREDICTIONS: dict[str, "Prediction"] = {}
_revealed: set[str] = set()


@dataclass(frozen=True)
class Prediction:
    """One recorded guess: its value, its place in the session's order, and whether the result had been seen."""

    exercise: str
    value: Any
    order: int
    after_reveal: bool

    def __repr__(self) -> str:
        return f"prediction for {self.exercise} recorded: {self.value!r}"

    def _repr_html_(self) -> str:
        from labsvc.course import language

        text = (f"예측을 기록했습니다 ({html.escape(self.exercise)}): <b>{html.escape(repr(self.value))}</b>. "
                f"아래 실험을 실행한 뒤 확인 셀이 비교합니다."
                if language() == "ko" else
                f"Prediction recorded ({html.escape(self.exercise)}): <b>{html.escape(repr(self.value))}</b>. "
                f"Run the experiment below; the check compares the two.")
        return f'<div style="border-left:4px solid #457b9d;padding:4px 8px;margin:4px 0">📝 {text}</div>'


class _NoPrediction:
    """What :func:`predict` shows while the guess is still ``...``."""

    def __init__(self, exercise: str) -> None:
        self.exercise = exercise

    def __repr__(self) -> str:
        return f"no prediction for {self.exercise} yet: replace the ... with your guess (the experiment runs anyway)"

    def _repr_html_(self) -> str:
        from labsvc.course import language

        text = (f"아직 예측이 없습니다 ({html.escape(self.exercise)}): ... 자리에 예측을 적고 이 셀을 다시 실행하세요 "
                f"(실험은 예측 없이도 돌아갑니다)" if language() == "ko" else
                f"No prediction yet ({html.escape(self.exercise)}): replace the ... with your guess and run this "
                f"cell again (the experiment runs anyway)")
        return f'<div style="border-left:4px solid #adb5bd;padding:4px 8px;margin:4px 0">📝 {text}</div>'


def predict(exercise: str, value: Any = ..., **named: Any) -> Prediction | _NoPrediction:
    """Record the learner's guess for ``exercise`` before its experiment runs.

    The guess is ``value``, or a single keyword argument whose name says the
    unit (``predict("08.crash-window", seconds=120)``: the recorded value is
    then ``{"seconds": 120}``). A guess of ``...`` records nothing.
    """
    if named:
        if value is not ... or len(named) != 1:
            raise TypeError("predict() takes one guess: predict(id, value) or predict(id, unit=value)")
        (unit, guess), = named.items()
        if guess is ...:
            PREDICTIONS.pop(exercise, None)
            return _NoPrediction(exercise)
        value = {unit: guess}
    if value is ...:
        PREDICTIONS.pop(exercise, None)
        return _NoPrediction(exercise)
    previous = PREDICTIONS.get(exercise)
    late = exercise in _revealed and (previous is None or previous.value != value)
    PREDICTIONS[exercise] = Prediction(exercise, value, next(_order), late or bool(previous and previous.after_reveal
                                                                                      and previous.value == value))
    return PREDICTIONS[exercise]


def recorded(exercise: str) -> Prediction | None:
    """The prediction recorded for ``exercise``, or None."""
    return PREDICTIONS.get(exercise)


def forget(exercise: str) -> None:
    """Drop the recorded prediction and the revealed mark of ``exercise`` (tests, a fresh attempt)."""
    PREDICTIONS.pop(exercise, None)
    _revealed.discard(exercise)


def judge_prediction(exercise: str, actual: Any, *, right: Callable[[Any, Any], bool],
                     explain: Callable[[Any, Any], tuple[str, str]], unit: str | None = None):
    """A checker's verdict on the prediction recorded for ``exercise`` against what was measured (``actual``).

    ``right(guess, actual)`` says whether the guess was close enough;
    ``explain(guess, actual)`` returns (English, Korean) sentences on the gap.
    ``unit``: when given, a guess recorded as ``{unit: value}`` is unwrapped
    and a guess under another name is refused with a message naming both.
    """
    from labsvc.course import Feedback

    guess = recorded(exercise)
    _revealed.add(exercise)
    if guess is None:
        return Feedback(False, "no prediction was made: write your guess in the predict(...) cell above the "
                               "experiment, run it, then run the experiment and this check again",
                        ko="예측이 없습니다. 실험 위의 predict(...) 셀에 예측을 적어 실행한 다음, 실험과 이 확인 셀을 "
                           "다시 실행하세요")
    value = guess.value
    if unit is not None and isinstance(value, dict):
        if set(value) != {unit}:
            given = next(iter(value))
            return Feedback(False, f"the prediction was given in {given}, this question asks for {unit}",
                            ko=f"예측을 {given} 단위로 적었습니다. 이 문제는 {unit} 단위로 묻습니다")
        value = value[unit]
    en, ko = explain(value, actual)
    late_en = " (This prediction was written after the check had shown the result.)" if guess.after_reveal else ""
    late_ko = " (이 예측은 확인 셀이 결과를 보여 준 뒤에 적은 것입니다.)" if guess.after_reveal else ""
    if right(value, actual):
        return Feedback(True, f"you predicted {value!r}, and so it went. {en}{late_en}", ko=f"예측({value!r})대로 "
                        f"되었습니다. {ko}{late_ko}")
    return Feedback(False, f"you predicted {value!r}; the experiment gave {actual!r}. {en}{late_en}",
                    ko=f"예측은 {value!r}였고, 실험 결과는 {actual!r}입니다. {ko}{late_ko}")
