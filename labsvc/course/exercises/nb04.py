"""Checkers for notebook 04 (identifying microservices)."""

from __future__ import annotations

import networkx as nx
import pandas as pd

from labsvc.course import Feedback, exercise
from labsvc.design.criteria import module_reuse
from labsvc.design.decomposition import Decomposition
from labsvc.design.metrics import compare
from labsvc.core.errors import ConfigurationError

#: Exercise 2: the latency target for search.
P95_TARGET_MS = 20.0


@exercise("04.reuse")
def reuse(answer, graph: nx.DiGraph, decomposition: Decomposition) -> Feedback:
    """``answer`` is the module that the most *other* services depend on."""
    table = module_reuse(graph, decomposition)
    top = int(table["used_by_services"].max())
    best = sorted(table.index[table["used_by_services"] == top])
    if answer not in table.index:
        return Feedback(False, f"{answer!r} is not a module of the graph (names look like 'catalog.api')",
                        ko=f"{answer!r}은(는) 그래프에 있는 모듈이 아닙니다(이름은 'catalog.api' 같은 형식입니다)")
    if answer not in best:
        mine = int(table.loc[answer, "used_by_services"])
        return Feedback(False, f"{answer} is used by {mine} other service(s); one module is used by {top}",
                        ko=f"{answer}은(는) 다른 서비스 {mine}개가 사용합니다. 다른 서비스 {top}개가 사용하는 모듈이 있습니다")
    return Feedback(True, f"{answer} is used by {top} other services: every one of them would otherwise "
                          "carry its own copy. That is the guide's case for a shared service.",
                    ko=f"{answer}은(는) 다른 서비스 {top}개가 사용합니다. 따로 떼어 내지 않으면 그 서비스들이 저마다 사본을 들고 있어야 합니다. 가이드가 공유 서비스를 두는 근거가 바로 이것입니다.")


@exercise("04.scale-search")
def scale_search(answer, table: pd.DataFrame) -> Feedback:
    """``answer`` is the fewest search instances whose p95 stays under :data:`P95_TARGET_MS`."""
    needed = {"instances", "p95_ms"}
    if not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
        return Feedback(False, "pass the table search_scaling_experiment(...) returned",
                        ko="search_scaling_experiment(...)가 돌려준 표를 넘기세요")
    fast = table.loc[table["p95_ms"] < P95_TARGET_MS, "instances"]
    if fast.empty:
        return Feedback(False, f"no instance count in your table met p95 < {P95_TARGET_MS:g} ms; try more instances",
                        ko=f"표에서 p95 < {P95_TARGET_MS:g} ms를 만족하는 인스턴스 수가 없습니다. 인스턴스를 더 늘려 보세요")
    best = int(fast.min())
    if answer != best:
        return Feedback(False, f"read the p95_ms column: which is the first instance count under {P95_TARGET_MS:g} ms?",
                        ko=f"p95_ms 열을 읽으세요. {P95_TARGET_MS:g} ms 아래로 처음 내려가는 인스턴스 수는 몇인가요?")
    return Feedback(True, f"{best} search instances keep p95 under {P95_TARGET_MS:g} ms; the employee service "
                          "did not have to grow with them.",
                    ko=f"검색 인스턴스 {best}개면 p95가 {P95_TARGET_MS:g} ms 아래로 유지됩니다. 직원 서비스는 함께 늘릴 필요가 없었습니다.")


