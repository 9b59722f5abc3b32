"""Checkers for notebook 08 (service discovery and load balancing)."""

from __future__ import annotations

import math

from labsvc.core.errors import ConfigurationError
from labsvc.course import Feedback, exercise, is_number
from labsvc.course.predictions import judge_prediction


def _stages(lab) -> list[tuple[str, str, float]]:
    """(English name, Korean name, seconds) of every wait a crash goes through in ``lab``, longest case."""
    registry, cache = lab.registry, getattr(lab, "response_cache", None)
    lease = registry.lease_duration * (2 if getattr(registry, "eureka_renew_bug", False) else 1)
    return [
        ("lease", "리스", lease),
        ("eviction run", "퇴출 주기", registry.eviction_interval),
        ("response cache", "응답 캐시", cache.update_interval if cache is not None else 0.0),
        ("client fetch", "클라이언트 조회", lab.discovery.refresh_interval),
        ("balancer list", "밸런서 목록", lab.servers.refresh_interval),
    ]


@exercise("08.stale-bound")
def stale_bound(answer, lab) -> Feedback:
    if any(getattr(lab, name, None) is None for name in ("registry", "discovery", "servers")):
        return Feedback(False, "pass a DiscoveryLab you built: check(..., lab=crash_lab)",
                        ko="직접 만든 DiscoveryLab을 넘겨주세요: check(..., lab=crash_lab)")
    stages = _stages(lab)
    truth = sum(seconds for _, _, seconds in stages)
    registry = lab.registry
    if not is_number(answer) or not math.isclose(answer, truth):
        doubled = getattr(registry, "eureka_renew_bug", False)
        if doubled and is_number(answer) and math.isclose(answer, truth - registry.lease_duration):
            return Feedback(False, "close: but this registry copies Eureka's Lease.renew, which adds the lease "
                                   "duration once more on every renewal, so a crashed instance's lease lasts twice "
                                   "lab.registry.lease_duration after its last heartbeat",
                            ko="거의 맞았습니다. 하지만 이 레지스트리는 Eureka의 Lease.renew를 그대로 따라 하므로, 갱신할 "
                               "때마다 리스 기간을 한 번 더 더합니다. 그래서 죽은 인스턴스의 리스는 마지막 하트비트 뒤 "
                               "lab.registry.lease_duration의 두 배 동안 유지됩니다")
        if is_number(answer) and math.isclose(answer, registry.lease_duration + registry.eviction_interval
                                              + lab.discovery.refresh_interval):
            return Feedback(False, "that is the doubled lease alone, or the lease, the eviction run and the client's "
                                   "fetch: every stage adds its own wait at its longest, the lease (doubled when "
                                   "lab.registry.eureka_renew_bug is on), the eviction run, the server's read-only response "
                                   "cache (lab.response_cache.update_interval), the client's fetch and the balancer's list "
                                   "(lab.servers.refresh_interval)",
                            ko="그것은 두 배가 된 리스 하나이거나, 리스와 퇴출 주기와 클라이언트 조회의 합입니다. 모든 "
                               "단계가 가장 긴 경우의 기다림을 저마다 더합니다. 리스(lab.registry.eureka_renew_bug가 "
                               "켜져 있으면 두 배), 퇴출 주기, 서버의 읽기 전용 응답 캐시"
                               "(lab.response_cache.update_interval), 클라이언트 조회, 밸런서 목록"
                               "(lab.servers.refresh_interval)입니다")
        return Feedback(False, "add up every wait, each at its longest: the lease running out after the last heartbeat "
                               "(twice lease_duration when eureka_renew_bug is on), the eviction task getting round to "
                               "it, the server's response cache, the client's registry fetch and the balancer's list "
                               "refresh",
                        ko="모든 대기 시간을 가장 긴 경우로 더하세요. 마지막 하트비트 뒤 리스가 만료되는 시간"
                           "(eureka_renew_bug가 켜져 있으면 lease_duration의 두 배), 퇴출 작업이 그 인스턴스를 처리할 "
                           "차례가 오는 시간, 서버의 응답 캐시, 클라이언트의 레지스트리 조회, 그리고 밸런서 목록 갱신입니다")
    parts = " + ".join(f"{name} {seconds:g}" for name, _, seconds in stages)
    parts_ko = " + ".join(f"{name} {seconds:g}" for _, name, seconds in stages)
    return Feedback(True, f"{truth:g} s with these settings ({parts}). A clean shutdown skips the first two: "
                          f"{sum(s for _, _, s in stages[2:]):g} s at most.",
                    ko=f"이 설정에서는 {truth:g}초입니다({parts_ko}). 정상 종료는 앞의 두 단계를 건너뛰므로 길어야 "
                       f"{sum(s for _, _, s in stages[2:]):g}초입니다.")


