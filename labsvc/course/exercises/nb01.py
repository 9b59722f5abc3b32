"""Checkers for notebook 01 (monolith vs microservices)."""

from __future__ import annotations

import pandas as pd

from labsvc.course import Feedback, exercise
from labsvc.shop import FEATURES


@exercise("01.blast-radius")
def blast_radius(answer, result) -> Feedback:
    if result.design != "microservices":
        return Feedback(False, "run module_crash_experiment('microservices', 'inventory') and pass its result",
                        ko="module_crash_experiment('microservices', 'inventory')를 실행하고 그 결과를 넘기세요")
    answer = set(answer) if not isinstance(answer, str) else {answer}
    unknown = answer - set(FEATURES)
    if unknown:
        return Feedback(False, f"{sorted(unknown)} are not features; they are {list(FEATURES)}",
                        ko=f"{sorted(unknown)}은(는) 기능이 아닙니다. 기능은 {list(FEATURES)}입니다")
    table = result.availability.set_index("feature")
    hurt = set(table.index[table["availability"] < 0.99])
    expected = {f for f, spec in FEATURES.items() if "inventory" in spec["modules"]}
    if hurt != expected:
        return Feedback(False, f"the experiment you passed hurt {sorted(hurt)}: crash 'inventory', not another module",
                        ko=f"넘겨준 실험에서 영향을 받은 기능은 {sorted(hurt)}입니다. 다른 모듈이 아니라 'inventory'를 다운시키세요")
    if answer != hurt:
        return Feedback(False, "look at the availability column: which features dropped below 99 %?",
                        ko="availability 열을 보세요. 어떤 기능이 99 % 아래로 떨어졌나요?")
    return Feedback(True, f"only {sorted(hurt)} need inventory; the others never call it, so they kept working.",
                    ko=f"inventory가 필요한 기능은 {sorted(hurt)}뿐입니다. 나머지 기능은 inventory를 호출하지 않으므로 계속 동작했습니다.")


@exercise("01.hops")
def hops(answer, calls: pd.DataFrame) -> Feedback:
    first = calls[(calls["caller"] == "users") & (calls["method"] == "POST") & (calls["status"] == 201)]
    if first.empty:
        return Feedback(False, "the call log has no successful checkout (POST /orders from 'users'); place one first",
                        ko="호출 로그에 성공한 결제(checkout, 'users'가 보낸 POST /orders)가 없습니다. 먼저 주문을 하나 넣으세요")
    sizes = calls[calls["trace_id"].isin(first["trace_id"])].groupby("trace_id").size()
    expected = int(sizes.median())
    if answer != expected:
        return Feedback(False, "group the call log by trace_id and count the rows of a checkout's trace",
                        ko="호출 로그를 trace_id로 묶고, 결제 한 건의 트레이스에 속한 행 수를 세세요")
    return Feedback(True, f"{expected} hops for one checkout: every arrow is a network call that can be slow or fail.",
                    ko=f"결제 한 건에 홉 {expected}개: 화살표 하나하나가 느려지거나 실패할 수 있는 네트워크 호출입니다.")


@exercise("01.redeploy")
def redeploy(answer, results: dict) -> Feedback:
    lost = {d: int((~r.requests["ok"]).sum()) for d, r in results.items()}
    if set(lost) != {"monolith", "microservices"}:
        return Feedback(False, "pass both results: {'monolith': ..., 'microservices': ...}",
                        ko="두 결과를 모두 넘기세요: {'monolith': ..., 'microservices': ...}")
    worse = max(lost, key=lost.get)
    if answer != worse:
        return Feedback(False, f"count the failed requests of each design (the 'ok' column) and compare: {lost}",
                        ko=f"설계마다 실패한 요청('ok' 열)을 세어 비교하세요: {lost}")
    return Feedback(True, f"failed requests during the redeploy: {lost}.",
                    ko=f"재배포 동안 실패한 요청 수: {lost}.")
