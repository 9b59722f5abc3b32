"""Checkers for notebook 01 (monolith vs microservices)."""

from __future__ import annotations

import math

import pandas as pd

from labsvc.course import Feedback, exercise, is_number
from labsvc.course.predictions import judge_prediction
from labsvc.shop import FEATURES, WARMUP


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


def _monolith_run(result):
    """The monolith's run in ``result`` (section 4's dict of both designs, or one run), or None."""
    run = result.get("monolith") if isinstance(result, dict) else result
    ok = getattr(run, "design", None) == "monolith" and isinstance(getattr(run, "requests", None), pd.DataFrame)
    return run if ok else None


def _down_window(run) -> tuple[float, float]:
    """When the first and the last failed request of ``run`` were due (seconds into the load)."""
    failed = run.requests.loc[~run.requests["ok"], "due"]
    return (float(failed.min()), float(failed.max())) if len(failed) else (math.nan, math.nan)


# -- prediction: what share of its requests the monolith answers while reviews leaks ----------

@exercise("01.predict-monolith-share")
def predict_monolith_share(answer) -> Feedback:
    """``answer``: section 4's crash runs (``crash``); the guess is the one recorded with ``predict``."""
    run = _monolith_run(answer)
    if run is None:
        return Feedback(False, "pass the crash runs of section 4: check('01.predict-monolith-share', crash)",
                        ko="4절의 크래시 실행 결과를 넘기세요: check('01.predict-monolith-share', crash)")
    measured = round(float(run.requests["ok"].mean()) * 100, 1)
    first, last = _down_window(run)
    warmup = float(sum(WARMUP.values()))

    def right(guess, actual):
        return is_number(guess) and abs(float(guess) - actual) <= 5

    def explain(guess, actual):
        why = (f"Requests failed from {first:.2f} s to {last:.2f} s of the 3 s run: the platform restarted the "
               f"process 1 s after the kill, and then it took {warmup:.2f} s to start its modules one after the "
               f"other. A guess near 67 % forgets the warm-up; one near 100 % forgets that the kill takes every "
               f"module, not only reviews.")
        why_ko = (f"3초 실행 가운데 {first:.2f}초부터 {last:.2f}초까지 요청이 실패했습니다. 플랫폼은 강제 종료 1초 뒤에 "
                  f"프로세스를 재시작했고, 그 뒤 모듈을 하나씩 기동하는 데 {warmup:.2f}초가 더 걸렸습니다. 67 % 근처로 "
                  f"예측했다면 기동 시간을 빠뜨린 것이고, 100 % 근처라면 강제 종료가 reviews만이 아니라 모든 모듈을 "
                  f"함께 멈춘다는 점을 빠뜨린 것입니다.")
        if not is_number(guess):
            return ("The guess should be a percentage, a number from 0 to 100. " + why,
                    "예측은 0에서 100 사이의 백분율 숫자여야 합니다. " + why_ko)
        if 0 < float(guess) <= 1 and actual > 1:
            return ("This looks like a share from 0 to 1; the question asks for a percentage. " + why,
                    "0에서 1 사이의 비율로 적은 것 같습니다. 이 문제는 백분율로 묻습니다. " + why_ko)
        off = abs(float(guess) - actual)
        return f"Off by {off:.1f} percentage points. {why}", f"{off:.1f}%p 차이입니다. {why_ko}"

    return judge_prediction("01.predict-monolith-share", measured, right=right, explain=explain, unit="percent")


# -- change and observe: how fast must the platform bring the monolith back? ------------------

#: The target of "01.restart-delay": the monolith answers at least this share of all requests
#: under section 4's load (80 requests/s for 3 s, the kill at 1 s).
RESTART_TARGET = 0.70
RESTART_REQUESTS = 240