@exercise("08.silent-instances")
def silent_instances(answer, registry) -> Feedback:
    n = registry.status()["instances"] if hasattr(registry, "status") else 0
    if n != 10:
        return Feedback(False, f"register 10 instances in a fresh ServiceRegistry and pass it (it holds {n})",
                        ko=f"새 ServiceRegistry에 인스턴스 10개를 등록해서 넘겨주세요(지금은 {n}개가 있습니다)")
    per_instance = registry.expected_renewals_per_minute / n
    threshold = registry.renewal_threshold
    # Self-preservation switches on when renewals fall to the threshold or below.
    truth = max(k for k in range(n + 1) if (n - k) * per_instance > threshold) if n * per_instance > threshold else 0
    if isinstance(answer, bool) or not isinstance(answer, int) or answer != truth:
        return Feedback(False, f"the registry expects {registry.expected_renewals_per_minute:g} renewals a minute and "
                               f"keeps evicting only above {threshold}; each silent instance takes away "
                               f"{per_instance:g}",
                        ko=f"이 레지스트리는 1분에 {registry.expected_renewals_per_minute:g}번의 갱신을 기대하고, "
                           f"갱신이 {threshold}번을 넘을 때만 퇴출을 계속합니다. 조용해진 인스턴스 하나마다 "
                           f"{per_instance:g}번씩 줄어듭니다")
    return Feedback(True, f"{truth}: with {truth + 1} silent instances renewals drop to "
                          f"{(n - truth - 1) * per_instance:g} a minute, at or below the threshold of {threshold}, "
                          f"and the registry stops evicting.",
                    ko=f"{truth}개입니다. 조용해진 인스턴스가 {truth + 1}개가 되면 갱신이 1분에 "
                       f"{(n - truth - 1) * per_instance:g}번으로 떨어져 임계값 {threshold} 이하가 되고, "
                       f"레지스트리는 퇴출을 멈춥니다.")


@exercise("08.join-delay")
def join_delay(answer, result) -> Feedback:
    events = getattr(result, "events", None)
    if events is None or not (events["event"] == "join").any():
        return Feedback(False, "pass the result of a run with a join step, "
                               "e.g. lab.run([(150, 'join')], duration='4min')",
                        ko="join 단계가 있는 실행의 결과를 넘겨주세요. 예: lab.run([(150, 'join')], duration='4min')")
    join = events[events["event"] == "join"].iloc[0]
    r = result.requests
    served = r[(r["instance"] == join["instance"]) & r["ok"] & (r["time"] >= join["time"])]
    if served.empty:
        return Feedback(False, f"{join['instance']} never got a request: run the load longer after the join",
                        ko=f"{join['instance']}은(는) 요청을 하나도 받지 못했습니다. 합류 뒤에 부하를 더 오래 돌리세요")
    truth = float(served["time"].min()) - float(join["time"])
    if not is_number(answer) or not math.isclose(answer, truth, rel_tol=0.02, abs_tol=0.5):
        return Feedback(False, "subtract the join event's time from the time of the first request the new instance "
                               "answered (both in seconds on the network's clock)",
                        ko="새 인스턴스가 처음 응답한 요청의 시각에서 join 이벤트의 시각을 빼세요(둘 다 네트워크 시계 기준 초)")
    settings = getattr(result, "settings", None) or {}
    most = sum(settings.get(k) or 0.0 for k in ("response_cache_interval", "refresh_interval", "lb_refresh_interval"))
    return Feedback(True, f"{truth:.0f} s: the new instance registered at once, but the news had to pass the "
                          f"server's response cache, the caller's registry fetch and its balancer's list "
                          f"(at most {most:g} s in all) before a request went there.",
                    ko=f"{truth:.0f}초입니다. 새 인스턴스는 곧바로 등록되었지만, 그 소식이 서버의 응답 캐시, 호출자의 "
                       f"레지스트리 조회, 밸런서 목록(모두 합쳐 최대 {most:g}초)을 차례로 거친 뒤에야 요청이 그쪽으로 "
                       f"갔습니다.")


