"""Checkers for notebook 11 (observability)."""

from __future__ import annotations

import math

import pandas as pd

from labsvc.course import Feedback, exercise, is_number
from labsvc.course.predictions import judge_prediction
from labsvc.observability import exact_quantile, leaf_spans, since_start_quantile, trace_spans


@exercise("11.slowest-span")
def slowest_span(answer, spans: pd.DataFrame, trace_id: str) -> Feedback:
    if not isinstance(spans, pd.DataFrame) or "span_id" not in spans:
        return Feedback(False, "pass the spans and the trace: check(..., spans=spans, trace_id=trace_id)",
                        ko="스팬과 트레이스를 함께 넘기세요: check(..., spans=spans, trace_id=trace_id)")
    t = trace_spans(spans, trace_id)
    leaves = leaf_spans(spans, trace_id)
    truth = leaves.loc[leaves["duration"].idxmax()]
    if isinstance(answer, pd.Series) and "span_id" in answer:
        answer = answer["span_id"]
    if not isinstance(answer, str) or answer not in set(t["span_id"]):
        return Feedback(False, "answer with the span_id (16 hex digits) of one span of this trace",
                        ko="이 트레이스에 있는 스팬 하나의 span_id(16자리 16진수)로 답하세요")
    if answer == truth["span_id"]:
        return Feedback(True, f"{truth['service']}: {truth['name']} took {truth['duration'] * 1000:.2f} ms, the "
                              f"longest piece of work with nothing below it: that is where this checkout spent "
                              f"its time rather than waited.",
                        ko=f"{truth['service']}: {truth['name']} 스팬이 {truth['duration'] * 1000:.2f} ms로, 아래에 "
                           f"자식이 없는 작업 중 가장 깁니다. 이 체크아웃은 기다린 것이 아니라 여기서 시간을 썼습니다.")
    picked = t[t["span_id"] == answer].iloc[0]
    if picked["parent_span_id"] not in set(t["span_id"]):
        return Feedback(False, "that is the root span: it lasts as long as the whole request because it contains "
                               "every other span. Look only at spans that no other span names as its parent.",
                        ko="그것은 루트 스팬입니다. 다른 모든 스팬을 품고 있으니 요청 전체만큼 깁니다. 다른 스팬의 "
                           "부모(parent_span_id)로 등장하지 않는 스팬만 살펴보세요.")
    if answer not in set(leaves["span_id"]):
        return Feedback(False, "that span has children, so its duration includes their time. Keep only the spans "
                               "whose span_id is nobody's parent_span_id, then take the longest.",
                        ko="그 스팬에는 자식이 있어서 자식의 시간까지 포함합니다. 어떤 스팬의 parent_span_id로도 "
                           "쓰이지 않는 스팬만 남긴 뒤 가장 긴 것을 고르세요.")
    return Feedback(False, "a leaf, but not the slowest one: compare the durations of every span without children",
                    ko="자식이 없는 스팬은 맞지만 가장 느린 것은 아닙니다. 자식 없는 스팬들의 duration을 모두 비교하세요")


# The question: p99 of orders' POST /orders, from the buckets of the last scrape.
PROMQL_Q = 0.99
PROMQL_SERVICE, PROMQL_ROUTE = "orders", "/orders"