@exercise("01.restart-delay")
def restart_delay(answer) -> Feedback:
    """``answer``: the result of ``module_crash_experiment("monolith", ...)`` with the learner's restart delay."""
    run = _monolith_run(answer)
    if run is None:
        design = getattr(answer, "design", None)
        if design == "microservices":
            return Feedback(False, "refused: this exercise keeps the monolith. Splitting it is section 4's answer; "
                                   "here the only lever is how fast the platform restarts the killed process",
                            ko="인정할 수 없습니다. 이 연습은 모놀리스를 그대로 둡니다. 쪼개는 것은 4절의 답이고, 여기서 "
                               "바꿀 수 있는 것은 플랫폼이 강제 종료된 프로세스를 얼마나 빨리 재시작하느냐뿐입니다")
        return Feedback(False, "pass the result of module_crash_experiment('monolith', 'reviews', ...)",
                        ko="module_crash_experiment('monolith', 'reviews', ...)의 결과를 넘기세요")
    first, last = _down_window(run)
    if len(run.requests) != RESTART_REQUESTS or math.isnan(first) or not 0.95 <= first <= 1.05:
        return Feedback(False, f"refused: keep section 4's load and fault (rate=80, duration='3s', at='1s', seed=1) "
                               f"and change only restart_after; this run sent {len(run.requests)} requests"
                               + ("" if math.isnan(first) else f" and its first failure came at {first:.2f} s"),
                        ko=f"인정할 수 없습니다. 4절의 부하와 장애(rate=80, duration='3s', at='1s', seed=1)는 그대로 두고 "
                           f"restart_after만 바꾸세요. 이 실행은 요청을 {len(run.requests)}개 보냈습니다"
                           + ("" if math.isnan(first) else f". 첫 실패는 {first:.2f}초에 났습니다"))
    share = float(run.requests["ok"].mean())
    warmup = float(sum(WARMUP.values()))
    if share < RESTART_TARGET and last >= 2.9:
        return Feedback(False, f"the process was still down when the run ended ({share:.1%} answered): restart_after "
                               f"is in seconds ('0.5s' or 0.5); a number like 100 meant as milliseconds is 100 s",
                        ko=f"실행이 끝날 때까지 프로세스가 내려가 있었습니다(응답 {share:.1%}). restart_after는 초 단위입니다"
                           f"('0.5s' 또는 0.5). 밀리초로 생각하고 100이라고 적으면 100초가 됩니다")
    if share < RESTART_TARGET:
        return Feedback(False, f"the monolith answered {share:.1%} of the requests, {(RESTART_TARGET - share) * 100:.1f} "
                               f"percentage points short of the {RESTART_TARGET:.0%} target: requests failed from "
                               f"{first:.2f} s to {last:.2f} s of the 3 s run",
                        ko=f"모놀리스는 요청의 {share:.1%}에 응답해 목표 {RESTART_TARGET:.0%}에 "
                           f"{(RESTART_TARGET - share) * 100:.1f}%p 모자랐습니다. 3초 실행 가운데 {first:.2f}초부터 "
                           f"{last:.2f}초까지 요청이 실패했습니다")
    best = 1 - warmup / 3
    return Feedback(True, f"{share:.1%} answered: requests failed from {first:.2f} s to {last:.2f} s. Of that time, "
                          f"{warmup:.2f} s is the monolith starting all six modules, which no restart policy removes: "
                          f"even an instant "
                          f"restart answers at most about {best:.0%}. The microservices of section 4 lost no request "
                          f"at all.",
                    ko=f"{share:.1%}에 응답했고, 요청은 {first:.2f}초부터 {last:.2f}초까지 실패했습니다. 그중 "
                       f"{warmup:.2f}초는 모놀리스가 "
                       f"모듈 여섯 개를 기동하는 시간이라 어떤 재시작 정책으로도 없앨 수 없습니다. 즉시 재시작해도 최대 "
                       f"{best:.0%} 정도입니다. 4절의 마이크로서비스는 요청을 하나도 잃지 않았습니다.")
