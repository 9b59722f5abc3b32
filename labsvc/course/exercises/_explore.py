"""What the explorer exercises of notebooks 06 and 07 share: reading an answer against an Exploration."""

from __future__ import annotations

from typing import Any

from labsvc.course import Feedback

__all__ = ["judge_exploration"]


def judge_exploration(answer: Any, result: Any, example: str) -> tuple[Feedback | None, int | None]:
    """``(feedback, truth)``: a Feedback when ``answer`` or ``result`` is wrong, else None, and the right answer.

    ``answer`` is the length of the shortest counterexample's script, or
    None for none within the bound; ``result`` is the Exploration that
    :func:`labsvc.explore.explore` returned; ``example`` is the notebook's
    call, shown when ``result`` is something else.
    """
    if not all(hasattr(result, a) for a in ("counterexample", "exhausted", "runs")):
        return Feedback(False, f"pass the Exploration that explore(...) returned: {example}",
                        ko=f"explore(...)가 돌려준 Exploration을 넘겨주세요: {example}"), None
    cx = result.counterexample
    if cx is None and not result.exhausted:
        return Feedback(False, f"this exploration stopped after {result.runs} runs, before it covered its bounded "
                               f"space, so it cannot say there is no counterexample: raise max_runs and explore again",
                        ko=f"이 탐색은 {result.runs}번 실행한 뒤, 한정된 공간을 다 돌기 전에 멈췄습니다. 그래서 반례가 "
                           f"없다고 말할 수 없습니다. max_runs를 늘려 다시 탐색하세요"), None
    if answer is not None and (isinstance(answer, bool) or not isinstance(answer, int)):
        return Feedback(False, f"answer with a whole number (the length of the shortest counterexample's script) "
                               f"or None (no counterexample within the bound), not {answer!r}",
                        ko=f"정수(가장 짧은 반례 스크립트의 길이) 또는 None(한계 안에 반례 없음)으로 답하세요. "
                           f"적은 값: {answer!r}"), None
    truth = None if cx is None else len(cx.script)
    if answer != truth:
        return Feedback(False, "look at result.counterexample: None means no run broke an invariant; otherwise "
                               "count the choices in its script",
                        ko="result.counterexample을 보세요. None이면 불변식을 깬 실행이 없다는 뜻이고, 아니면 그 "
                           "script의 선택 개수를 세면 됩니다"), truth
    return None, truth
