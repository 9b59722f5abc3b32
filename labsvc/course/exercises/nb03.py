"""Checkers for notebook 03 (coupling, cohesion and decomposition)."""

from __future__ import annotations

import networkx as nx
import pandas as pd

from labsvc.course import Feedback, exercise
from labsvc.design.decomposition import Decomposition
from labsvc.design.metrics import change_impact, compare
from labsvc.core.errors import ConfigurationError

#: Exercise 1: a candidate must keep at least this many services and no service
#: may hold more than this share of the modules (a monolith in disguise does not count).
MIN_SERVICES = 5
MAX_LARGEST_SHARE = 0.4


@exercise("03.beat-baseline")
def beat_baseline(answer, graph: nx.DiGraph, changes: pd.DataFrame, baseline: Decomposition) -> Feedback:
    """``answer`` is a :class:`Decomposition` of the shop that beats ``baseline`` (lower icp, higher
    modularity, no more services per change) with >= 5 services, none holding > 40 % of the modules."""
    if not isinstance(answer, Decomposition):
        return Feedback(False, "answer with a Decomposition, e.g. shop.decompositions['ddd'].merge([...], into=...)",
                        ko="Decomposition으로 답하세요. 예: shop.decompositions['ddd'].merge([...], into=...)")
    try:
        answer.validate(graph)
    except ConfigurationError as exc:
        return Feedback(False, str(exc),
                        ko=f"이 분할안은 쓸 수 없습니다: {exc}")
    table = compare({"yours": answer, "baseline": baseline}, graph, changes)
    yours, base = table.loc["yours"], table.loc["baseline"]
    if yours["services"] < MIN_SERVICES:
        return Feedback(False, f"{int(yours['services'])} services: keep at least {MIN_SERVICES}, or the "
                               "coupling vanishes only because there is nothing left to couple",
                        ko=f"서비스가 {int(yours['services'])}개입니다. {MIN_SERVICES}개 이상은 유지하세요. 그러지 않으면 결합도가 사라지는 것은 결합할 대상이 남지 않았기 때문일 뿐입니다")
    if yours["largest_share"] > MAX_LARGEST_SHARE:
        return Feedback(False, f"your largest service holds {yours['largest_share']:.0%} of the modules "
                               f"(at most {MAX_LARGEST_SHARE:.0%}): a monolith in disguise",
                        ko=f"가장 큰 서비스가 전체 모듈의 {yours['largest_share']:.0%}를 갖고 있습니다(최대 {MAX_LARGEST_SHARE:.0%}). 모놀리스가 이름만 바꾼 셈입니다")
    scores = (f"icp {yours['icp']:.3f} vs {base['icp']:.3f}, modularity {yours['modularity']:.3f} vs "
              f"{base['modularity']:.3f}, services per change {yours['services_per_change']:.3f} vs "
              f"{base['services_per_change']:.3f}")
    if not (yours["icp"] < base["icp"] and yours["modularity"] > base["modularity"]
            and yours["services_per_change"] <= base["services_per_change"]):
        return Feedback(False, f"not better on all three yet: {scores}. Which services talk to each other "
                               "most (service_dependencies) and change together (change_impact)?",
                        ko=f"아직 세 지표 모두에서 낫지는 않습니다: {scores}. 어떤 서비스들이 서로 가장 많이 통신하고(service_dependencies) 함께 바뀌는지(change_impact) 보세요")
    return Feedback(True, f"better on all three: {scores}.",
                    ko=f"세 지표 모두에서 더 낫습니다: {scores}.")


