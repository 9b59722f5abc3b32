"""Checkers for notebook 03 (coupling, cohesion and decomposition)."""

from __future__ import annotations

import networkx as nx
import pandas as pd

from ..course import Feedback, exercise
from ..design.decomposition import Decomposition
from ..design.metrics import change_impact, compare
from ..errors import ConfigurationError

#: Exercise 1: a candidate must keep at least this many services and no service
#: may hold more than this share of the modules (a monolith in disguise does not count).
MIN_SERVICES = 5
MAX_LARGEST_SHARE = 0.4


@exercise("03.beat-baseline")
def beat_baseline(answer, graph: nx.DiGraph, changes: pd.DataFrame, baseline: Decomposition) -> Feedback:
    """``answer`` is a :class:`Decomposition` of the shop that beats ``baseline`` (lower icp, higher
    modularity, no more services per change) with >= 5 services, none holding > 40 % of the modules."""
    if not isinstance(answer, Decomposition):
        return Feedback(False, "answer with a Decomposition, e.g. shop.decompositions['ddd'].merge([...], into=...)")
    try:
        answer.validate(graph)
    except ConfigurationError as exc:
        return Feedback(False, str(exc))
    table = compare({"yours": answer, "baseline": baseline}, graph, changes)
    yours, base = table.loc["yours"], table.loc["baseline"]
    if yours["services"] < MIN_SERVICES:
        return Feedback(False, f"{int(yours['services'])} services: keep at least {MIN_SERVICES}, or the "
                               "coupling vanishes only because there is nothing left to couple")
    if yours["largest_share"] > MAX_LARGEST_SHARE:
        return Feedback(False, f"your largest service holds {yours['largest_share']:.0%} of the modules "
                               f"(at most {MAX_LARGEST_SHARE:.0%}): a monolith in disguise")
    scores = (f"icp {yours['icp']:.3f} vs {base['icp']:.3f}, modularity {yours['modularity']:.3f} vs "
              f"{base['modularity']:.3f}, services per change {yours['services_per_change']:.3f} vs "
              f"{base['services_per_change']:.3f}")
    if not (yours["icp"] < base["icp"] and yours["modularity"] > base["modularity"]
            and yours["services_per_change"] <= base["services_per_change"]):
        return Feedback(False, f"not better on all three yet: {scores}. Which services talk to each other "
                               "most (service_dependencies) and change together (change_impact)?")
    return Feedback(True, f"better on all three: {scores}.")


@exercise("03.most-services")
def most_services(answer, changes: pd.DataFrame, decomposition: Decomposition) -> Feedback:
    """``answer`` is the id of a change that touches the most services of ``decomposition``."""
    impact = change_impact(changes, decomposition)
    top = int(impact["services"].max())
    best = sorted(impact.loc[impact["services"] == top, "change_id"])
    if answer not in set(impact["change_id"]):
        return Feedback(False, f"{answer!r} is not a change id of the history (they look like 'CH-001')")
    if answer not in best:
        mine = int(impact.loc[impact["change_id"] == answer, "services"].iloc[0])
        return Feedback(False, f"{answer} touches {mine} service(s); some change touches {top}")
    others = f" (tied with {', '.join(b for b in best if b != answer)})" if len(best) > 1 else ""
    touched = impact.loc[impact["change_id"] == answer, "touched"].iloc[0]
    return Feedback(True, f"{answer} touches {top} services: {', '.join(touched)}{others}. Each would "
                          "need its own team and release to ship it.")
