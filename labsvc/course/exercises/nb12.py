"""Checkers for notebook 12 (configuration and security)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from labsvc.course import Feedback, exercise

_PRECEDENCE_APP, _PRECEDENCE_PROFILES, _PRECEDENCE_KEY = "greeting", "prod,eu", "greeting.message"


@exercise("12.precedence")
def precedence_answer(answer) -> Feedback:
    """Which ``greeting.message`` does greeting get with profiles ``prod,eu``? Recomputed from the demo repository."""
    from labsvc.config import ConfigCipher, demo_repository, precedence, resolve

    repo = demo_repository(ConfigCipher())
    env = repo.environment(_PRECEDENCE_APP, _PRECEDENCE_PROFILES)
    truth = resolve(env)[_PRECEDENCE_KEY]
    winner = next(s["name"].split(":", 1)[1] for s in env["propertySources"] if _PRECEDENCE_KEY in s["source"])
    order = ", ".join(precedence(_PRECEDENCE_APP, _PRECEDENCE_PROFILES))
    if not isinstance(answer, str):
        return Feedback(False, "answer with the message text, a string such as 'hello'",
                        ko="메시지 문자열로 답하세요. 예: 'hello'")
    given = answer.strip().rstrip(".!")
    if given == truth:
        return Feedback(True, f"'{truth}' comes from {winner}: of two profiles the later one (eu) wins, and an "
                              f"application's own sources beat the shared ones.",
                        ko=f"'{truth}'는 {winner}에서 옵니다. 프로파일이 둘이면 뒤의 것(eu)이 이기고, "
                           f"애플리케이션 자신의 소스가 공유 소스보다 우선합니다.")
    sources = {s["name"].split(":", 1)[1]: s["source"].get(_PRECEDENCE_KEY) for s in env["propertySources"]}
    came_from = [name for name, value in sources.items() if value == given]
    if came_from:
        return Feedback(False, f"'{given}' is what {came_from[0]} says, but a source above it also sets the key. "
                               f"Walk the order from the top: {order}",
                        ko=f"'{given}'는 {came_from[0]}의 값이지만, 그보다 위의 소스도 이 키를 정합니다. "
                           f"위에서부터 순서대로 보세요: {order}")
    return Feedback(False, f"no source gives '{given}'. List repo.environment('greeting', 'prod,eu') and take the "
                           f"first source that has greeting.message",
                    ko=f"'{given}'를 주는 소스가 없습니다. repo.environment('greeting', 'prod,eu')를 펼쳐 보고 "
                       f"greeting.message가 있는 첫 소스를 고르세요")


@exercise("12.route-scope")
def route_scope(answer, probe) -> Feedback:
    """The learner's route -> scopes table, judged by the probe they ran with it."""
    from labsvc.auth import INVENTORY_SCOPES

    if not isinstance(answer, Mapping):
        return Feedback(False, "answer with the table: a dict of route -> tuple of scopes, like INVENTORY_SCOPES",
                        ko="표로 답하세요: INVENTORY_SCOPES처럼 경로 -> 스코프 튜플의 dict입니다")
    if not isinstance(probe, pd.DataFrame) or "should_pass" not in probe:
        return Feedback(False, "pass the probe of your table: probe=await probe_scopes(answer)",
                        ko="여러분의 표로 돌린 점검 결과를 넘기세요: probe=await probe_scopes(answer)")
    table = {k: tuple(v) for k, v in answer.items()}
    if probe.attrs.get("route_scopes") != table:
        return Feedback(False, "this probe was run with another table; run probe_scopes(answer) again with your "
                               "answer and pass that",
                        ko="이 점검 결과는 다른 표로 돌린 것입니다. probe_scopes(answer)를 여러분의 답으로 다시 돌려 넘기세요")
    passed = probe["status"] < 400
    leaks = probe[passed & ~probe["should_pass"]]
    if not leaks.empty:
        row = leaks.iloc[0]
        needed = " ".join(INVENTORY_SCOPES[row["route"]])
        return Feedback(False, f"{row['route']} let '{row['client']}' through with only '{row['granted']}': this "
                               f"route changes stock, so it must require '{needed}'",
                        ko=f"{row['route']}가 '{row['granted']}'만 가진 '{row['client']}'를 통과시켰습니다. "
                           f"재고를 바꾸는 경로이므로 '{needed}'를 요구해야 합니다")
    blocked = probe[~passed & probe["should_pass"]]
    if not blocked.empty:
        row = blocked.iloc[0]
        return Feedback(False, f"{row['route']} now refuses '{row['client']}' ({row['status']}), which holds "
                               f"'{row['granted']}' and needs the route: ask only for the scope the route needs",
                        ko=f"{row['route']}가 '{row['granted']}'를 가진 '{row['client']}'를 거부합니다"
                           f"({row['status']}). 그 경로에 필요한 스코프만 요구하세요")
    return Feedback(True, f"all {len(probe)} calls went as least privilege says: each client reaches exactly the "
                          f"routes its scopes cover, and gets 403 insufficient_scope elsewhere.",
                    ko=f"{len(probe)}개 호출이 모두 최소 권한 원칙대로 처리되었습니다. 각 클라이언트는 스코프가 허락하는 "
                       f"경로에만 닿고, 나머지에서는 403 insufficient_scope를 받습니다.")


