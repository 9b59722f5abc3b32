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


def _during(report, probe: str) -> float:
    probes = report.probes
    return float(probes[(probes["phase"] == "during") & (probes["probe"] == probe)]["value"].iloc[0])


@exercise("14.predict-crash-off")
def predict_crash_off(answer) -> Feedback:
    """``answer`` is the report of the instance crash with resilience off; the guess was recorded with predict()."""
    from labsvc.capstone import RESILIENCE_OFF
    from labsvc.capstone.experiments import load
    from labsvc.course import is_number
    from labsvc.course.predictions import judge_prediction

    if getattr(answer, "experiment", None) is None or answer.experiment.title != load("instance_crash").title:
        return Feedback(False, "pass the report of the crash with resilience off: "
                               "check('14.predict-crash-off', off['instance_crash'])",
                        ko="회복성을 끈 인스턴스 장애 실험의 보고서를 넘겨 주세요: "
                           "check('14.predict-crash-off', off['instance_crash'])")
    if getattr(answer, "resilience", None) != RESILIENCE_OFF:
        return Feedback(False, "this crash was run with other settings: the prediction is about RESILIENCE_OFF "
                               "(pass off['instance_crash'])",
                        ko="이 장애 실험은 다른 설정으로 실행되었습니다. 예측은 RESILIENCE_OFF에 대한 것입니다 "
                           "(off['instance_crash']를 넘겨 주세요)")
    served = round(_during(answer, "browse availability") * 100, 1)

    def looks_like_share(guess) -> bool:
        return is_number(guess) and 0 < guess < 1

    def right(guess, actual) -> bool:
        return is_number(guess) and not looks_like_share(guess) and abs(guess - actual) <= 10

    def explain(guess, actual):
        if not is_number(guess):
            return ("Write the guess as a number of percent, e.g. percent=75.",
                    "예측은 퍼센트 숫자로 적으세요. 예: percent=75.")
        if looks_like_share(guess):
            return (f"{float(guess):g} looks like a share between 0 and 1; the question asks for a percentage "
                    f"({float(guess) * 100:g} %?).",
                    f"{float(guess):g}은 0과 1 사이의 비율로 보입니다. 이 문제는 퍼센트를 묻습니다 "
                    f"({float(guess) * 100:g} %?).")
        return (f"{actual:g} % of the product pages were served while catalog-1 was dead: the registry still listed "
                f"it, so round robin sent it every other page, and with one attempt and no retry each of those "
                f"failed at once.",
                f"catalog-1이 죽어 있는 동안 상품 페이지의 {actual:g} %만 제공되었습니다. 레지스트리가 아직 그 "
                f"인스턴스를 목록에 두고 있어서 라운드 로빈이 페이지 두 개 중 하나를 그리로 보냈고, 재시도 없이 한 번만 "
                f"시도하니 그 요청은 모두 곧바로 실패했습니다.")

    return judge_prediction("14.predict-crash-off", served, right=right, explain=explain, unit="percent")


#: Exercise 4: the most attempts per product page the gateway may make.
MAX_PAGE_ATTEMPTS = 2


def _seconds(value) -> float | None:
    from labsvc.core.clock import parse_duration

    return None if value is None else parse_duration(value, name="timeout")


