"""Checkers for notebook 13 (deployment on a platform)."""

from __future__ import annotations

import math

import pandas as pd

from labsvc.course import Feedback, exercise, is_number
from labsvc.platform import (
    CloudFoundryBackOff, CrashLoopBackOff, HorizontalPodAutoscaler, desired_replicas, restart_timeline,
)

# The HPA question's numbers: 8 instances at 45 requests/s each, target 20, at most 20 instances.
HPA_CURRENT, HPA_METRIC, HPA_TARGET, HPA_MAX = 8, 45, 20, 20
# The back-off question: the delay before the restart that follows the 6th crash in a row.
BACKOFF_CRASHES = 6
# The Cloud Foundry question: an instance that crashes the moment it starts; when is it restarted after crash 5?
CF_CRASH = 5


@exercise("13.hpa-first-sync")
def hpa_first_sync(answer) -> Feedback:
    from labsvc.core.clock import FakeClock

    hpa = HorizontalPodAutoscaler(target=HPA_TARGET, min_replicas=1, max_replicas=HPA_MAX, clock=FakeClock())
    truth = hpa.reconcile(HPA_CURRENT, HPA_METRIC)
    formula = desired_replicas(HPA_CURRENT, HPA_METRIC, HPA_TARGET)
    if not is_number(answer):
        return Feedback(False, "answer with a number of instances", ko="인스턴스 개수(숫자)로 답하세요")
    if answer == formula:
        return Feedback(False, f"{formula} is what the formula asks for; one sync may add at most the larger of "
                               f"100 % and 4 instances (the scale-up policy)",
                        ko=f"{formula}은 공식이 요구하는 값입니다. 한 번의 동기화에서는 100 %와 4개 중 큰 쪽까지만 "
                           f"늘릴 수 있습니다(scale-up 정책)")
    if answer != truth:
        return Feedback(False, "start from ceil(current x metric / target), then apply the scale-up limit: "
                               "max(current x 2, current + 4)",
                        ko="ceil(현재 개수 x 지표 / 목표)에서 시작해 scale-up 한도 max(현재 x 2, 현재 + 4)를 적용하세요")
    return Feedback(True, f"{truth}: the formula wants {formula}, the policy allows {truth} in this 15 s period; the "
                          f"next sync reaches {formula}.",
                    ko=f"{truth}: 공식은 {formula}을 원하지만 정책이 이번 15초 주기에 {truth}까지만 허용합니다. "
                       f"다음 동기화에서 {formula}에 도달합니다.")


@exercise("13.backoff")
def backoff(answer) -> Feedback:
    b = CrashLoopBackOff()
    delays = [b.next_delay() for _ in range(BACKOFF_CRASHES)]
    truth = delays[-1]
    if not is_number(answer):
        return Feedback(False, "answer with a number of seconds", ko="초 단위 숫자로 답하세요")
    if math.isclose(answer, 10 * 2 ** (BACKOFF_CRASHES - 1)):
        return Feedback(False, "the doubling does not go on for ever: Kubernetes caps the back-off",
                        ko="두 배씩 끝없이 늘어나지 않습니다. Kubernetes는 back-off에 상한을 둡니다")
    if not math.isclose(answer, truth):
        return Feedback(False, "the first restart waits 10 s, each next one twice as long, up to 5 minutes",
                        ko="첫 재시작은 10초를 기다리고, 그다음은 매번 두 배, 최대 5분까지입니다")
    return Feedback(True, f"{truth:g} s: the delays were {', '.join(f'{d:g}' for d in delays)}; after 10 minutes "
                          f"of running without a crash the back-off starts over at 10 s.",
                    ko=f"{truth:g}초: 지연은 {', '.join(f'{d:g}' for d in delays)}초였습니다. 10분 동안 죽지 않고 "
                       f"돌면 back-off는 다시 10초부터 시작합니다.")


@exercise("13.canary-share")
def canary_share(answer, run) -> Feedback:
    load = getattr(run, "load", None)
    if not isinstance(load, pd.DataFrame) or "ok" not in load:
        return Feedback(False, "pass the canary run: check(..., run=runs['canary (bad v3)'])",
                        ko="canary 실행 결과를 넘기세요: check(..., run=runs['canary (bad v3)'])")
    if not getattr(run, "rolled_back", False):
        return Feedback(False, "this run was not rolled back; pass the run of the bad canary",
                        ko="이 실행은 롤백되지 않았습니다. 잘못된 canary의 실행 결과를 넘기세요")
    truth = float((~load["ok"]).mean())
    if not is_number(answer) or not math.isclose(answer, truth, abs_tol=1e-9):
        return Feedback(False, "count the rows of run.load whose ok is False and divide by the number of rows",
                        ko="run.load에서 ok가 False인 행의 수를 전체 행 수로 나누세요")
    weight = float(run.steps["weight"].max())
    return Feedback(True, f"{truth:.1%} of all requests failed: the canary had {weight:.0%} of the traffic only "
                          f"during its first step, and the analysis sent it back before the {weight:.0%} became more.",
                    ko=f"전체 요청의 {truth:.1%}가 실패했습니다. canary는 첫 단계 동안에만 트래픽의 {weight:.0%}를 "
                       f"받았고, 분석이 그 이상 늘기 전에 되돌렸습니다.")