@exercise("03.most-services")
def most_services(answer, changes: pd.DataFrame, decomposition: Decomposition) -> Feedback:
    """``answer`` is the id of a change that touches the most services of ``decomposition``."""
    impact = change_impact(changes, decomposition)
    top = int(impact["services"].max())
    best = sorted(impact.loc[impact["services"] == top, "change_id"])
    if answer not in set(impact["change_id"]):
        return Feedback(False, f"{answer!r} is not a change id of the history (they look like 'CH-001')",
                        ko=f"{answer!r}은(는) 변경 이력에 있는 change id가 아닙니다('CH-001' 같은 형식입니다)")
    if answer not in best:
        mine = int(impact.loc[impact["change_id"] == answer, "services"].iloc[0])
        return Feedback(False, f"{answer} touches {mine} service(s); some change touches {top}",
                        ko=f"{answer}은(는) 서비스 {mine}개를 건드립니다. {top}개를 건드리는 변경이 있습니다")
    others = f" (tied with {', '.join(b for b in best if b != answer)})" if len(best) > 1 else ""
    touched = impact.loc[impact["change_id"] == answer, "touched"].iloc[0]
    return Feedback(True, f"{answer} touches {top} services: {', '.join(touched)}{others}. Each would "
                          "need its own team and release to ship it.",
                    ko=f"{answer}은(는) 서비스 {top}개를 건드립니다: {', '.join(touched)}{others}. 이 변경을 내보내려면 서비스마다 담당 팀과 릴리스가 따로 필요합니다.")


#: The two splits the prediction exercise asks about.
PREDICT_CHOICES = ("layered", "ddd")


@exercise("03.predict-coupling")
def predict_coupling(answer, prediction=None) -> Feedback:
    """``answer`` is the score table of section 2 (``static``); ``prediction`` is ``"layered"`` or ``"ddd"``,
    the split the learner expected to send the smaller share of dependency weight over the network."""
    if not isinstance(answer, pd.DataFrame) or "icp" not in answer.columns \
            or not set(PREDICT_CHOICES) <= set(answer.index):
        return Feedback(False, "pass the score table and your prediction: "
                               "check('03.predict-coupling', static, prediction=prediction)",
                        ko="점수 표와 예측을 넘겨주세요: check('03.predict-coupling', static, prediction=prediction)")
    if prediction is ... or prediction is None:
        return Feedback(False, "no prediction was made: write \"layered\" or \"ddd\" into prediction in the cell "
                               "before the scores, then run it and this cell again",
                        ko="예측이 없습니다. 점수 표 앞 셀의 prediction에 \"layered\" 또는 \"ddd\"를 적고, "
                           "그 셀과 이 셀을 다시 실행하세요")
    guess = str(prediction).strip().lower()
    if guess not in PREDICT_CHOICES:
        return Feedback(False, f"predict one of two splits, \"layered\" or \"ddd\" (you wrote {prediction!r})",
                        ko=f"두 분할안 중 하나를 예측하세요: \"layered\" 또는 \"ddd\" (적은 값: {prediction!r})")
    icp = {name: float(answer.loc[name, "icp"]) for name in PREDICT_CHOICES}
    lower = min(PREDICT_CHOICES, key=icp.get)
    other = next(name for name in PREDICT_CHOICES if name != lower)
    gap = (f"{icp[lower]:.0%} of the dependency weight crosses a service boundary under {lower}, "
           f"{icp[other]:.0%} under {other}")
    gap_ko = (f"{lower}에서는 의존성 가중치의 {icp[lower]:.0%}가 서비스 경계를 넘고, "
              f"{other}에서는 {icp[other]:.0%}가 넘습니다")
    if guess != lower:
        return Feedback(False, f"you predicted {guess}; {gap}. A module mostly depends on the layer below it in "
                               "its own business area, so cutting between layers cuts almost every dependency, "
                               "while cutting between contexts keeps each area's layers together",
                        ko=f"{guess}로 예측했지만, {gap_ko}. 모듈은 대부분 같은 업무 영역 안의 아래 계층에 "
                           "의존합니다. 그래서 계층 사이를 자르면 거의 모든 의존성이 잘리고, 컨텍스트 사이를 "
                           "자르면 영역마다 계층이 한데 남습니다")
    return Feedback(True, f"{gap}, as you predicted.", ko=f"{gap_ko}. 예측한 그대로입니다.")


# -- change and observe: fewer hops per request with a cut that keeps eight services -------------

#: The target of "03.fewer-hops": at most HOPS_TARGET hops per request on section 6's workload, with at least
#: MIN_KEPT_SERVICES services (at most two merges of ddd's ten) and none holding more than MAX_LARGEST_SHARE.
HOPS_TARGET = 5.2
MIN_KEPT_SERVICES = 8
MIN_REQUESTS = 60


