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