@exercise("13.cf-restart")
def cf_restart(answer) -> Feedback:
    cf = restart_timeline(CloudFoundryBackOff, crashes=CF_CRASH).iloc[-1]
    k8s = restart_timeline(CrashLoopBackOff, crashes=CF_CRASH).iloc[-1]
    truth, crashed, wait = float(cf["starting_at"]), float(cf["crashed_at"]), float(cf["wait"])
    if not is_number(answer):
        return Feedback(False, "answer with a time in seconds after the first crash",
                        ko="첫 크래시로부터 몇 초 뒤인지 숫자로 답하세요")
    if math.isclose(answer, wait):
        return Feedback(False, f"{wait:g} s is the wait after crash {CF_CRASH} alone; add the time at which that "
                               f"crash happened (the waits before it add up)",
                        ko=f"{wait:g}초는 {CF_CRASH}번째 크래시 뒤의 대기만입니다. 그 크래시가 일어난 시각(앞선 대기의 합)을 "
                           f"더하세요")
    if math.isclose(answer, float(k8s["starting_at"])):
        return Feedback(False, "that is Kubernetes' CrashLoopBackOff (10 s doubling); Cloud Foundry restarts the "
                               "first three crashes at once, then waits 30 s, doubling",
                        ko="그것은 Kubernetes의 CrashLoopBackOff(10초부터 두 배)입니다. Cloud Foundry는 처음 세 번의 "
                           "크래시를 바로 재시작하고, 그다음 30초부터 두 배씩 기다립니다")
    if not math.isclose(answer, truth):
        return Feedback(False, "add up the waits: crashes 1-3 restart at once, crash 4 waits 30 s, crash 5 twice "
                               "as long",
                        ko="대기를 더하세요. 크래시 1-3은 바로 재시작, 크래시 4는 30초, 크래시 5는 그 두 배를 기다립니다")
    return Feedback(True, f"{truth:g} s: crash {CF_CRASH} happens at {crashed:g} s and waits {wait:g} s. Kubernetes "
                          f"would restart the same instance at {float(k8s['starting_at']):g} s.",
                    ko=f"{truth:g}초: {CF_CRASH}번째 크래시는 {crashed:g}초에 일어나고 {wait:g}초를 기다립니다. "
                       f"Kubernetes라면 같은 인스턴스를 {float(k8s['starting_at']):g}초에 재시작합니다.")


# -- prediction: when does the HPA first scale down after the load falls? ---------------------

@exercise("13.predict-scale-down")
def predict_scale_down(answer) -> Feedback:
    """``answer``: section 3's ramp (``ramp``); the guess is the one recorded with ``predict`` (seconds)."""
    from labsvc.course.predictions import judge_prediction

    hpa, offered = getattr(answer, "hpa", None), getattr(answer, "offered", None)
    if not isinstance(hpa, pd.DataFrame) or not isinstance(offered, pd.DataFrame) or len(offered) < 2:
        return Feedback(False, "pass the load ramp of section 3: check('13.predict-scale-down', ramp)",
                        ko="3절의 부하 램프 결과를 넘기세요: check('13.predict-scale-down', ramp)")
    down = hpa[hpa["desired"] < hpa["current"]]
    if down.empty:
        return Feedback(False, "the HPA never scaled down in this run; pass section 3's ramp",
                        ko="이 실행에서는 HPA가 한 번도 줄이지 않았습니다. 3절의 램프를 넘기세요")
    measured = float(round(float(down["time"].iloc[0])))
    fell = float(offered["start"].iloc[-1])
    dropped = float(hpa.loc[(hpa["time"] > fell) & (hpa["recommendation"] < hpa["current"]), "time"].iloc[0])
    peak = int(hpa["desired"].max())

    def right(guess, actual):
        return is_number(guess) and abs(float(guess) - actual) <= 15

    def explain(guess, actual):
        why = (f"The load fell at {fell:.0f} s and the recommendation dropped at the next sync ({dropped:.0f} s), but "
               f"the HPA scales down to the highest recommendation of the last 300 s: {peak} instances stayed until "
               f"that window held no high one, at {actual:.0f} s.")
        why_ko = (f"부하는 {fell:.0f}초에 줄었고 권고값은 다음 동기화({dropped:.0f}초)에 바로 떨어졌지만, HPA는 최근 "
                  f"300초 동안의 가장 높은 권고값까지만 줄입니다. 그 구간에 높은 권고값이 남지 않게 된 {actual:.0f}초까지 "
                  f"인스턴스 {peak}개가 유지되었습니다.")
        if not is_number(guess):
            return "The guess should be a number of seconds. " + why, "예측은 초 단위의 숫자여야 합니다. " + why_ko
        if 0 < guess < 20 <= actual:
            return ("This looks like minutes; the question asks for seconds. " + why,
                    "분 단위로 적은 것 같습니다. 이 문제는 초 단위로 묻습니다. " + why_ko)
        if guess >= 10_000 > actual:
            return ("This looks like milliseconds; the question asks for seconds. " + why,
                    "밀리초 단위로 적은 것 같습니다. 이 문제는 초 단위로 묻습니다. " + why_ko)
        off = abs(float(guess) - actual)
        return f"Off by {off:.0f} s. {why}", f"{off:.0f}초 차이입니다. {why_ko}"

    return judge_prediction("13.predict-scale-down", measured, right=right, explain=explain, unit="seconds")