@exercise("03.fewer-hops")
def fewer_hops(answer, decomposition=None) -> Feedback:
    """``answer``: ``await runtime_metrics(split, shop.graph, **RUN)``; ``decomposition``: the ``split`` it ran."""
    if not isinstance(answer, pd.Series) or not {"calls_per_request", "services", "requests"} <= set(answer.index):
        return Feedback(False, "pass what runtime_metrics measured and the split it ran: "
                               "check('03.fewer-hops', measured, decomposition=split)",
                        ko="runtime_metrics가 측정한 결과와 실행한 분할안을 넘겨주세요: "
                           "check('03.fewer-hops', measured, decomposition=split)")
    if not isinstance(decomposition, Decomposition) or answer.name != decomposition.name \
            or int(answer["services"]) != len(decomposition.services):
        return Feedback(False, "pass the split that was measured: check('03.fewer-hops', measured, "
                               "decomposition=split), with measured = await runtime_metrics(split, shop.graph, **RUN)",
                        ko="측정한 그 분할안을 넘겨주세요: check('03.fewer-hops', measured, decomposition=split). "
                           "measured는 await runtime_metrics(split, shop.graph, **RUN)의 결과입니다")
    if int(answer["requests"]) < MIN_REQUESTS:
        return Feedback(False, f"{int(answer['requests'])} requests measured: run section 6's workload "
                               f"(runtime_metrics(split, shop.graph, **RUN), {MIN_REQUESTS} requests)",
                        ko=f"측정한 요청이 {int(answer['requests'])}건입니다. 6절의 부하로 실행하세요"
                           f"(runtime_metrics(split, shop.graph, **RUN), 요청 {MIN_REQUESTS}건)")
    services = len(decomposition.services)
    if services < MIN_KEPT_SERVICES:
        return Feedback(False, f"refused: {services} services; keep at least {MIN_KEPT_SERVICES} (at most two "
                               f"merges of ddd's ten), or the hops vanish only because the services did",
                        ko=f"인정할 수 없습니다. 서비스가 {services}개입니다. {MIN_KEPT_SERVICES}개 이상 유지하세요"
                           f"(ddd의 10개 중 합치기는 최대 두 번). 그러지 않으면 홉이 줄어든 것은 서비스가 사라졌기 때문일 "
                           f"뿐입니다")
    sizes = [len(modules) for modules in decomposition.services.values()]
    largest = max(sizes) / sum(sizes)
    if largest > MAX_LARGEST_SHARE:
        return Feedback(False, f"refused: your largest service holds {largest:.0%} of the modules (at most "
                               f"{MAX_LARGEST_SHARE:.0%}): a monolith in disguise",
                        ko=f"인정할 수 없습니다. 가장 큰 서비스가 전체 모듈의 {largest:.0%}를 갖고 있습니다(최대 "
                           f"{MAX_LARGEST_SHARE:.0%}). 모놀리스가 이름만 바꾼 셈입니다")
    hops = float(answer["calls_per_request"])
    if hops > HOPS_TARGET:
        return Feedback(False, f"{hops:.2f} hops per request with {services} services: {hops - HOPS_TARGET:.2f} "
                               f"above the target of {HOPS_TARGET:g}. The pairs that weigh most in the code are not "
                               f"always the pairs requests cross most often: count the call log's hops per pair",
                        ko=f"서비스 {services}개에서 요청당 홉이 {hops:.2f}개로, 목표 {HOPS_TARGET:g}보다 "
                           f"{hops - HOPS_TARGET:.2f} 많습니다. 코드에서 가중치가 가장 큰 쌍이 요청이 가장 자주 건너는 쌍이라고는 "
                           f"할 수 없습니다. 호출 로그에서 쌍마다 홉을 세어 보세요")
    return Feedback(True, f"{hops:.2f} hops per request with {services} services (target {HOPS_TARGET:g}). The "
                          f"merges that pay are those of pairs that requests cross most often at run time, which "
                          f"the static weights alone do not show.",
                    ko=f"서비스 {services}개에서 요청당 홉 {hops:.2f}개입니다(목표 {HOPS_TARGET:g}). 효과가 있는 합치기는 "
                       f"런타임에 요청이 가장 자주 건너는 쌍을 합치는 것이고, 정적 가중치만으로는 그 쌍이 보이지 않습니다.")
