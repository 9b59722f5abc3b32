"""Checkers for notebook 08 (service discovery and load balancing)."""

from __future__ import annotations

import math

from ..course import Feedback, exercise, is_number


@exercise("08.stale-bound")
def stale_bound(answer, lab) -> Feedback:
    registry, client = getattr(lab, "registry", None), getattr(lab, "discovery", None)
    if registry is None or client is None:
        return Feedback(False, "pass the DiscoveryLab you built: check(..., lab=crash_lab)",
                        ko="직접 만든 DiscoveryLab을 넘겨주세요: check(..., lab=crash_lab)")
    truth = registry.lease_duration + registry.eviction_interval + client.refresh_interval
    if not is_number(answer) or not math.isclose(answer, truth):
        return Feedback(False, "add up three waits: the lease running out without heartbeats, the eviction task "
                               "getting round to it, and the client's cache refreshing",
                        ko="세 가지 대기 시간을 더하세요. 하트비트 없이 리스가 만료되는 시간, 퇴출 작업이 그 인스턴스를 "
                           "처리할 차례가 오는 시간, 그리고 클라이언트 캐시가 갱신되는 시간입니다")
    return Feedback(True, f"{truth:g} s with these settings (lease {registry.lease_duration:g} + eviction "
                          f"{registry.eviction_interval:g} + refresh {client.refresh_interval:g}). Real Eureka adds "
                          f"the lease twice by mistake, so it can be about 90 s longer still.",
                    ko=f"이 설정에서는 {truth:g}초입니다(리스 {registry.lease_duration:g} + 퇴출 주기 "
                       f"{registry.eviction_interval:g} + 캐시 갱신 {client.refresh_interval:g}). 실제 Eureka는 버그로 리스를 "
                       f"두 번 더하기 때문에 약 90초 더 길어질 수도 있습니다.")


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
        return Feedback(False, "pass the result of a run with a join step, e.g. lab.run([(0.3, 'join')])",
                        ko="join 단계가 있는 실행의 결과를 넘겨주세요. 예: lab.run([(0.3, 'join')])")
    join = events[events["event"] == "join"].iloc[0]
    r = result.requests
    served = r[(r["instance"] == join["instance"]) & r["ok"] & (r["time"] >= join["time"])]
    if served.empty:
        return Feedback(False, f"{join['instance']} never got a request: run the load longer after the join",
                        ko=f"{join['instance']}은(는) 요청을 하나도 받지 못했습니다. 합류 뒤에 부하를 더 오래 돌리세요")
    truth = (float(served["time"].min()) - float(join["time"])) * result.scale
    if not is_number(answer) or not math.isclose(answer, truth, rel_tol=0.02,
                                                                                             abs_tol=0.5):
        return Feedback(False, "subtract the join event's time from the time of the first request the new instance "
                               "answered, and multiply by result.scale to get registry seconds",
                        ko="새 인스턴스가 처음 응답한 요청의 시각에서 join 이벤트의 시각을 빼고, result.scale을 곱해 "
                           "레지스트리 기준 초로 바꾸세요")
    return Feedback(True, f"{truth:.0f} registry seconds: the new instance registered at once, but the caller only "
                          f"learned of it at its next cache refresh (every 30 s).",
                    ko=f"레지스트리 기준 {truth:.0f}초입니다. 새 인스턴스는 곧바로 등록되었지만, 호출자는 다음 캐시 갱신"
                       f"(30초마다) 때에야 그 인스턴스를 알게 되었습니다.")


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