@exercise("11.promql-quantile")
def promql_quantile(answer, samples: pd.DataFrame, calls: pd.DataFrame | None = None) -> Feedback:
    if not isinstance(samples, pd.DataFrame) or "le" not in samples:
        return Feedback(False, "pass the scraped samples: check(..., samples=run.samples, calls=run.calls)",
                        ko="수집한 샘플을 넘기세요: check(..., samples=run.samples, calls=run.calls)")
    truth = since_start_quantile(samples, PROMQL_Q, service=PROMQL_SERVICE, route=PROMQL_ROUTE)
    if not is_number(answer) or math.isnan(float(answer)):
        return Feedback(False, "answer with a number of seconds, the result of histogram_quantile(0.99, buckets)",
                        ko="histogram_quantile(0.99, buckets)의 결과인 초 단위 숫자로 답하세요")
    if math.isclose(answer, truth, rel_tol=1e-6, abs_tol=1e-12):
        return Feedback(True, f"{truth * 1000:.2f} ms: summed over instances and status classes, interpolated inside "
                              f"the bucket that holds the 99th percentile, as Prometheus would answer.",
                        ko=f"{truth * 1000:.2f} ms: 인스턴스와 상태 코드 구분을 모두 합친 뒤, 99번째 백분위수가 든 "
                           f"버킷 안에서 선형 보간한 값으로 Prometheus가 내놓을 답과 같습니다.")
    if math.isclose(answer, truth * 1000, rel_tol=1e-6):
        return Feedback(False, "right number, wrong unit: Prometheus durations are in seconds",
                        ko="숫자는 맞지만 단위가 다릅니다. Prometheus의 시간 값은 초 단위입니다")
    if calls is not None and isinstance(calls, pd.DataFrame):
        hops = calls[(calls["callee"] == PROMQL_SERVICE) & (calls["route"] == PROMQL_ROUTE)]["duration"]
        if len(hops) and math.isclose(answer, exact_quantile(hops, PROMQL_Q), rel_tol=1e-6):
            return Feedback(False, "that is the exact p99 from the call log; the question asks what Prometheus "
                                   "would estimate from the histogram's buckets",
                            ko="그것은 호출 로그에서 구한 정확한 p99입니다. 문제는 Prometheus가 히스토그램 버킷으로 "
                               "추정할 값을 묻습니다")
    if math.isclose(answer, since_start_quantile(samples, 0.95, service=PROMQL_SERVICE, route=PROMQL_ROUTE),
                    rel_tol=1e-6):
        return Feedback(False, "that is the p95; the question asks for q = 0.99",
                        ko="그것은 p95입니다. 문제는 q = 0.99를 묻습니다")
    return Feedback(False, "keep the _bucket samples of service 'orders', route '/orders' at the last scrape time, "
                           "sum their values by le (over instances and status classes), then call "
                           "histogram_quantile(0.99, that dict)",
                    ko="마지막 수집 시각의 service 'orders', route '/orders' _bucket 샘플만 남기고, 인스턴스와 상태 "
                       "코드 구분을 합쳐 le별로 더한 다음 histogram_quantile(0.99, 그 dict)를 호출하세요")


# The question's numbers: a 99.9 % SLO; 0.5 % of requests failed in the last hour, 2 % in the last 5 minutes.
BURN_OBJECTIVE, BURN_LONG_BAD, BURN_SHORT_BAD = 0.999, 0.005, 0.02


@exercise("11.burn-rate")
def burn_rate(answer) -> Feedback:
    budget = 1 - BURN_OBJECTIVE
    long_rate, short_rate = BURN_LONG_BAD / budget, BURN_SHORT_BAD / budget
    fires = long_rate >= 14.4 and short_rate >= 14.4
    if not isinstance(answer, (tuple, list)) or len(answer) != 2 or isinstance(answer[0], bool) \
            or not isinstance(answer[0], (int, float)) or not isinstance(answer[1], bool):
        return Feedback(False, "answer with a pair: (burn rate over 1 h as a number, whether the page fires as True/False)",
                        ko="(1시간 번 레이트 숫자, 페이지 알림이 울리는지 True/False) 쌍으로 답하세요")
    rate, fired = answer
    if not math.isclose(rate, long_rate, rel_tol=1e-3):
        if math.isclose(rate, short_rate, rel_tol=1e-3):
            return Feedback(False, "that is the 5-minute burn rate; the question asks for the 1-hour one",
                            ko="그것은 5분 창의 번 레이트입니다. 문제는 1시간 창을 묻습니다")
        return Feedback(False, "the burn rate is the bad share divided by the error budget (1 - objective)",
                        ko="번 레이트는 실패 비율을 오류 예산(1 - 목표치)으로 나눈 값입니다")
    if fired != fires:
        return Feedback(False, f"{long_rate:g}x over 1 h is right; the page needs 14.4x over both windows",
                        ko=f"1시간 {long_rate:g}배는 맞습니다. 페이지 알림은 두 창 모두에서 14.4배 이상이어야 울립니다")
    return Feedback(True, f"{long_rate:g}x over 1 h and {short_rate:g}x over 5 min: the short window alone is not "
                          f"enough, so no page; at 5x the month's budget would last 6 days, worth a ticket if it goes on.",
                    ko=f"1시간 {long_rate:g}배, 5분 {short_rate:g}배: 짧은 창만으로는 부족하니 페이지는 울리지 "
                       f"않습니다. 5배라면 한 달 예산이 6일이면 바닥나니, 계속되면 티켓감입니다.")


