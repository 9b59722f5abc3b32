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