@exercise("04.split-out")
def split_out(answer, graph: nx.DiGraph, start: Decomposition) -> Feedback:
    """``answer`` is ``start`` with the ``search.*`` modules moved to a new service ``search``, nothing else."""
    if not isinstance(answer, Decomposition):
        return Feedback(False, "answer with a Decomposition, e.g. built with start.move(module, 'search')",
                        ko="Decomposition으로 답하세요. 예: start.move(module, 'search')로 만든 분할안")
    try:
        answer.validate(graph)
    except ConfigurationError as exc:
        return Feedback(False, str(exc),
                        ko=f"이 분할안은 쓸 수 없습니다: {exc}")
    search = sorted(m for m in graph if str(m).startswith("search."))
    moved = sorted(m for m in answer.modules if answer.service_of(m) != start.service_of(m))
    if sorted(answer.services.get("search", ())) != search:
        return Feedback(False, f"the new service 'search' should hold exactly {search}",
                        ko=f"새 서비스 'search'에는 정확히 {search}만 있어야 합니다")
    if moved != search:
        return Feedback(False, f"move only the search modules; you also moved {sorted(set(moved) - set(search))}",
                        ko=f"search 모듈만 옮기세요. 다음 모듈도 옮겼습니다: {sorted(set(moved) - set(search))}")
    table = compare({"before": start, "after": answer}, graph)
    return Feedback(True, f"search is its own service now: {int(table.loc['after', 'services'])} services, "
                          f"icp {table.loc['before', 'icp']:.3f} -> {table.loc['after', 'icp']:.3f}. "
                          "Now measure what it costs at run time.",
                    ko=f"이제 search가 독립 서비스입니다: 서비스 {int(table.loc['after', 'services'])}개, icp {table.loc['before', 'icp']:.3f} -> {table.loc['after', 'icp']:.3f}. 이제 런타임에 드는 비용을 측정해 보세요.")


# -- prediction: what the nano split keeps on a network that loses 2 % of calls ------------------

@exercise("04.predict-nano")
def predict_nano(answer) -> Feedback:
    """``answer``: section 4's ``flaky`` table; the guess is the one recorded with ``predict`` (percent)."""
    from labsvc.course import is_number
    from labsvc.course.predictions import judge_prediction

    needed = {"availability", "calls_per_request"}
    if not isinstance(answer, pd.DataFrame) or not needed <= set(answer.columns) or "nano" not in answer.index:
        return Feedback(False, "pass the table of section 4's lossy run: check('04.predict-nano', flaky)",
                        ko="4절에서 호출을 잃는 네트워크로 실행한 표를 넘겨주세요: check('04.predict-nano', flaky)")
    measured = round(float(answer.loc["nano", "availability"]) * 100, 1)
    if measured >= 100:
        return Feedback(False, "this table comes from a run that lost no calls; pass section 4's lossy run: "
                               "check('04.predict-nano', flaky)",
                        ko="이 표는 호출을 하나도 잃지 않은 실행의 결과입니다. 4절에서 호출을 잃는 네트워크로 실행한 표를 "
                           "넘겨주세요: check('04.predict-nano', flaky)")
    others = {name: float(answer.loc[name, "availability"]) * 100 for name in ("monolith", "ddd") if name in answer.index}

    def right(guess, actual):
        return is_number(guess) and abs(float(guess) - actual) <= 5

    def explain(guess, actual):
        rest = ", ".join(f"{k} {v:.0f} %" for k, v in others.items())
        why = (f"A request succeeds only if every hop on its path does, and each hop keeps 98 %: the nano split's "
               f"long paths multiply that loss ({rest}, nano {actual:.0f} %).")
        why_ko = (f"요청은 경로의 모든 홉이 성공해야 성공하고, 홉마다 98 %만 살아남습니다. 나노 서비스 분할의 긴 경로는 "
                  f"그 손실을 거듭 곱합니다({rest}, nano {actual:.0f} %).")
        if not is_number(guess):
            return "The guess should be a percentage, a number. " + why, "예측은 백분율 숫자여야 합니다. " + why_ko
        if 0 < float(guess) <= 1:
            return ("This looks like a share between 0 and 1; the question asks for a percentage. " + why,
                    "0과 1 사이의 비율로 적은 것 같습니다. 이 문제는 백분율(%)로 묻습니다. " + why_ko)
        off = abs(float(guess) - actual)
        return f"Off by {off:.0f} percentage points. {why}", f"{off:.0f}%p 차이입니다. {why_ko}"

    return judge_prediction("04.predict-nano", measured, right=right, explain=explain, unit="percent")