@exercise("12.reach-every-instance")
def reach_every_instance(answer) -> Feedback:
    """A :class:`labsvc.config.RefreshRun` in which the change reached every instance and no request failed."""
    from labsvc.config import RefreshRun

    if not isinstance(answer, RefreshRun):
        return Feedback(False, "pass the result of refresh_under_load(method=...)",
                        ko="refresh_under_load(method=...)의 결과를 넘기세요")
    final = answer.final
    stale = final.loc[final["message"] != answer.new_message, "instance"].tolist()
    failed = int((~answer.responses["status"].between(200, 399)).sum())
    if failed:
        return Feedback(False, f"{failed} requests failed during the refresh; a refresh must not cost requests",
                        ko=f"새로 고침 중에 요청 {failed}개가 실패했습니다. 새로 고침은 요청을 잃으면 안 됩니다")
    if stale:
        how = {"none": "the repository changed, but no instance was told to fetch again",
               "one": "POST /refresh reaches the one instance you called",
               "each": "some instance was not refreshed"}.get(answer.method, "some instance did not refresh")
        return Feedback(False, f"{', '.join(stale)} still serve the old value: {how}. Make one call that every "
                               f"instance hears",
                        ko=f"{', '.join(stale)}는 아직 옛 값을 응답합니다. 모든 인스턴스가 듣는 호출 한 번을 쓰세요"
                           f" (method={answer.method!r})")
    if answer.method == "each":
        return Feedback(True, "every instance serves the new value, but you had to know and call each one; "
                              "method='bus' does it with one event, for instances you do not even know of.",
                        ko="모든 인스턴스가 새 값을 응답합니다. 다만 인스턴스를 하나하나 알고 불러야 했습니다. "
                           "method='bus'는 이벤트 하나로, 모르는 인스턴스까지 바꿉니다.")
    return Feedback(True, f"one event on the broker, {len(final)} instances refreshed, 0 requests failed, "
                          f"no restart.",
                    ko=f"브로커에 이벤트 하나, 인스턴스 {len(final)}개가 새로 고쳐졌고, 실패한 요청 0개, 재시작 없음.")


# -- prediction: how many answers stay old after POST /refresh to one instance ----------------

@exercise("12.predict-stale-share")
def predict_stale_share(answer) -> Feedback:
    """``answer``: section 3's ``one`` run; the guess is the one recorded with ``predict`` (a percentage)."""
    from labsvc.config import RefreshRun
    from labsvc.course import is_number
    from labsvc.course.predictions import judge_prediction

    if not isinstance(answer, RefreshRun) or answer.method != "one":
        return Feedback(False, "pass the run of section 3 that refreshed one instance: "
                               "check('12.predict-stale-share', one)",
                        ko="3절에서 인스턴스 하나만 새로 고친 실행 결과를 넘기세요: check('12.predict-stale-share', one)")
    after = answer.phases().set_index("phase").loc["after"]
    measured = round(100 * (1 - float(after["share_new"])), 1)
    n = len(answer.instances)

    def right(guess, actual):
        return is_number(guess) and abs(float(guess) - actual) <= 10

    def explain(guess, actual):
        why = (f"Only greeting-1 fetched again; the balancer kept spreading requests over all {n} instances, so "
               f"{n - 1} in {n} of the {int(after['requests'])} answers after the refresh still came from an instance "
               f"with the old snapshot, and would until each one is refreshed.")
        why_ko = (f"다시 가져온 것은 greeting-1뿐입니다. 밸런서는 계속 인스턴스 {n}개에 요청을 고루 나누므로, 새로 고침 "
                  f"뒤 응답 {int(after['requests'])}개 중 {n}개에 {n - 1}개꼴은 옛 스냅숏을 가진 인스턴스가 "
                  f"보냈습니다. 각 인스턴스를 새로 고칠 때까지 그대로입니다.")
        if not is_number(guess):
            return "The guess should be a percentage. " + why, "예측은 백분율 숫자여야 합니다. " + why_ko
        if 0 < guess <= 1 < actual:
            return ("This looks like a share between 0 and 1; the question asks for a percentage. " + why,
                    "0과 1 사이의 비율로 적은 것 같습니다. 이 문제는 백분율로 묻습니다. " + why_ko)
        off = abs(float(guess) - actual)
        return f"Off by {off:.0f} percentage points. {why}", f"{off:.0f}%p 차이입니다. {why_ko}"

    return judge_prediction("12.predict-stale-share", measured, right=right, explain=explain, unit="percent")


