"""Checkers for notebook 10 (resilience)."""

from __future__ import annotations

import math

import pandas as pd

from labsvc.course import Feedback, exercise, is_number


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
    return Feedback(True, f"{len(truth) - 1} transitions. The breaker judges its half-open trial calls together: "
                          f"each HALF_OPEN -> OPEN is a set of trial calls whose failure rate reached the 50 % threshold "
                          f"(here, while reviews hung, all of them failed), and HALF_OPEN -> CLOSED a set whose failure "
                          f"rate stayed below it (resilience4j's rule: one failure in three, 33 %, would still close "
                          f"it).",
                    ko=f"전이 {len(truth) - 1}번입니다. 서킷 브레이커는 HALF_OPEN 상태의 시험 호출을 한꺼번에 "
                       f"판단합니다. HALF_OPEN -> OPEN은 시험 호출들의 실패율이 임곗값 50 %에 이른 경우이고(여기서는 "
                       f"reviews가 멈춰 있는 동안 모두 실패했습니다), HALF_OPEN -> CLOSED는 실패율이 임곗값 아래였던 "
                       f"경우입니다(resilience4j의 규칙: 세 번 중 한 번 실패, 즉 33 %여도 닫힙니다).")


@exercise("10.half-open")
def half_open(answer, prediction=None) -> Feedback:
    """``answer`` is the trial (``half_open_trial(...)``); ``prediction`` what the learner wrote before running it."""
    state, rate = getattr(answer, "state", None), getattr(answer, "failure_rate", None)
    outcomes, threshold = getattr(answer, "outcomes", None), getattr(answer, "threshold", None)
    if state is None or rate is None or outcomes is None:
        return Feedback(False, "pass the trial and your prediction: check('10.half-open', trial, prediction=prediction)",
                        ko="시험 결과와 예측을 넘겨주세요: check('10.half-open', trial, prediction=prediction)")
    if prediction is ... or prediction is None:
        return Feedback(False, "no prediction was made: write \"CLOSED\" or \"OPEN\" into prediction in the cell "
                               "above, before looking at the trial, then run both cells again",
                        ko="예측이 없습니다. 시험 결과를 보기 전에 위 셀의 prediction에 \"CLOSED\" 또는 \"OPEN\"을 "
                           "적고, 두 셀을 다시 실행하세요")
    guess = str(prediction).strip().upper().replace("-", "_")
    if guess not in ("CLOSED", "OPEN"):
        return Feedback(False, f"predict one of two states, \"CLOSED\" or \"OPEN\" (you wrote {prediction!r})",
                        ko=f"두 상태 중 하나를 예측하세요: \"CLOSED\" 또는 \"OPEN\" (적은 값: {prediction!r})")
    failed = sum(1 for o in outcomes if o == "failure")
    why = (f"{failed} failure(s) in {len(outcomes)} trial calls is a failure rate of {rate:.0f} %, "
           f"{'below' if rate < threshold else 'at or above'} the {threshold:g} % threshold, judged once all "
           f"{len(outcomes)} were in, so the breaker went {state}")
    why_ko = (f"시험 호출 {len(outcomes)}번 중 {failed}번 실패는 실패율 {rate:.0f} %로, 임곗값 {threshold:g} %"
              f"{'보다 낮습니다' if rate < threshold else ' 이상입니다'}. 호출 {len(outcomes)}번이 모두 끝난 뒤 한꺼번에 "
              f"판단했으므로 "
              f"서킷 브레이커는 {state} 상태가 되었습니다")
    if guess != state:
        return Feedback(False, f"you predicted {guess}; {why}. A resilience4j breaker does not react to one trial "
                               f"call: the failure rate of all of them decides",
                        ko=f"{guess}로 예측했지만, {why_ko}. resilience4j 서킷 브레이커는 시험 호출 하나에 반응하지 "
                           f"않습니다. 시험 호출 전체의 실패율이 결정합니다")
    return Feedback(True, f"{why}, as you predicted.", ko=f"{why_ko}. 예측한 그대로입니다.")


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


# -- change and observe: a timeout that bounds the wait without cutting healthy calls ----------

#: The target of "10.timeout": without a breaker, the page p99 during the outage at most this many ms,
#: and no page degraded while reviews is healthy (before and after the outage).
TIMEOUT_P99_TARGET_MS = 50.0


@exercise("10.timeout")
def timeout(answer) -> Feedback:
    """``answer``: a ``breaker_experiment(breaker=False, timeout=..., ...)`` run."""
    if not hasattr(answer, "phases") or not hasattr(answer, "breaker"):
        return Feedback(False, "pass the run: check('10.timeout', tuned), with tuned = await "
                               "breaker_experiment(breaker=False, timeout=timeout, seed=10, name='nb10-ex5')",
                        ko="실행 결과를 넘겨주세요: tuned = await breaker_experiment(breaker=False, timeout=timeout, "
                           "seed=10, name='nb10-ex5') 다음에 check('10.timeout', tuned)")
    if answer.breaker:
        return Feedback(False, "keep breaker=False: this exercise changes the timeout alone",
                        ko="breaker=False로 두세요. 이 연습에서는 타임아웃만 바꿉니다")
    phases = answer.phases().set_index("phase")
    healthy = phases.loc[["before", "after"]]
    cut = int(round(float((healthy["degraded"] * healthy["requests"]).sum())))
    p99 = float(phases.loc["during", "p99_ms"])
    calls = int(phases.loc["during", "calls_to_reviews"])
    if cut:
        return Feedback(False, f"refused: {cut} page(s) were degraded while reviews was healthy. This timeout is "
                               f"shorter than a healthy answer takes, so it cuts calls that would have succeeded",
                        ko=f"받아들일 수 없습니다: reviews가 정상일 때도 페이지 {cut}개가 대체 응답(degraded)이었습니다. "
                           f"이 타임아웃은 정상 응답에 걸리는 시간보다 짧아서, 성공했을 호출까지 끊습니다")
    if p99 > TIMEOUT_P99_TARGET_MS:
        return Feedback(False, f"during the outage the page p99 is {p99:.0f} ms, {p99 - TIMEOUT_P99_TARGET_MS:.0f} ms "
                               f"over the {TIMEOUT_P99_TARGET_MS:g} ms target: each page waits for the whole timeout "
                               f"before the fallback answers",
                        ko=f"장애 동안 페이지 p99가 {p99:.0f} ms로 목표 {TIMEOUT_P99_TARGET_MS:g} ms보다 "
                           f"{p99 - TIMEOUT_P99_TARGET_MS:.0f} ms 깁니다. 페이지마다 타임아웃 전체를 기다린 뒤에야 "
                           f"폴백이 응답합니다")
    return Feedback(True, f"page p99 {p99:.0f} ms during the outage, and no healthy call cut. But reviews still got "
                          f"{calls} calls while it hung: a timeout bounds the wait, not the load on the sick service. "
                          f"Stopping those calls is the breaker's job.",
                    ko=f"장애 동안 페이지 p99 {p99:.0f} ms, 끊긴 정상 호출은 없습니다. 그래도 reviews는 멈춰 있는 "
                       f"동안 호출 {calls}건을 받았습니다. 타임아웃은 기다림을 제한할 뿐, 아픈 서비스에 가는 부하는 "
                       f"줄이지 않습니다. 그 호출을 막는 것은 서킷 브레이커의 일입니다.")