# -- change and observe: search instances for a traffic peak -------------------------------------

#: The target of "04.peak-search": at PEAK_RATE searches per second, p95 under P95_TARGET_MS and every
#: search answered, with at most PEAK_MAX_INSTANCES search instances.
PEAK_RATE = 700
PEAK_MAX_INSTANCES = 4


@exercise("04.peak-search")
def peak_search(answer) -> Feedback:
    """``answer``: the one-row table ``search_scaling_experiment(instances, rate=700, ...)`` returned."""
    from labsvc.shop.people import SEARCH_SERVICE_TIME

    needed = {"instances", "utilisation", "p95_ms", "availability"}
    if not isinstance(answer, pd.DataFrame) or not needed <= set(answer.columns) or len(answer) != 1:
        return Feedback(False, "pass the table of one run: check('04.peak-search', peak), with peak = await "
                               "search_scaling_experiment(instances, rate=700, requests=400, seed=1)",
                        ko="실행 한 번의 표를 넘겨주세요: peak = await search_scaling_experiment(instances, rate=700, "
                           "requests=400, seed=1) 다음에 check('04.peak-search', peak)")
    row = answer.iloc[0]
    n, p95, availability = int(row["instances"]), float(row["p95_ms"]), float(row["availability"])
    rate = float(row["utilisation"]) * n / SEARCH_SERVICE_TIME
    if abs(rate - PEAK_RATE) > 1:
        return Feedback(False, f"this run sent {rate:.0f} searches per second; keep rate={PEAK_RATE} and change only "
                               f"the number of instances",
                        ko=f"이 실행은 초당 {rate:.0f}건을 보냈습니다. rate={PEAK_RATE}는 그대로 두고 인스턴스 수만 "
                           f"바꾸세요")
    if n > PEAK_MAX_INSTANCES:
        return Feedback(False, f"refused: {n} search instances is over the budget of {PEAK_MAX_INSTANCES} "
                               f"(p95 was {p95:.0f} ms); find the smallest count that meets the target",
                        ko=f"받아들일 수 없습니다: 검색 인스턴스 {n}개는 예산 {PEAK_MAX_INSTANCES}개를 넘습니다"
                           f"(p95 {p95:.0f} ms). 목표를 지키는 가장 작은 수를 찾으세요")
    if p95 >= P95_TARGET_MS or availability < 1.0:
        return Feedback(False, f"with {n} instance(s), p95 is {p95:.0f} ms, {p95 - P95_TARGET_MS:.0f} ms over the "
                               f"{P95_TARGET_MS:g} ms target (availability {availability:.1%}); utilisation "
                               f"{float(row['utilisation']):.2f} means the queue grows for as long as the peak lasts",
                        ko=f"인스턴스 {n}개일 때 p95는 {p95:.0f} ms로 목표 {P95_TARGET_MS:g} ms보다 "
                           f"{p95 - P95_TARGET_MS:.0f} ms 깁니다(가용성 {availability:.1%}). 사용률 "
                           f"{float(row['utilisation']):.2f}이면 피크가 이어지는 동안 대기열이 계속 늘어납니다")
    return Feedback(True, f"{n} search instances: utilisation {float(row['utilisation']):.2f}, p95 {p95:.0f} ms. "
                          f"Only search grew: {n + 1} module copies. Embedded, each search copy would also be a "
                          f"copy of the employee module: {2 * n}.",
                    ko=f"검색 인스턴스 {n}개: 사용률 {float(row['utilisation']):.2f}, p95 {p95:.0f} ms. 검색만 "
                       f"늘렸으므로 모듈 사본은 {n + 1}개입니다. 검색이 직원 서비스 안에 있었다면 검색 사본마다 직원 "
                       f"모듈 사본이 따라가서 {2 * n}개가 됩니다.")