@exercise("08.ewma-share")
def ewma_share(answer, table) -> Feedback:
    if not hasattr(table, "columns") or set(table.get("balancer", [])) != {"ewma"}:
        return Feedback(False, "pass the per-instance table of balancer_experiment('ewma', ...): the first of the two "
                               "values it returns",
                        ko="balancer_experiment('ewma', ...)가 돌려주는 두 값 중 첫 번째인 인스턴스별 표를 넘겨주세요")
    slow = table.iloc[-1]  # the last instance is the slow one
    truth = float(slow["share"])
    if not is_number(answer) or not math.isclose(answer, truth,
                                                                                             abs_tol=1e-9):
        return Feedback(False, f"read the 'share' of {slow['instance']} (the slow instance) in the table",
                        ko=f"표에서 {slow['instance']}(느린 인스턴스)의 'share'를 읽으세요")
    return Feedback(True, f"{truth:.1%} to the slow instance: EWMA also remembers how slow each instance was, "
                          f"not only how many calls it has in flight.",
                    ko=f"느린 인스턴스로 {truth:.1%}가 갔습니다. EWMA는 처리 중인 호출 수뿐 아니라 각 인스턴스가 얼마나 "
                       f"느렸는지도 기억합니다.")


# -- prediction: how long a crashed instance is still handed out ------------------------------

@exercise("08.predict-crash-window")
def predict_crash_window(answer) -> Feedback:
    """``answer``: section 2's crash run (``crash``); the guess is the one recorded with ``predict``."""
    try:
        window = answer.stale_window("catalog-4").set_index("stage")
    except (AttributeError, TypeError, KeyError, ConfigurationError):  # not a run in which catalog-4 crashed or left
        window = None
    if window is None or "lease runs out" not in window.index:
        return Feedback(False, "pass the crash run of section 2: check('08.predict-crash-window', crash)",
                        ko="2절의 장애(crash) 실행 결과를 넘겨주세요: check('08.predict-crash-window', crash)")
    measured = round(float(window.loc["handed out until", "waited_s"]), 1)
    stages = [("lease runs out", "리스 만료"), ("eviction run", "퇴출 주기"), ("server response cache", "응답 캐시"),
              ("client fetch", "클라이언트 조회"), ("balancer list refresh", "밸런서 목록")]
    waits = [float(window.loc[stage, "waited_s"]) for stage, _ in stages]
    parts = " + ".join(f"{stage} {w:.0f}" for (stage, _), w in zip(stages, waits))
    parts_ko = " + ".join(f"{ko} {w:.0f}" for (_, ko), w in zip(stages, waits))
    lease = float(answer.settings.get("lease_duration", 90))

    def right(guess, actual):
        return is_number(guess) and abs(float(guess) - actual) <= 0.2 * actual

    def explain(guess, actual):
        why = (f"The news passed five timers one after the other: {parts} s. The lease alone ({lease:g} s) is the "
               f"guess that forgets the renew bug, the eviction run and the three caches.")
        why_ko = (f"소식은 타이머 다섯 개를 차례로 거쳤습니다: {parts_ko}초. 리스 하나({lease:g}초)만 생각하면 "
                  f"갱신 버그, 퇴출 주기, 캐시 세 개를 빠뜨리게 됩니다.")
        if not is_number(guess):
            return "The guess should be a number of seconds. " + why, "예측은 초 단위의 숫자여야 합니다. " + why_ko
        if guess >= 1000 > actual:
            return ("This looks like milliseconds; the question asks for seconds. " + why,
                    "밀리초 단위로 적은 것 같습니다. 이 문제는 초 단위로 묻습니다. " + why_ko)
        if 0 < guess < 10 <= actual:
            return ("This looks like minutes; the question asks for seconds. " + why,
                    "분 단위로 적은 것 같습니다. 이 문제는 초 단위로 묻습니다. " + why_ko)
        off = abs(float(guess) - actual)
        return f"Off by {off:.0f} s. {why}", f"{off:.0f}초 차이입니다. {why_ko}"

    return judge_prediction("08.predict-crash-window", measured, right=right, explain=explain, unit="seconds")