# -- change and observe: a token lifetime that limits a stolen token -------------------------

#: The target of "12.token-lifetime": a stolen token works at most this many seconds, while orders asks
#: the token service for at most MAX_TOKENS_PER_HOUR tokens, over a run of RUN_MINUTES.
STOLEN_FOR_AT_MOST = 150.0
MAX_TOKENS_PER_HOUR = 60
RUN_MINUTES = 30.0


@exercise("12.token-lifetime")
def token_lifetime(answer) -> Feedback:
    """``answer``: the table ``stolen_token(ttl=...)`` returned."""
    needed = {"t", "caller", "status", "reason"}
    attrs = getattr(answer, "attrs", {}) or {}
    if not isinstance(answer, pd.DataFrame) or not needed <= set(answer.columns) or "token_requests" not in attrs:
        return Feedback(False, "pass the table stolen_token(ttl=...) returned: check('12.token-lifetime', stolen)",
                        ko="stolen_token(ttl=...)가 돌려준 표를 넘기세요: check('12.token-lifetime', stolen)")
    minutes, ttl = float(attrs["minutes"]), float(attrs["ttl"])
    if minutes != RUN_MINUTES:
        return Feedback(False, f"this run lasted {minutes:g} minutes; keep the exercise's {RUN_MINUTES:g} and change "
                               f"only ttl",
                        ko=f"이 실행은 {minutes:g}분 동안 돌았습니다. 연습의 {RUN_MINUTES:g}분은 그대로 두고 ttl만 바꾸세요")
    own = answer[answer["caller"] == "orders"]
    if (own["status"] != 200).any():
        return Feedback(False, "some of orders' own calls were refused: its tokens must keep working",
                        ko="orders 자신의 호출 일부가 거부되었습니다. orders의 토큰은 계속 통해야 합니다")
    per_hour = int(attrs["token_requests"]) * 60 / minutes
    if per_hour > MAX_TOKENS_PER_HOUR:
        return Feedback(False, f"refused: with ttl={ttl:g} s orders asked for {per_hour:.0f} tokens an hour, the "
                               f"budget is {MAX_TOKENS_PER_HOUR}. Every token is a call to the token service and a "
                               f"signature; a lifetime that short makes the token service a bottleneck. Raise ttl",
                        ko=f"인정할 수 없습니다. ttl={ttl:g}초에서 orders가 1시간에 토큰을 {per_hour:.0f}개 요청했는데, "
                           f"예산은 {MAX_TOKENS_PER_HOUR}개입니다. 토큰마다 토큰 서비스 호출과 서명이 한 번씩 듭니다. "
                           f"수명이 이렇게 짧으면 토큰 서비스가 병목이 됩니다. ttl을 늘리세요")
    thief = answer[answer["caller"] == "attacker"]
    refused = thief.loc[thief["status"] >= 400, "t"]
    if refused.empty:
        return Feedback(False, f"the stolen token still worked at the end of the run ({minutes:g} minutes): target "
                               f"{STOLEN_FOR_AT_MOST:g} s. Lower ttl",
                        ko=f"훔친 토큰이 실행이 끝날 때({minutes:g}분)까지 통했습니다. 목표는 {STOLEN_FOR_AT_MOST:g}초입니다. "
                           f"ttl을 줄이세요")
    worked = float(refused.min())
    reason = str(thief.loc[thief["status"] >= 400, "reason"].iloc[0])
    if worked > STOLEN_FOR_AT_MOST:
        return Feedback(False, f"ttl={ttl:g} s: the stolen token worked for {worked:.0f} s, until it expired; target "
                               f"{STOLEN_FOR_AT_MOST:g} s, missed by {worked - STOLEN_FOR_AT_MOST:.0f} s",
                        ko=f"ttl={ttl:g}초: 훔친 토큰이 만료될 때까지 {worked:.0f}초 동안 통했습니다. 목표는 "
                           f"{STOLEN_FOR_AT_MOST:g}초이고, {worked - STOLEN_FOR_AT_MOST:.0f}초 넘쳤습니다")
    return Feedback(True, f"ttl={ttl:g} s: the stolen token was refused after {worked:.0f} s ({reason}), and orders "
                          f"asked for {per_hour:.0f} tokens an hour. A self-contained JWT cannot be called back: its "
                          f"lifetime is the longest a copy of it works, and every halving of it doubles the calls to "
                          f"the token service.",
                    ko=f"ttl={ttl:g}초: 훔친 토큰은 {worked:.0f}초 뒤에 거부되었고({reason}), orders는 1시간에 토큰을 "
                       f"{per_hour:.0f}개 요청했습니다. 자체 포함형 JWT는 되돌려 받을 수 없습니다. 수명이 곧 사본이 통하는 "
                       f"최대 시간이고, 수명을 절반으로 줄일 때마다 토큰 서비스 호출은 두 배가 됩니다.")
