"""Checkers for notebook 00 (start here)."""

from __future__ import annotations

import math

import pandas as pd

from labsvc.course import Feedback, exercise


@exercise("00.instance-url")
def instance_url(answer: str) -> Feedback:
    if not isinstance(answer, str):
        return Feedback(False, "give the URL as a string, e.g. 'http://something.svc'",
                        ko="URL을 문자열로 답하세요. 예: 'http://something.svc'")
    if answer.rstrip("/") == "http://catalog-2.svc":
        return Feedback(True, "each instance has its own URL; http://catalog.svc lets the balancer choose.",
                        ko="인스턴스마다 자기 URL이 있습니다. http://catalog.svc로 보내면 로드 밸런서가 인스턴스를 고릅니다.")
    if answer.rstrip("/") == "http://catalog.svc":
        return Feedback(False, "that is the service URL (the balancer picks an instance); the question asks for one instance",
                        ko="그건 서비스 URL입니다(로드 밸런서가 인스턴스를 고릅니다). 문제는 인스턴스 하나의 URL을 묻고 있습니다")
    return Feedback(False, "instances are named <service>-<number>; look at the 'url' column of net.status()",
                    ko="인스턴스 이름은 <서비스>-<번호> 형식입니다. net.status()의 'url' 열을 보세요")


def _instance_calls(calls: pd.DataFrame, instance: str) -> pd.DataFrame:
    return calls[(calls["instance"] == instance) & (calls["status"] > 0)]


@exercise("00.inject-latency")
def inject_latency(answer: float, calls: pd.DataFrame) -> Feedback:
    mine = _instance_calls(calls, "inventory-1")
    slow = mine[mine["fault"] == "latency"]
    if len(slow) < 10:
        return Feedback(False, f"the call log has {len(slow)} calls to inventory-1 with injected latency; make at least 10",
                        ko=f"호출 로그에 지연을 주입한 inventory-1 호출이 {len(slow)}건뿐입니다. 10건 이상 보내세요")
    measured = slow["duration"].median() * 1000
    if measured < 50:
        return Feedback(False, f"the median hop took {measured:.1f} ms: inject at least 50 ms on inventory-1",
                        ko=f"홉의 중앙값이 {measured:.1f} ms입니다. inventory-1에 50 ms 이상의 지연을 주입하세요")
    if not isinstance(answer, (int, float)) or math.isnan(answer) or abs(answer - measured) > max(1.0, 0.05 * measured):
        return Feedback(False, f"read the median of the 'duration' column (in ms) for those calls; it is not {answer!r}",
                        ko=f"그 호출들의 'duration' 열 중앙값(ms 단위)을 읽으세요. {answer!r}은(는) 아닙니다")
    return Feedback(True, f"median {measured:.1f} ms: the injected delay plus the service's own time.",
                    ko=f"중앙값 {measured:.1f} ms: 주입한 지연에 서비스 자체의 처리 시간이 더해진 값입니다.")


@exercise("00.error-rate")
def error_rate(answer: float, calls: pd.DataFrame) -> Feedback:
    mine = calls[calls["callee"] == "catalog"]
    if len(mine) < 100:
        return Feedback(False, f"send at least 100 requests to catalog (the call log has {len(mine)})",
                        ko=f"catalog에 요청을 100건 이상 보내세요(호출 로그에는 {len(mine)}건 있습니다)")
    observed = float((mine["status"] >= 500).mean())
    if not isinstance(answer, (int, float)) or abs(answer - observed) > 1e-9:
        return Feedback(False, "compute the share of calls to catalog whose status is 500 or more from the call log",
                        ko="호출 로그에서 catalog로 간 호출 중 상태 코드가 500 이상인 비율을 계산하세요")
    injected = 0.25
    band = 3 * math.sqrt(injected * (1 - injected) / len(mine))
    if abs(observed - injected) > band:
        return Feedback(False, f"observed {observed:.2f}, far from 0.25: inject error_rate=0.25 on 'catalog' and clear the log first",
                        ko=f"관찰값 {observed:.2f}는 0.25와 거리가 멉니다. 먼저 로그를 비우고 'catalog'에 error_rate=0.25를 주입하세요")
    return Feedback(True, f"observed {observed:.3f} for an injected 0.25: a seeded coin flip per call, so the same seed repeats it.",
                    ko=f"0.25를 주입해서 {observed:.3f}를 관찰했습니다. 호출마다 시드를 고정한 동전 던지기이므로, 같은 시드면 같은 결과가 나옵니다.")