# -- prediction: how long the 14.4x page takes to fire on the sharp outage ---------------------

@exercise("11.predict-page-delay")
def predict_page_delay(answer) -> Feedback:
    """``answer``: the sharp outage's alert summary (``sharp_summary``); the guess is the one recorded with ``predict``."""
    try:
        measured = float(answer.loc["page 14.4x", "fires_after"])
    except (AttributeError, KeyError, TypeError, ValueError):
        measured = math.nan
    if math.isnan(measured):
        return Feedback(False, "pass the summary of the sharp outage: check('11.predict-page-delay', sharp_summary)",
                        ko="급격한 장애의 요약을 넘기세요: check('11.predict-page-delay', sharp_summary)")

    def right(guess, actual):
        return is_number(guess) and abs(float(guess) - actual) <= 2

    def explain(guess, actual):
        why = (f"With every checkout failing, the last hour's burn rate climbs by 100 / 60 per minute of outage and "
               f"passes 14.4 once 14.4 % of the hour, 8.6 minutes, is failures; the 5-minute window is over 14.4 "
               f"within a minute, and the rule is evaluated once a minute, so it fired {actual:g} minutes in. The "
               f"long window is what makes even a total outage wait.")
        why_ko = (f"체크아웃이 모두 실패하면 지난 1시간의 번 레이트는 장애 1분마다 100 / 60씩 오르고, 실패가 그 1시간의 "
                  f"14.4 %, 즉 8.6분을 채우면 14.4를 넘습니다. 5분 창은 1분 안에 14.4를 넘고, 규칙은 1분에 한 번 "
                  f"평가되므로 {actual:g}분 만에 울렸습니다. 전면 장애조차 기다리게 만드는 것은 긴 창입니다.")
        if not is_number(guess):
            return ("The guess should be a number of minutes. " + why, "예측은 분 단위의 숫자여야 합니다. " + why_ko)
        if float(guess) >= 60 and abs(float(guess) / 60 - actual) <= 2:
            return ("This looks like seconds; the question asks for minutes. " + why,
                    "초 단위로 적은 것 같습니다. 이 문제는 분 단위로 묻습니다. " + why_ko)
        if 0 < float(guess) < 1 <= actual:
            return ("This looks like hours; the question asks for minutes. " + why,
                    "시간 단위로 적은 것 같습니다. 이 문제는 분 단위로 묻습니다. " + why_ko)
        off = abs(float(guess) - actual)
        return f"Off by {off:g} min. {why}", f"{off:g}분 차이입니다. {why_ko}"

    return judge_prediction("11.predict-page-delay", measured, right=right, explain=explain, unit="minutes")


# -- change and observe: a page that stops soon after the outage -------------------------------

#: The target of "11.short-window": on the sharp outage the fast page stops within STOP_WITHIN minutes of
#: its end and still fires within FIRE_WITHIN minutes of its start (1 h window, 14.4x kept).
STOP_WITHIN, FIRE_WITHIN = 2.0, 10.0


