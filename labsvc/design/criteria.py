"""The guide's criteria for identifying a microservice, measured on a monolith's data.

설계 원칙 1) (the unit of a microservice) and 마이크로서비스 식별 (identifying
microservices) give three tests for "should this be a service of its own?":

* **reuse**: code that many other modules use over and over is a candidate
  for a shared service (the guide's auth and search examples);
* **independence**: a module that is loosely connected to the rest can be
  cut out whole;
* **load and change**: a part that must scale on its own, or that changes
  more often than the rest, is worth separating.

설계 원칙 6) (a few tables per service, organised around a business
capability) and 4) (each service owns its data) add a check on the cut:
:func:`foreign_table_access` lists the places where a service would read
another service's tables.

Reuse and independence are read from the dependency graph, change rate from
the change history. Load needs traffic; see :mod:`labsvc.shop.people` and
:mod:`labsvc.design.topology` for measuring it at run time.

>>> import networkx as nx
>>> from labsvc.design import Decomposition
>>> g = nx.DiGraph([("web", "auth"), ("orders", "auth"), ("orders", "db")])
>>> d = Decomposition("d", {"web": "web", "orders": "orders", "db": "orders", "auth": "auth"})
>>> int(module_reuse(g, d).loc["auth", "used_by_services"])
2
"""

from __future__ import annotations

import networkx as nx
import pandas as pd

from labsvc.design._graph import edge_weight
from labsvc.design.decomposition import Decomposition
from labsvc.design._change_impact import Changes, change_impact, change_sets
from labsvc.design.metrics import _checked, service_cohesion

__all__ = ["module_reuse", "service_criteria", "foreign_table_access"]


def module_reuse(graph: nx.DiGraph, decomposition: Decomposition) -> pd.DataFrame:
    """How many *other* services depend on each module: the reuse criterion.

    One row per module (index ``module``): ``service`` (its own),
    ``used_by_services`` (distinct other services with a module that depends
    on it), ``used_by_modules`` (such modules) and ``incoming_weight`` (their
    total dependency weight). Sorted by ``used_by_services``, then weight,
    most reused first.
    """
    svc = _checked(graph, decomposition)
    rows = []
    for module in graph.nodes:
        users = [(u, edge_weight(d)) for u, _, d in graph.in_edges(module, data=True) if svc[u] != svc[module]]
        rows.append({
            "module": module,
            "service": svc[module],
            "used_by_services": len({svc[u] for u, _ in users}),
            "used_by_modules": len(users),
            "incoming_weight": sum(w for _, w in users),
        })
    frame = pd.DataFrame(rows).set_index("module")
    return frame.sort_values(["used_by_services", "incoming_weight"], ascending=False, kind="stable")


def service_criteria(graph: nx.DiGraph, decomposition: Decomposition, changes: Changes | None = None) -> pd.DataFrame:
    """Reuse, independence and change rate per service of ``decomposition``.

    One row per service: ``modules``; ``used_by`` (other services that
    depend on it: reuse); ``uses`` (other services it depends on);
    ``cohesion`` (internal / (internal + outgoing) weight: independence, 1.0
    means it needs nothing outside); and, with a change history,
    ``changes`` (changes that touched it) and ``changes_alone`` (share of
    those that touched no other service).
    """
    svc = _checked(graph, decomposition)
    cohesion = service_cohesion(graph, decomposition)
    used_by: dict[str, set[str]] = {s: set() for s in decomposition.services}
    uses: dict[str, set[str]] = {s: set() for s in decomposition.services}
    for u, v in graph.edges:
        if svc[u] != svc[v]:
            used_by[svc[v]].add(svc[u])
            uses[svc[u]].add(svc[v])
    frame = pd.DataFrame({
        "modules": cohesion["modules"],
        "used_by": pd.Series({s: len(x) for s, x in used_by.items()}),
        "uses": pd.Series({s: len(x) for s, x in uses.items()}),
        "cohesion": cohesion["cohesion"],
    })
    if changes is not None:
        impact = change_impact(change_sets(changes), decomposition)
        counts = {s: 0 for s in frame.index}
        alone = {s: 0 for s in frame.index}
        for touched in impact["touched"]:
            for s in touched:
                counts[s] += 1
                alone[s] += len(touched) == 1
        frame["changes"] = pd.Series(counts)
        frame["changes_alone"] = pd.Series({s: alone[s] / counts[s] if counts[s] else float("nan") for s in counts})
    frame.index.name = "service"
    return frame


def foreign_table_access(graph: nx.DiGraph, decomposition: Decomposition, layer: str = "persistence") -> pd.DataFrame:
    """Dependencies on another service's data-access modules (the tables it owns).

    A module whose ``layer`` attribute is ``layer`` stands for tables; an
    edge into it from a module of another service means that service would
    read or write tables it does not own: a shared database, or an API to
    design. One row per such edge: ``service`` (the reader), ``module``,
    ``table_module``, ``owner`` (the service holding the tables) and
    ``weight``; heaviest first.

    >>> import networkx as nx
    >>> from labsvc.design import Decomposition
    >>> g = nx.DiGraph([("ship", "order_repo")]); g.nodes["order_repo"]["layer"] = "persistence"
    >>> foreign_table_access(g, Decomposition("d", {"ship": "delivery", "order_repo": "order"}))["owner"].tolist()
    ['order']
    """
    svc = _checked(graph, decomposition)
    rows = [
        {"service": svc[u], "module": u, "table_module": v, "owner": svc[v], "weight": edge_weight(d)}
        for u, v, d in graph.edges(data=True)
        if graph.nodes[v].get("layer") == layer and svc[u] != svc[v]
    ]
    frame = pd.DataFrame(rows, columns=["service", "module", "table_module", "owner", "weight"])
    return frame.sort_values(["weight", "module"], ascending=[False, True], kind="stable").reset_index(drop=True)