# -- change and observe: enough instances for self-preservation --------------------------------

#: The target of "08.enough-instances": a crash's errors end within this many seconds, a partition
#: costs none, with at most MAX_INSTANCES instances.
ERRORS_END_WITHIN = 300.0
MAX_INSTANCES = 8


@exercise("08.enough-instances")
def enough_instances(answer) -> Feedback:
    """``answer``: the table ``preservation_trial(...)`` returned."""
    needed = {"scenario", "instances", "event_s", "errors", "last_error_s", "evicted", "preserving"}
    if not hasattr(answer, "columns") or not needed <= set(answer.columns) \
            or set(answer["scenario"]) != {"crash", "partition"}:
        return Feedback(False, "pass the table preservation_trial(...) returned: check('08.enough-instances', trial)",
                        ko="preservation_trial(...)가 돌려준 표를 넘겨주세요: check('08.enough-instances', trial)")
    rows = answer.set_index("scenario")
    n = int(rows.loc["crash", "instances"])
    if n > MAX_INSTANCES:
        return Feedback(False, f"refused: {n} instances, the budget allows at most {MAX_INSTANCES}. Find the smallest "
                               f"registry in which one crash does not switch self-preservation on",
                        ko=f"인정할 수 없습니다. 인스턴스가 {n}개인데, 예산은 최대 {MAX_INSTANCES}개입니다. 장애 하나로는 "
                           f"자기 보호 모드가 켜지지 않는 가장 작은 레지스트리를 찾으세요")
    cut = rows.loc["partition"]
    if int(cut["errors"]) > 0:
        return Feedback(False, f"the partition cost {int(cut['errors'])} errors: self-preservation must still keep the "
                               f"instances it cannot hear",
                        ko=f"네트워크 분할로 오류가 {int(cut['errors'])}건 났습니다. 자기 보호 모드는 여전히 소식이 끊긴 "
                           f"인스턴스를 지켜야 합니다")
    crash = rows.loc["crash"]
    lasted = float(crash["last_error_s"]) - float(crash["event_s"])
    if int(crash["evicted"]) == 0 or not lasted <= ERRORS_END_WITHIN:
        why = ("self-preservation switched on and the dead instance was never evicted"
               if bool(crash["preserving"]) else "the dead instance was not evicted in time")
        why_ko = ("자기 보호 모드가 켜져서 죽은 인스턴스가 끝내 퇴출되지 않았습니다"
                  if bool(crash["preserving"]) else "죽은 인스턴스가 제때 퇴출되지 않았습니다")
        return Feedback(False, f"{n} instances: {why}; web's errors went on until {lasted:.0f} s after the crash, "
                               f"{lasted - ERRORS_END_WITHIN:.0f} s past the target of {ERRORS_END_WITHIN:g} s",
                        ko=f"인스턴스 {n}개: {why_ko}. web의 오류가 장애 뒤 {lasted:.0f}초까지 이어져, 목표 "
                           f"{ERRORS_END_WITHIN:g}초를 {lasted - ERRORS_END_WITHIN:.0f}초 넘겼습니다")
    expected = 2 * n
    threshold = int(expected * 0.85)
    return Feedback(True, f"{n} instances: after the crash the registry still got {expected - 2} renewals a minute, "
                          f"above its threshold of {threshold} (int({expected} x 0.85)), so it kept evicting: web's "
                          f"last error came {lasted:.0f} s after the crash, and the partition still cost nothing.",
                    ko=f"인스턴스 {n}개: 장애 뒤에도 레지스트리는 1분에 갱신 {expected - 2}번을 받아 임계값 {threshold}"
                       f"(int({expected} x 0.85))보다 많았으므로 퇴출을 계속했습니다. web의 마지막 오류는 장애 뒤 "
                       f"{lasted:.0f}초에 났고, 네트워크 분할은 여전히 오류를 내지 않았습니다.")