@exercise("14.slow-slo")
def slow_slo(answer) -> Feedback:
    """``answer`` is the report of run_chaos('slow_dependency', policy, ...); judged on its browse SLOs."""
    from labsvc.capstone import Resilience, slo_report
    from labsvc.capstone.experiments import load

    settings = getattr(answer, "resilience", None)
    if (getattr(answer, "experiment", None) is None or answer.experiment.title != load("slow_dependency").title
            or not isinstance(settings, Resilience)):
        return Feedback(False, "pass the report of run_chaos('slow_dependency', policy, seed=14, name='nb14-ex4')",
                        ko="run_chaos('slow_dependency', policy, seed=14, name='nb14-ex4')의 보고서를 넘겨 주세요")
    if settings.retries > MAX_PAGE_ATTEMPTS:
        return Feedback(False, f"retries={settings.retries}: this exercise allows at most {MAX_PAGE_ATTEMPTS} attempts "
                               f"per product page (each extra attempt is more load on a catalog that is already "
                               f"slow); reach the SLOs with at most {MAX_PAGE_ATTEMPTS}",
                        ko=f"retries={settings.retries}: 이 연습에서는 상품 페이지 하나당 시도를 최대 "
                           f"{MAX_PAGE_ATTEMPTS}번까지만 허용합니다 (시도가 늘 때마다 이미 느린 catalog에 부하가 "
                           f"더해집니다). {MAX_PAGE_ATTEMPTS}번 이하로 SLO를 맞추세요")
    timeout = _seconds(settings.timeout)
    if isinstance(settings.timeout, (int, float)) and timeout >= 10:
        return Feedback(False, f"timeout={settings.timeout!r} looks like milliseconds, but a plain number here is "
                               f"seconds: write it with its unit, e.g. \"{settings.timeout:g}ms\"",
                        ko=f"timeout={settings.timeout!r}은 밀리초로 보이지만, 여기서 단위 없는 숫자는 초입니다. "
                           f"단위를 붙여 쓰세요. 예: \"{settings.timeout:g}ms\"")
    table = slo_report({"yours": answer})
    browse = table[table["journey"] == "browse"]
    missed = browse[~browse["met"]]
    if len(missed):
        lines_en, lines_ko = [], []
        for row in missed.itertuples():
            short = (row.target - row.good_share) * 100
            lines_en.append(f"{row.slo}: {row.good_share * 100:.1f} % good, {short:.1f} percentage points short "
                            f"of {row.target * 100:g} % ({int(row.bad)} bad pages of {int(row.requests)}, the budget "
                            f"allows {float(row.budget_allowed):.1f})")
            lines_ko.append(f"{row.slo}: 좋은 요청 {row.good_share * 100:.1f} %, 목표 {row.target * 100:g} %에 "
                            f"{short:.1f}%p 모자람 (페이지 {int(row.requests)}개 중 {int(row.bad)}개가 나빴고, 예산은 "
                            f"{float(row.budget_allowed):.1f}개까지 허용)")
        latency_missed = any("latency" in s for s in missed["slo"])
        if any("availability" in s for s in missed["slo"]) and settings.retries < 2:
            why = ("a timeout without a retry turns a slow page into a failed one: nothing sends it to the other "
                   "instance", "재시도 없는 타임아웃은 느린 페이지를 실패한 페이지로 바꿀 뿐입니다. 다른 인스턴스로 "
                               "보내 주는 것이 없습니다")
        elif latency_missed and timeout is None:
            why = ("without a timeout of its own the gateway waits the whole 600 ms for the slow instance",
                   "자체 타임아웃이 없으면 게이트웨이는 느린 인스턴스를 600 ms 내내 기다립니다")
        elif latency_missed:
            why = (f"a page that meets the slow instance costs the timeout ({timeout * 1000:g} ms) and then a retry: "
                   f"that has to fit under 250 ms",
                   f"느린 인스턴스를 만난 페이지는 타임아웃({timeout * 1000:g} ms)에 재시도 시간까지 듭니다. 그 합이 "
                   f"250 ms 안에 들어와야 합니다")
        else:
            why = ("a page that failed on the slow instance was not served by the retry either: look at "
                   "answer.probes", "느린 인스턴스에서 실패한 페이지가 재시도로도 제공되지 않았습니다. answer.probes를 "
                                    "살펴보세요")
        missed_en, missed_ko = "; ".join(lines_en), "; ".join(lines_ko)
        return Feedback(False, f"missed: {missed_en}. Why: {why[0]}.", ko=f"목표 미달: {missed_ko}. 이유: {why[1]}.")
    shares = ", ".join(f"{row.slo}: {row.good_share * 100:.1f} %" for row in browse.itertuples())
    limit = f"{timeout * 1000:g} ms" if timeout is not None else "its timeout"
    return Feedback(True, f"both browse SLOs met under the slow instance ({shares}) with {settings.retries} attempts: "
                          f"the gateway gives up on the slow instance after {limit} and the retry goes "
                          f"to the fast one, so a page costs about the timeout instead of 600 ms.",
                    ko=f"느린 인스턴스 아래에서도 browse SLO 두 개를 모두 맞췄습니다 ({shares}, 시도 "
                       f"{settings.retries}번). 게이트웨이가 {limit} 뒤에 느린 인스턴스를 포기하고 빠른 "
                       f"인스턴스로 재시도하므로, 페이지 하나가 600 ms 대신 타임아웃 정도만 걸립니다.")


