"""Checkers for notebook 00 (start here)."""

from __future__ import annotations

import math

import pandas as pd

from labsvc.course import Feedback, exercise, is_number


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


# -- prediction: the p99 of section 4's tail-latency run ----------------------------------------

@exercise("00.predict-p99")
def predict_p99(answer) -> Feedback:
    """``answer``: section 4's load run (``run``); the guess is the one recorded with ``predict``."""
    from labsvc.course.predictions import judge_prediction

    df = getattr(answer, "df", None)
    if not isinstance(df, pd.DataFrame) or "latency" not in df or not hasattr(answer, "summary"):
        return Feedback(False, "pass the load run of section 4: check('00.predict-p99', run)",
                        ko="4절의 부하 실행 결과를 넘겨주세요: check('00.predict-p99', run)")
    summary = answer.summary()
    measured = round(float(summary["p99_ms"]), 1)
    p50 = float(summary["p50_ms"])
    slow, n = int((df["latency"] > 0.020).sum()), len(df)

    def right(guess, actual):
        return is_number(guess) and abs(float(guess) - actual) <= 5

    def explain(guess, actual):
        why = (f"{slow} of the {n} requests ({slow / n:.1%}) got the extra 40 ms: more than 1 %, so the slowest 1 % "
               f"all sit in the slow band and p99 lands there, while the median stays at {p50:.0f} ms.")
        why_ko = (f"요청 {n}건 중 {slow}건({slow / n:.1%})이 40 ms를 더 기다렸습니다. 1 %보다 많으므로 가장 느린 1 %는 "
                  f"모두 느린 구간에 있고 p99도 그 구간에 놓입니다. 중앙값은 {p50:.0f} ms 그대로입니다.")
        if not is_number(guess):
            return ("The guess should be a number of milliseconds. " + why,
                    "예측은 밀리초 단위의 숫자여야 합니다. " + why_ko)
        if abs(float(guess) * 1000 - actual) <= 5 < abs(float(guess) - actual):
            return ("This looks like seconds; the question asks for milliseconds. " + why,
                    "초 단위로 적은 것 같습니다. 이 문제는 밀리초 단위로 묻습니다. " + why_ko)
        off = abs(float(guess) - actual)
        return f"Off by {off:.0f} ms. {why}", f"{off:.0f} ms 차이입니다. {why_ko}"

    return judge_prediction("00.predict-p99", measured, right=right, explain=explain, unit="ms")


# -- change and observe: enough instances to ride out a crash ----------------------------------

#: The target of "00.instances": availability while catalog-2 is down for 0.5 s of 1.5 s, with at most
#: MAX_INSTANCES catalog instances.
AVAILABILITY_TARGET = 0.88
MAX_INSTANCES = 4


@exercise("00.instances")
def instances(answer) -> Feedback:
    """``answer``: the ``Studio`` of the crash drill, after its ``run_load`` (the exercise cell builds it)."""
    run, net = getattr(answer, "last_run", None), getattr(answer, "net", None)
    if run is None or net is None:
        return Feedback(False, "pass the drill's Studio after its run: check('00.instances', drill)",
                        ko="실행을 마친 훈련용 Studio를 넘겨주세요: check('00.instances', drill)")
    actions = answer.run_actions()
    crashed = actions[(actions["action"] == "crash") & (actions["target"] == "catalog-2")] if len(actions) else actions
    if crashed.empty:
        return Feedback(False, "the drill must crash catalog-2 during the run: keep the during=[...] list as it is",
                        ko="훈련 중에 catalog-2가 멈춰야 합니다. during=[...] 목록은 그대로 두세요")
    count = len(net.service("catalog").instances)
    availability = float(run.summary()["availability"])
    if count > MAX_INSTANCES:
        return Feedback(False, f"refused: {count} catalog instances is over the budget of {MAX_INSTANCES} "
                               f"(availability was {availability:.1%}); reach the target with fewer",
                        ko=f"받아들일 수 없습니다: catalog 인스턴스 {count}개는 예산 {MAX_INSTANCES}개를 넘습니다"
                           f"(가용성 {availability:.1%}). 더 적은 인스턴스로 목표에 도달하세요")
    errors = int(run.summary()["errors"])
    if availability < AVAILABILITY_TARGET:
        gap = (AVAILABILITY_TARGET - availability) * 100
        return Feedback(False, f"with {count} instances, {errors} requests failed: availability {availability:.1%}, "
                               f"{gap:.1f} points short of the {AVAILABILITY_TARGET:.0%} target. While catalog-2 is "
                               f"down, round robin still sends it one call in {count}",
                        ko=f"인스턴스 {count}개일 때 요청 {errors}건이 실패했습니다. 가용성 {availability:.1%}로 목표 "
                           f"{AVAILABILITY_TARGET:.0%}에 {gap:.1f}%p 모자랍니다. catalog-2가 멈춘 동안에도 라운드 로빈은 "
                           f"호출 {count}건 중 1건을 그쪽으로 보냅니다")
    return Feedback(True, f"{count} instances: availability {availability:.1%} ({errors} failed requests). Round "
                          f"robin still sends the dead instance one call in {count}, so more instances shrink the "
                          f"share that fails, but never to zero: that takes a balancer that notices (notebooks 08 "
                          f"and 10).",
                    ko=f"인스턴스 {count}개: 가용성 {availability:.1%}(실패한 요청 {errors}건). 라운드 로빈은 멈춘 "
                       f"인스턴스에도 여전히 호출 {count}건 중 1건을 보내므로, 인스턴스를 늘리면 실패 비율은 줄지만 0이 "
                       f"되지는 않습니다. 0으로 만들려면 이를 알아차리는 로드 밸런서가 필요합니다(노트북 08과 10).")
