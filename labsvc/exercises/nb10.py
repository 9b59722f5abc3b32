"""Checkers for notebook 10 (resilience)."""

from __future__ import annotations

import math

import pandas as pd

from ..course import Feedback, exercise, is_number


@exercise("10.breaker-states")
def breaker_states(answer, events: pd.DataFrame) -> Feedback:
    if not isinstance(events, pd.DataFrame) or "kind" not in events:
        return Feedback(False, "pass the breaker's events DataFrame: check(..., events=with_breaker.events)",
                        ko="서킷 브레이커의 이벤트 DataFrame을 넘겨주세요: check(..., events=with_breaker.events)")
    changes = events[events["kind"] == "state_transition"]
    if changes.empty:
        return Feedback(False, "this breaker never changed state; pass the events of the run with a breaker",
                        ko="이 서킷 브레이커는 상태가 한 번도 바뀌지 않았습니다. 서킷 브레이커가 있는 실행의 이벤트를 넘겨주세요")
    truth = [changes["from_state"].iloc[0], *changes["to_state"]]
    if not isinstance(answer, (list, tuple)) or [str(s) for s in answer] != truth:
        return Feedback(False, "start with the first row's from_state, then list every to_state of the rows whose "
                               "kind is 'state_transition'",
                        ko="첫 행의 from_state로 시작하고, kind가 'state_transition'인 행들의 to_state를 모두 "
                           "순서대로 나열하세요")
    return Feedback(True, f"{len(truth) - 1} transitions: each HALF_OPEN -> OPEN is a trial that found reviews still "
                          f"failing; the last HALF_OPEN -> CLOSED found it healthy.",
                    ko=f"전이 {len(truth) - 1}번입니다. HALF_OPEN -> OPEN은 각각 reviews가 아직 실패 중임을 확인한 시험 "
                       f"호출이고, 마지막 HALF_OPEN -> CLOSED는 reviews가 회복되었음을 확인한 것입니다.")


@exercise("10.amplification")
def amplification(answer, result) -> Feedback:
    calls, user_requests = getattr(result, "calls", None), getattr(result, "user_requests", None)
    if not isinstance(calls, pd.DataFrame) or not user_requests:
        return Feedback(False, "pass the result of retry_storm('naive', ...): check(..., result=naive)",
                        ko="retry_storm('naive', ...)의 결과를 넘겨주세요: check(..., result=naive)")
    if getattr(result, "policy", None) != "naive":
        return Feedback(False, f"this is the {result.policy!r} storm; run retry_storm('naive', ...) and pass that",
                        ko=f"이것은 {result.policy!r} 정책의 폭풍입니다. retry_storm('naive', ...)를 실행해서 그 결과를 "
                           f"넘겨주세요")
    truth = int((calls["callee"] == "c").sum()) / user_requests
    if not is_number(answer) or not math.isclose(answer, truth):
        return Feedback(False, "count the rows of result.calls whose callee is 'c' and divide by the number of "
                               "user requests (result.user_requests)",
                        ko="result.calls에서 callee가 'c'인 행을 세고, 사용자 요청 수(result.user_requests)로 "
                           "나누세요")
    return Feedback(True, f"{truth:g} calls to c per user request: 3 attempts at each of three layers, 3 x 3 x 3.",
                    ko=f"사용자 요청 하나당 c로 {truth:g}번의 호출이 갔습니다. 세 계층에서 각각 3번씩 시도하니 "
                       f"3 x 3 x 3입니다.")


# The question's numbers: one answer in 200 is slow, and a request waits for 50 backends.
FANOUT_P_SLOW = 0.005
FANOUT_N = 50


@exercise("10.fanout")
def fanout(answer) -> Feedback:
    truth = 1 - (1 - FANOUT_P_SLOW) ** FANOUT_N
    if not is_number(answer) or not math.isclose(answer, truth,
                                                                                             abs_tol=0.005):
        return Feedback(False, "a request is fast only if all 50 backends are fast: what is the chance of that, "
                               "and of its opposite?",
                        ko="요청이 빠르려면 백엔드 50개가 모두 빨라야 합니다. 그럴 확률은 얼마이고, 그 반대의 확률은 "
                           "얼마일까요?")
    return Feedback(True, f"{truth:.1%} of requests meet at least one slow backend, although each backend is slow "
                          f"only {FANOUT_P_SLOW:.1%} of the time.",
                    ko=f"각 백엔드가 느린 경우는 {FANOUT_P_SLOW:.1%}뿐인데도, 요청의 {truth:.1%}가 느린 백엔드를 하나 "
                       f"이상 만납니다.")
