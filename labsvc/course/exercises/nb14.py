"""Checkers for notebook 14 (capstone)."""

from __future__ import annotations

from labsvc.course import Feedback, exercise

#: How long the payment provider is down in the payment_down experiment (seconds).
PAYMENT_OUTAGE = 0.4


def _retry_span(settings) -> float:
    from labsvc.core.clock import parse_duration

    return parse_duration(settings.saga_backoff, name="saga_backoff") * (2 ** (settings.saga_attempts - 1) - 1)


@exercise("14.payment-settings")
def payment_settings(answer, report) -> Feedback:
    from labsvc.capstone import Resilience
    from labsvc.capstone.experiments import load

    if not isinstance(answer, Resilience):
        return Feedback(False, "answer with settings, e.g. RESILIENCE_ON.but(saga_attempts=..., saga_backoff=...)",
                        ko="설정으로 답하세요. 예: RESILIENCE_ON.but(saga_attempts=..., saga_backoff=...)")
    if getattr(report, "experiment", None) is None or report.experiment.title != load("payment_down").title:
        return Feedback(False, "pass the report of run_chaos('payment_down', answer, ...)",
                        ko="run_chaos('payment_down', answer, ...)의 보고서를 넘겨 주세요")
    if getattr(report, "resilience", None) != answer:
        return Feedback(False, "this report was measured with other settings: run the experiment again with your "
                               "answer", ko="이 보고서는 다른 설정으로 측정되었습니다. 답한 설정으로 실험을 다시 실행하세요")
    span = _retry_span(answer)
    if not report.held:
        if span < PAYMENT_OUTAGE:
            return Feedback(False, f"the saga stops retrying a step after {span:.2f} s of pauses, but payment is down for "
                                   f"{PAYMENT_OUTAGE} s: checkouts that arrive early in the outage give up too soon",
                            ko=f"사가는 한 단계를 {span:.2f}초 동안 재시도한 뒤 포기하지만 결제 서비스는 "
                               f"{PAYMENT_OUTAGE}초 동안 멈춰 있습니다. 장애 초반에 들어온 주문은 너무 일찍 포기합니다")
        return Feedback(False, f"the retries do cover the outage ({span:.2f} s of pauses), yet the hypothesis did not "
                               f"hold: look at report.probes for the probe that is out of tolerance (a checkout that "
                               f"waits past the users' 2 s timeout fails too)",
                        ko=f"재시도 간격({span:.2f}초)은 장애를 덮지만 가설이 유지되지 않았습니다. report.probes에서 "
                           f"허용 범위를 벗어난 프로브를 찾아보세요 (사용자의 2초 타임아웃을 넘긴 주문도 실패입니다)")
    return Feedback(True, f"{answer.saga_attempts} tries with pauses adding up to {span:.2f} s outlast a "
                          f"{PAYMENT_OUTAGE} s outage, and every checkout still ended in a decision in time.",
                    ko=f"{answer.saga_attempts}번의 시도와 합계 {span:.2f}초의 대기 간격이 {PAYMENT_OUTAGE}초 장애보다 "
                       f"길어서, 모든 주문이 제시간에 결정(승인 또는 거절)으로 끝났습니다.")


@exercise("14.tightened")
def tightened(answer, report) -> Feedback:
    from labsvc.capstone.experiments import load

    if getattr(report, "experiment", None) is None:
        return Feedback(False, "pass the report of the experiment you ran with your tightened tolerance",
                        ko="허용 범위를 좁힌 실험을 실행한 보고서를 넘겨 주세요")
    stock = load("slow_dependency")
    if report.experiment.title != stock.title:
        return Feedback(False, "run the slow_dependency experiment (with one tolerance changed) and pass its report",
                        ko="slow_dependency 실험을 (허용 범위 하나만 바꿔서) 실행하고 그 보고서를 넘겨 주세요")
    changed = [p.name for p, q in zip(report.experiment.hypothesis, stock.hypothesis) if p.tolerance != q.tolerance]
    if not changed:
        return Feedback(False, "this is the stock experiment: tighten one probe's tolerance with "
                               "experiment.with_tolerance(probe, [low, high]) first",
                        ko="원래 실험 그대로입니다. 먼저 experiment.with_tolerance(probe, [low, high])로 프로브 "
                           "하나의 허용 범위를 좁히세요")
    if report.status == "failed":
        return Feedback(False, f"your tolerance on {changed} is so strict that the system was not steady even before "
                               f"the method, so nothing was tested: allow what was measured before (see report.probes, "
                               f"phase 'before') and exclude what was measured during",
                        ko=f"{changed}의 허용 범위가 너무 엄격해서 메서드 전에도 정상 상태가 아니었고, 그래서 아무것도 "
                           f"시험되지 않았습니다. 'before' 단계의 측정값은 허용하고 'during' 단계의 값은 벗어나게 "
                           f"잡으세요 (report.probes 참고)")
    if not report.deviated:
        return Feedback(False, f"you changed {changed}, but the hypothesis still held: tighten it below what was "
                               f"measured (see report.probes)",
                        ko=f"{changed}를 바꿨지만 가설이 여전히 유지되었습니다. 측정된 값보다 좁게 잡아 보세요 "
                           f"(report.probes 참고)")
    out = report.probes[(report.probes["phase"] == "during") & ~report.probes["met"]]
    if answer not in set(out["probe"]):
        return Feedback(False, f"the probe out of tolerance during the method was {sorted(set(out['probe']))}; "
                               f"answer with its name", ko=f"메서드 동안 허용 범위를 벗어난 프로브는 "
                                                          f"{sorted(set(out['probe']))}입니다. 그 이름으로 답하세요")
    value = out.set_index("probe").loc[answer, "value"]
    return Feedback(True, f"{answer} measured {value:.3g}, outside your tolerance: the same run is now a deviation. "
                          f"A verdict is only as strict as the tolerances it is judged by.",
                    ko=f"{answer}의 측정값 {value:.3g}가 좁힌 허용 범위를 벗어나, 같은 실행이 이제 편차(deviation)로 "
                       f"판정됩니다. 판정은 허용 범위만큼만 엄격합니다.")