# -- change and observe: a preStop sleep for a slower cluster -------------------------------

#: The target of "13.prestop-lag": with the endpoints lagging LAG s, a rolling update loses no request
#: and takes at most ROLLOUT_BUDGET s.
LAG = 8.0
ROLLOUT_BUDGET = 12


@exercise("13.prestop-lag")
def prestop_lag(answer) -> Feedback:
    """``answer``: the run ``rollout_experiment("rolling", pre_stop=..., endpoint_delay=8)`` returned."""
    load = getattr(answer, "load", None)
    if not isinstance(load, pd.DataFrame) or "ok" not in load or getattr(answer, "strategy", None) != "rolling":
        return Feedback(False, "pass the rolling update rollout_experiment('rolling', ...) returned: "
                               "check('13.prestop-lag', rolled)",
                        ko="rollout_experiment('rolling', ...)가 돌려준 롤링 업데이트를 넘기세요: "
                           "check('13.prestop-lag', rolled)")
    lag, pre_stop = float(answer.endpoint_delay), float(answer.pre_stop)
    if not math.isclose(lag, LAG) or answer.retry:
        return Feedback(False, f"this run had endpoints {lag:g} s behind{' and a retrying client' if answer.retry else ''}"
                               f"; the exercise's cluster lags {LAG:g} s and its client does not retry: keep "
                               f"endpoint_delay={LAG:g} and change only pre_stop",
                        ko=f"이 실행은 엔드포인트 지연이 {lag:g}초{'이고 재시도하는 클라이언트였' if answer.retry else '였'}습니다. "
                           f"연습의 클러스터는 {LAG:g}초 늦고 클라이언트는 재시도하지 않습니다. endpoint_delay={LAG:g}는 "
                           f"그대로 두고 pre_stop만 바꾸세요")
    if not answer.completed:
        return Feedback(False, "the rollout did not complete; run it again", ko="롤아웃이 끝나지 않았습니다. 다시 실행하세요")
    seconds = float(answer.window[1] - answer.window[0])
    if round(seconds) > ROLLOUT_BUDGET:
        return Feedback(False, f"refused: with pre_stop={pre_stop:g} s the rollout took {seconds:.0f} s, the budget is "
                               f"{ROLLOUT_BUDGET} s. Every old pod sleeps that long before it stops, so a drain, a "
                               f"node upgrade and every release wait for it. Find a shorter sleep that still loses "
                               f"nothing",
                        ko=f"인정할 수 없습니다. pre_stop={pre_stop:g}초에서 롤아웃이 {seconds:.0f}초 걸렸는데, 예산은 "
                           f"{ROLLOUT_BUDGET}초입니다. 옛 파드마다 그만큼 잠든 뒤에 멈추므로, 드레인과 노드 업그레이드와 "
                           f"모든 릴리스가 그만큼 기다립니다. 아무것도 잃지 않는 더 짧은 sleep을 찾으세요")
    failed, total = int((~load["ok"]).sum()), len(load)
    if failed:
        return Feedback(False, f"pre_stop={pre_stop:g} s: {failed} of {total} requests failed, target 0, missed by "
                               f"{failed}. Old pods stopped while the endpoints, {lag:g} s behind, still sent them "
                               f"requests",
                        ko=f"pre_stop={pre_stop:g}초: 요청 {total}개 중 {failed}개가 실패했습니다. 목표는 0개이고 "
                           f"{failed}개 모자랍니다. 엔드포인트가 {lag:g}초 늦게 따라오는 동안 옛 파드가 먼저 멈췄습니다")
    return Feedback(True, f"pre_stop={pre_stop:g} s: none of the {total} requests failed and the rollout took "
                          f"{seconds:.0f} s. The sleep outlasts the {lag:g} s the endpoints need to drop a deleted pod; "
                          f"on a real cluster that lag is measured, not known, so the sleep keeps a margin (and must "
                          f"fit in terminationGracePeriodSeconds, 30 s by default).",
                    ko=f"pre_stop={pre_stop:g}초: 요청 {total}개 중 실패는 없고 롤아웃은 {seconds:.0f}초 걸렸습니다. "
                       f"sleep이 엔드포인트가 삭제된 파드를 빼는 데 드는 {lag:g}초보다 깁니다. 실제 클러스터에서는 이 "
                       f"지연을 미리 알 수 없고 재야 하므로 여유를 두며, sleep은 terminationGracePeriodSeconds(기본 "
                       f"30초) 안에 들어가야 합니다.")