@exercise("11.short-window")
def short_window(answer) -> Feedback:
    """``answer``: the row ``sharp.rule_trial(availability, rule)`` returned."""
    needed = {"factor", "long_min", "short_min", "short_events", "budget", "incident_min", "fires_after",
              "stops_after_end"}
    if not hasattr(answer, "columns") or not needed <= set(answer.columns) or len(answer) != 1:
        return Feedback(False, "pass the row sharp.rule_trial(availability, rule) returned: "
                               "check('11.short-window', trial)",
                        ko="sharp.rule_trial(availability, rule)가 돌려준 행을 넘기세요: check('11.short-window', trial)")
    row = answer.iloc[0]
    factor, long_min, short_min = float(row["factor"]), float(row["long_min"]), float(row["short_min"])
    if not math.isclose(row["incident_min"], 15.0, abs_tol=0.5):
        return Feedback(False, "run the rule on the sharp outage of section 5: sharp.rule_trial(availability, rule)",
                        ko="5절의 급격한 장애에 규칙을 적용하세요: sharp.rule_trial(availability, rule)")
    if not (math.isclose(factor, 14.4) and math.isclose(long_min, 60.0)):
        return Feedback(False, f"refused: this rule is {factor:g}x over {long_min:g} min; keep the workbook's 14.4x "
                               f"over 1 hour and change only the short window",
                        ko=f"인정할 수 없습니다. 이 규칙은 {long_min:g}분 창에서 {factor:g}배입니다. 워크북의 1시간, 14.4배는 "
                           f"그대로 두고 짧은 창만 바꾸세요")
    events, budget = float(row["short_events"]), float(row["budget"])
    one_failure = 1 / max(events, 1e-9) / budget   # the short window's burn rate if one of its checkouts failed
    if events < 1 and short_min > 0:
        return Feedback(False, f"a short window of {short_min * 60:g} s holds less than one checkout: this looks like "
                               f"minutes; the window is given in seconds (2 * 60 for 2 minutes)",
                        ko=f"{short_min * 60:g}초짜리 짧은 창에는 체크아웃이 한 건도 들어가지 않습니다. 분 단위로 적은 것 "
                           f"같습니다. 창은 초 단위로 적습니다(2분이면 2 * 60)")
    if one_failure >= factor:
        return Feedback(False, f"refused: a {short_min:g}-minute window holds about {events:g} checkouts at one every "
                               f"10 s, so one failed checkout alone is a burn rate of {one_failure:.1f}, "
                               f"at or above 14.4. The short window must hold enough checkouts that a single failure "
                               f"cannot push it over the threshold",
                        ko=f"인정할 수 없습니다. {short_min:g}분 창에는 10초에 한 번꼴로 체크아웃이 약 {events:g}개 "
                           f"들어가므로, 실패 한 건만으로 번 레이트가 {one_failure:.1f}가 되어 14.4 이상입니다. "
                           f"짧은 창에는 실패 한 건이 혼자 임곗값을 넘기지 못할 만큼 체크아웃이 들어가야 합니다")
    fires, stops = float(row["fires_after"]), float(row["stops_after_end"])
    if math.isnan(fires) or fires > FIRE_WITHIN:
        return Feedback(False, "this rule did not page within 10 minutes of the outage's start",
                        ko="이 규칙은 장애가 시작되고 10분 안에 알림을 보내지 않았습니다")
    if stops > STOP_WITHIN:
        return Feedback(False, f"with a {short_min:g}-minute short window the page went on {stops:g} min after "
                               f"payment recovered, {stops - STOP_WITHIN:g} min past the target of "
                               f"{STOP_WITHIN:g} min",
                        ko=f"짧은 창이 {short_min:g}분이면 payment가 회복된 뒤에도 알림이 {stops:g}분 동안 이어져, 목표 "
                           f"{STOP_WITHIN:g}분을 {stops - STOP_WITHIN:g}분 넘깁니다")
    return Feedback(True, f"a {short_min:g}-minute short window: the page fired {fires:g} min in, as before (the "
                          f"hour decides when it starts), and stopped {stops:g} min after the end (the short window "
                          f"decides when it stops). The workbook's pairs make the short window a twelfth of the long "
                          f"one, a starting point rather than a law: how short it can go depends on the traffic it "
                          f"holds.",
                    ko=f"짧은 창 {short_min:g}분: 알림은 이전처럼 {fires:g}분 만에 울렸고(언제 시작할지는 1시간 창이 "
                       f"정합니다), 장애가 끝나고 {stops:g}분 뒤에 멈췄습니다(언제 멈출지는 짧은 창이 정합니다). 워크북의 "
                       f"짝은 짧은 창을 긴 창의 12분의 1로 두지만, 그것은 출발점일 뿐 법칙이 아닙니다. 얼마나 짧게 할 수 "
                       f"있는지는 그 창에 들어가는 트래픽이 정합니다.")
