"""Checkers for notebook 04 (identifying microservices)."""

from __future__ import annotations

import networkx as nx
import pandas as pd

from ..course import Feedback, exercise
from ..design.criteria import module_reuse
from ..design.decomposition import Decomposition
from ..design.metrics import compare
from ..errors import ConfigurationError

#: Exercise 2: the latency target for search.
P95_TARGET_MS = 20.0


@exercise("04.reuse")
def reuse(answer, graph: nx.DiGraph, decomposition: Decomposition) -> Feedback:
    """``answer`` is the module that the most *other* services depend on."""
    table = module_reuse(graph, decomposition)
    top = int(table["used_by_services"].max())
    best = sorted(table.index[table["used_by_services"] == top])
    if answer not in table.index:
        return Feedback(False, f"{answer!r} is not a module of the graph (names look like 'catalog.api')")
    if answer not in best:
        mine = int(table.loc[answer, "used_by_services"])
        return Feedback(False, f"{answer} is used by {mine} other service(s); one module is used by {top}")
    return Feedback(True, f"{answer} is used by {top} other services: every one of them would otherwise "
                          "carry its own copy. That is the guide's case for a shared service.")


@exercise("04.scale-search")
def scale_search(answer, table: pd.DataFrame) -> Feedback:
    """``answer`` is the fewest search instances whose p95 stays under :data:`P95_TARGET_MS`."""
    needed = {"instances", "p95_ms"}
    if not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
        return Feedback(False, "pass the table search_scaling_experiment(...) returned")
    fast = table.loc[table["p95_ms"] < P95_TARGET_MS, "instances"]
    if fast.empty:
        return Feedback(False, f"no instance count in your table met p95 < {P95_TARGET_MS:g} ms; try more instances")
    best = int(fast.min())
    if answer != best:
        return Feedback(False, f"read the p95_ms column: which is the first instance count under {P95_TARGET_MS:g} ms?")
    return Feedback(True, f"{best} search instances keep p95 under {P95_TARGET_MS:g} ms; the employee service "
                          "did not have to grow with them.")


@exercise("04.split-out")
def split_out(answer, graph: nx.DiGraph, start: Decomposition) -> Feedback:
    """``answer`` is ``start`` with the ``search.*`` modules moved to a new service ``search``, nothing else."""
    if not isinstance(answer, Decomposition):
        return Feedback(False, "answer with a Decomposition, e.g. built with start.move(module, 'search')")
    try:
        answer.validate(graph)
    except ConfigurationError as exc:
        return Feedback(False, str(exc))
    search = sorted(m for m in graph if str(m).startswith("search."))
    moved = sorted(m for m in answer.modules if answer.service_of(m) != start.service_of(m))
    if sorted(answer.services.get("search", ())) != search:
        return Feedback(False, f"the new service 'search' should hold exactly {search}")
    if moved != search:
        return Feedback(False, f"move only the search modules; you also moved {sorted(set(moved) - set(search))}")
    table = compare({"before": start, "after": answer}, graph)
    return Feedback(True, f"search is its own service now: {int(table.loc['after', 'services'])} services, "
                          f"icp {table.loc['before', 'icp']:.3f} -> {table.loc['after', 'icp']:.3f}. "
                          "Now measure what it costs at run time.")