#: Exercise 5: at most this many deployable units (the reference has one per service: 8).
MAX_UNITS = 7
_MERGE_COLUMNS = {"crashed", "units", "merged", "browse", "checkout", "history"}


@exercise("14.merge-safely")
def merge_safely(answer) -> Feedback:
    """``answer`` is the table of compare_decompositions({"yours": merge}, crash="orders", ...): one row, judged."""
    import pandas as pd

    if not isinstance(answer, pd.DataFrame) or not _MERGE_COLUMNS <= set(answer.columns) or len(answer) != 1:
        return Feedback(False, "pass the table of compare_decompositions({'yours': merge}, crash='orders', seed=14, "
                               "name='nb14-ex5'): one row, your decomposition",
                        ko="compare_decompositions({'yours': merge}, crash='orders', seed=14, name='nb14-ex5')의 "
                           "표를 넘겨 주세요. 여러분의 분해 한 행이어야 합니다")
    row = answer.iloc[0]
    if row["crashed"] != "orders":
        return Feedback(False, f"this run crashed {row['crashed']!r}; the target is about the orders crash: "
                               f"use crash='orders'",
                        ko=f"이 실행은 {row['crashed']!r}를 멈췄습니다. 목표는 orders 장애에 대한 것이니 "
                           f"crash='orders'를 쓰세요")
    if row["units"] > MAX_UNITS:
        return Feedback(False, f"{int(row['units'])} deployable units, as many as the reference: merge two services "
                               f"so there are at most {MAX_UNITS}",
                        ko=f"배포 단위가 {int(row['units'])}개로 기준 분해와 같습니다. 서비스 두 개를 합쳐 "
                           f"{MAX_UNITS}개 이하로 만드세요")
    hurt = [j for j in ("browse", "history") if row[j] < 0.99]
    if hurt:
        shown = ", ".join(f"{j} {row[j] * 100:.0f} %" for j in hurt)
        return Feedback(False, f"with {row['merged']} as one unit, the orders crash also took down {shown} (served "
                               f"while orders was down): a service in the orders unit shares its fate. Merge "
                               f"services the orders crash does not reach, or that cannot work without orders anyway",
                        ko=f"{row['merged']}를 한 단위로 합치자 orders 장애가 {shown}(orders가 멈춘 동안 제공된 "
                           f"비율)까지 끌어내렸습니다. orders 단위에 든 서비스는 운명을 함께합니다. orders 장애가 닿지 "
                           f"않는 서비스끼리, 또는 어차피 orders 없이는 일할 수 없는 서비스를 합치세요")
    if row["hops_inside_units"] < 1:
        return Feedback(False, f"no journey lost, but {row['merged']} do not call each other during a checkout: the "
                               f"checkout still crosses the network {int(row['checkout_calls'])} times between units. "
                               f"Merge two services that call each other on the checkout's path",
                        ko=f"잃은 여정은 없지만 {row['merged']}는 결제(checkout) 중에 서로 호출하지 않습니다. 결제는 "
                           f"여전히 단위 사이에서 네트워크를 {int(row['checkout_calls'])}번 건넙니다. 결제 경로에서 "
                           f"서로 호출하는 두 서비스를 합치세요")
    return Feedback(True, f"{int(row['units'])} units ({row['merged']}): of the checkout's {int(row['checkout_calls'])} "
                          f"calls, {int(row['hops_inside_units'])} no longer leaves its unit, and the orders crash "
                          f"still cost only checkout (browse {row['browse'] * 100:.0f} %, history "
                          f"{row['history'] * 100:.0f} % served): the merged service was useless without orders anyway.",
                    ko=f"배포 단위 {int(row['units'])}개({row['merged']}): 결제 호출 {int(row['checkout_calls'])}번 중 "
                       f"{int(row['hops_inside_units'])}번이 이제 한 단위 안에 머물고, orders 장애는 여전히 결제만 "
                       f"멈췄습니다(browse {row['browse'] * 100:.0f} %, history {row['history'] * 100:.0f} % 제공). "
                       f"합친 서비스는 어차피 orders 없이는 쓸모가 없었습니다.")
