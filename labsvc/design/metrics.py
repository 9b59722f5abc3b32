"""Coupling, cohesion, modularity and change impact of a decomposition.

The guide's 설계 원칙 2) (loose coupling and high cohesion, 느슨한 결합과 높은
응집력) and 설계 방법 (design method: most changes should touch one service)
are claims you can measure on a monolith's dependency graph before cutting it:

* **coupling** (결합도): how much of the dependency weight crosses service
  boundaries, i.e. would become network calls;
* **cohesion** (응집도): how much of a service's dependency weight stays inside it;
* **modularity** (모듈성): the same trade-off in one number (two variants);
* **size balance**: one giant service plus crumbs is a monolith in disguise;
* **change impact** (변경 영향): given past changes (sets of modules changed
  together), how many services each would have touched.

Every function is pure: it takes a weighted ``networkx.DiGraph`` (edge
attribute ``weight``, default 1, read as "how strongly the source depends on
the target") and a :class:`~labsvc.design.Decomposition`, checks that they
match, and returns a number or a DataFrame. The formula is in each docstring.

These are *static* measures of a code graph. They say what would cross the
network, not how often at run time; notebook 03 compares them with measured
calls.

The change-impact functions, which need a change history rather than the
graph, live in the private ``_change_impact`` module and are public here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import combinations

import networkx as nx
import pandas as pd

from labsvc.design._change_impact import (
    Changes,
    change_impact,
    change_sets,
    mean_services_per_change,
    multi_service_change_share,
)
from labsvc.design._graph import check_graph, edge_weight, log_weights, undirected
from labsvc.design.decomposition import Decomposition, _preview
from labsvc.core.errors import ConfigurationError

__all__ = [
    "METRICS",
    "log_weights",
    "inter_service_weight",
    "inter_service_share",
    "service_dependencies",
    "coupling_matrix",
    "service_graph",
    "service_cohesion",
    "cohesion",
    "edge_density",
    "modularity",
    "structural_modularity",
    "interface_number",
    "largest_service_share",
    "size_cv",
    "non_extreme_distribution",
    "change_impact",
    "mean_services_per_change",
    "multi_service_change_share",
    "compare",
]

#: The columns :func:`compare` returns: ``{column: (meaning, better)}`` where
#: ``better`` is ``"higher"``, ``"lower"`` or ``""`` (no direction).
METRICS: Mapping[str, tuple[str, str]] = {
    "services": ("number of services K", ""),
    "largest_share": ("share of modules in the largest service", "lower"),
    "size_cv": ("coefficient of variation of service sizes", "lower"),
    "ned": ("non-extreme distribution: 1 - share of modules in services of 5..20 modules", "lower"),
    "coupling": ("dependency weight crossing services", "lower"),
    "icp": ("inter-service share: crossing weight / total weight", "lower"),
    "cohesion": ("mean over services of internal / (internal + outgoing) weight", "higher"),
    "density": ("mean over services of internal edges / (n (n - 1))", "higher"),
    "modularity": ("Newman modularity Q (undirected, weighted)", "higher"),
    "sm": ("structural modularity (Jin et al. 2019)", "higher"),
    "ifn": ("interface number: mean modules per service called from outside", "lower"),
    "changes": ("number of changes in the history", ""),
    "services_per_change": ("mean services touched per change", "lower"),
    "multi_service_changes": ("share of changes touching more than one service", "lower"),
}


def _checked(graph: nx.DiGraph, decomposition: Decomposition) -> dict[str, str]:
    if not isinstance(decomposition, Decomposition):
        raise ConfigurationError(
            f"expected a Decomposition, got {type(decomposition).__name__}; "
            "build one with Decomposition(name, {module: service})"
        )
    decomposition.validate(graph)  # also checks the graph
    return dict(decomposition.assignment)


def _total_weight(graph: nx.DiGraph) -> float:
    return sum(edge_weight(d) for _, _, d in graph.edges(data=True))


# -- coupling -----------------------------------------------------------------


def inter_service_weight(graph: nx.DiGraph, decomposition: Decomposition) -> float:
    """Coupling: the total weight of dependencies that cross service boundaries.

    ``coupling = sum of w(u -> v) over edges with service(u) != service(v)``

    Every such edge would become a remote call (or a shared library, or a
    shared table) once the services are split.

    >>> import networkx as nx
    >>> g = nx.DiGraph(); g.add_edge("a", "b", weight=2); g.add_edge("b", "c", weight=3)
    >>> inter_service_weight(g, Decomposition("d", {"a": "x", "b": "x", "c": "y"}))
    3
    """
    svc = _checked(graph, decomposition)
    return sum(edge_weight(d) for u, v, d in graph.edges(data=True) if svc[u] != svc[v])


def inter_service_share(graph: nx.DiGraph, decomposition: Decomposition) -> float:
    """Normalised coupling: the share of all dependency weight that crosses services.

    ``icp = coupling / sum of all edge weights``  (0 = nothing crosses, 1 = everything)

    This is the static analogue of Mono2Micro's inter-partition call
    percentage (ICP), which uses runtime call volumes transformed as
    ``1 + ln(volume)``; pass ``log_weights(graph)`` to mimic that transform.
    Returns NaN for a graph without edges.

    >>> import networkx as nx
    >>> g = nx.DiGraph(); g.add_edge("a", "b", weight=2); g.add_edge("b", "c", weight=3)
    >>> inter_service_share(g, Decomposition("d", {"a": "x", "b": "x", "c": "y"}))
    0.6
    """
    crossing = inter_service_weight(graph, decomposition)
    total = _total_weight(graph)
    return crossing / total if total else math.nan


def service_dependencies(graph: nx.DiGraph, decomposition: Decomposition) -> pd.DataFrame:
    """The crossing dependencies aggregated per pair of services.

    One row per (caller, callee) service pair with ``weight`` (sum of edge
    weights) and ``edges`` (number of module edges), heaviest first. This is
    the call topology the split would create.
    """
    svc = _checked(graph, decomposition)
    agg: dict[tuple[str, str], list[float]] = {}
    for u, v, d in graph.edges(data=True):
        if svc[u] != svc[v]:
            w, n = agg.get((svc[u], svc[v]), (0, 0))
            agg[(svc[u], svc[v])] = [w + edge_weight(d), n + 1]
    frame = pd.DataFrame(
        [(a, b, w, int(n)) for (a, b), (w, n) in agg.items()],
        columns=["caller", "callee", "weight", "edges"],
    )
    return frame.sort_values(["weight", "caller", "callee"], ascending=[False, True, True],
                             kind="stable").reset_index(drop=True)


def coupling_matrix(graph: nx.DiGraph, decomposition: Decomposition) -> pd.DataFrame:
    """Service x service matrix of dependency weight (rows depend on columns).

    The diagonal holds the internal weight; off-diagonal cells are coupling.
    """
    svc = _checked(graph, decomposition)
    services = sorted(set(svc.values()))
    m = pd.DataFrame(0.0, index=pd.Index(services, name="caller"),
                     columns=pd.Index(services, name="callee"))
    for u, v, d in graph.edges(data=True):
        m.loc[svc[u], svc[v]] += edge_weight(d)
    return m


def service_graph(graph: nx.DiGraph, decomposition: Decomposition) -> nx.DiGraph:
    """The graph of services: one node per service (attribute ``modules``), one
    edge per dependent pair with the summed ``weight`` and module-edge count ``edges``."""
    deps = service_dependencies(graph, decomposition)  # validates
    g = nx.DiGraph(name=decomposition.name)
    for service, modules in decomposition.services.items():
        g.add_node(service, modules=len(modules))
    for row in deps.itertuples(index=False):
        g.add_edge(row.caller, row.callee, weight=row.weight, edges=row.edges)
    return g


# -- cohesion -----------------------------------------------------------------


def service_cohesion(graph: nx.DiGraph, decomposition: Decomposition) -> pd.DataFrame:
    """Per-service internal and crossing weight, cohesion and internal edge density.

    For a service ``s`` with ``n`` modules:

    * ``internal`` = sum of ``w(u -> v)`` with u, v in s
    * ``outgoing`` = sum of ``w(u -> v)`` with u in s, v outside
    * ``incoming`` = sum of ``w(u -> v)`` with u outside, v in s
    * ``cohesion`` = internal / (internal + outgoing); NaN if both are 0.
      It asks "of what this service's modules depend on, how much is inside
      the service?". Incoming weight is left out on purpose: being used a lot
      by others makes a service popular, not incoherent.
    * ``internal_edges`` = number of edges with both ends in s
    * ``density`` = internal_edges / (n (n - 1)), the share of possible
      directed edges present; NaN for a one-module service.

    Returns one row per service, sorted by service.
    """
    svc = _checked(graph, decomposition)
    rows = {s: {"modules": len(m), "internal": 0, "outgoing": 0, "incoming": 0,
                "internal_edges": 0} for s, m in decomposition.services.items()}
    for u, v, d in graph.edges(data=True):
        w = edge_weight(d)
        if svc[u] == svc[v]:
            rows[svc[u]]["internal"] += w
            rows[svc[u]]["internal_edges"] += 1
        else:
            rows[svc[u]]["outgoing"] += w
            rows[svc[v]]["incoming"] += w
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "service"
    reach = frame["internal"] + frame["outgoing"]
    frame["cohesion"] = (frame["internal"] / reach).where(reach > 0)
    pairs = frame["modules"] * (frame["modules"] - 1)
    frame["density"] = (frame["internal_edges"] / pairs).where(pairs > 0)
    return frame.astype({"cohesion": "float64", "density": "float64"})


def cohesion(graph: nx.DiGraph, decomposition: Decomposition) -> float:
    """Mean per-service cohesion (see :func:`service_cohesion`).

    ``cohesion = mean over services s of internal(s) / (internal(s) + outgoing(s))``,
    skipping services with no outgoing or internal weight at all (NaN if none
    is left). Every service counts once whatever its size, so a swarm of tiny
    services that all call out scores low even if one big service is tidy.
    (The weight-weighted version would simply be ``1 - icp``.)
    """
    values = service_cohesion(graph, decomposition)["cohesion"].dropna()
    return float(values.mean()) if len(values) else math.nan


def edge_density(graph: nx.DiGraph, decomposition: Decomposition) -> float:
    """Mean internal edge density over services with at least two modules.

    ``density = mean over services s with n >= 2 of internal_edges(s) / (n (n - 1))``;
    NaN when every service has a single module.
    """
    values = service_cohesion(graph, decomposition)["density"].dropna()
    return float(values.mean()) if len(values) else math.nan


# -- modularity ---------------------------------------------------------------


def modularity(graph: nx.DiGraph, decomposition: Decomposition, resolution: float = 1.0) -> float:
    """Newman modularity Q of the services on the undirected weighted graph.

    The directed graph is made undirected with ``w(a, b) = w(a -> b) + w(b -> a)``;
    with ``m`` the total weight, ``L_c`` the weight inside service ``c`` and
    ``d_c`` the sum of the weighted degrees of its modules:

    ``Q = sum over services c of [ L_c / m - resolution * (d_c / (2 m))**2 ]``

    Q compares the weight kept inside services with what a random graph with
    the same degrees would keep there: about 0 for one service or a random
    cut, up to 1 for well-separated clusters, negative for a cut worse than
    random. Computed with ``networkx.community.modularity``; NaN for a graph
    without edges.
    """
    svc = _checked(graph, decomposition)
    u = undirected(graph)
    if u.size(weight="weight") == 0:
        return math.nan
    communities: dict[str, set[str]] = {}
    for module, service in svc.items():
        communities.setdefault(service, set()).add(module)
    return float(nx.community.modularity(u, list(communities.values()), weight="weight",
                                         resolution=resolution))


def _linked_pairs(graph: nx.DiGraph) -> set[frozenset[str]]:
    # unordered pairs of distinct modules joined by an edge in either direction
    return {frozenset((u, v)) for u, v in graph.edges if u != v}


def structural_modularity(graph: nx.DiGraph, decomposition: Decomposition) -> float:
    """Structural modularity (SM) as used in the microservice-decomposition literature.

    From Jin et al., "Service candidate identification from monolithic
    systems based on execution traces" (IEEE TSE 2019), and as computed by
    Mono2Micro (``metrics/metrics_util.py``). Weights and direction are
    ignored: only whether two modules are linked counts. With ``K`` services,
    ``N_i`` modules in service i, ``mu_i`` the number of linked pairs inside i
    and ``sigma_ij`` the number of linked pairs between i and j:

    ``SM = (1/K) * sum_i mu_i / N_i**2  -  (2 / (K (K - 1))) * sum_{i<j} sigma_ij / (N_i N_j)``

    (the second term is 0 when K = 1). The first term rewards dense
    services, the second punishes links between services. Higher is better.
    Unlike Newman's Q it does not compare with a random graph, so it favours
    small dense services more.
    """
    svc = _checked(graph, decomposition)
    sizes = {s: len(m) for s, m in decomposition.services.items()}
    inside: dict[str, int] = dict.fromkeys(sizes, 0)
    between: dict[frozenset[str], int] = {}
    for pair in _linked_pairs(graph):
        a, b = tuple(pair)
        sa, sb = svc[a], svc[b]
        if sa == sb:
            inside[sa] += 1
        else:
            key = frozenset((sa, sb))
            between[key] = between.get(key, 0) + 1
    k = len(sizes)
    scoh = sum(inside[s] / sizes[s] ** 2 for s in sizes) / k
    if k == 1:
        return scoh
    scop = sum(between.get(frozenset((i, j)), 0) / (sizes[i] * sizes[j])
               for i, j in combinations(sorted(sizes), 2))
    return scoh - 2 * scop / (k * (k - 1))


def interface_number(graph: nx.DiGraph, decomposition: Decomposition) -> float:
    """Interface number (IFN): mean number of modules per service that other services call.

    ``IFN = (1/K) * sum over services s of |{v in s : some u outside s has an edge u -> v}|``

    Each such module is part of the service's public interface, an API to
    design and keep stable; fewer is better. This is the definition of Jin et
    al. (2019); note that Mono2Micro's published IFN column is computed as the
    number of linked cross-service module pairs divided by K, so the numbers
    are not interchangeable.
    """
    svc = _checked(graph, decomposition)
    exposed = {v for u, v in graph.edges if svc[u] != svc[v]}
    return len(exposed) / decomposition.n_services


# -- size ---------------------------------------------------------------------


def _sizes(decomposition: Decomposition) -> list[int]:
    if not isinstance(decomposition, Decomposition):
        raise ConfigurationError(f"expected a Decomposition, got {type(decomposition).__name__}")
    if len(decomposition) == 0:
        raise ConfigurationError(f"decomposition {decomposition.name!r} assigns no modules")
    return [len(m) for m in decomposition.services.values()]


def largest_service_share(decomposition: Decomposition) -> float:
    """Share of modules in the largest service: ``max_s n_s / N`` (1.0 for a monolith)."""
    sizes = _sizes(decomposition)
    return max(sizes) / sum(sizes)


def size_cv(decomposition: Decomposition) -> float:
    """Size imbalance: coefficient of variation of service sizes.

    ``cv = std(n_s) / mean(n_s)`` with the population standard deviation;
    0 when all services have the same number of modules.
    """
    sizes = _sizes(decomposition)
    mean = sum(sizes) / len(sizes)
    var = sum((n - mean) ** 2 for n in sizes) / len(sizes)
    return math.sqrt(var) / mean


def non_extreme_distribution(decomposition: Decomposition, low: int = 5, high: int = 20) -> float:
    """Non-extreme distribution (NED), as in Mono2Micro: lower is better.

    ``NED = 1 - (sum of n_s over services with low <= n_s <= high) / N``

    The share of modules that sit in services that are either too small or too
    large. The 5..20 bounds come from the literature on class-level
    partitions; for small graphs (a 24-class monolith) almost every service
    is "extreme", so read NED with the graph's size in mind.
    """
    sizes = _sizes(decomposition)
    return 1 - sum(n for n in sizes if low <= n <= high) / sum(sizes)


# -- all at once --------------------------------------------------------------


def compare(
    decompositions: Iterable[Decomposition] | Mapping[str, Decomposition],
    graph: nx.DiGraph,
    changes: Changes | None = None,
) -> pd.DataFrame:
    """Score several decompositions of one graph side by side.

    Returns one row per decomposition (index ``decomposition``: its name, or
    its key when ``decompositions`` is a mapping) and
    the columns of :data:`METRICS`: services, largest_share, size_cv, ned,
    coupling, icp, cohesion, density, modularity, sm, ifn, and, when a change
    history is given, changes, services_per_change and multi_service_changes.
    ``METRICS[column]`` says what a column means and which direction is better.

    >>> import networkx as nx
    >>> from labsvc.design import single_service, one_per_module
    >>> g = nx.DiGraph(); g.add_edge("a", "b", weight=1)
    >>> compare([single_service(g), one_per_module(g)], g)["icp"].tolist()
    [0.0, 1.0]
    """
    if isinstance(decompositions, Mapping):
        # a mapping's keys label the rows (they may differ from the names)
        names = [str(k) for k in decompositions]
        decompositions = list(decompositions.values())
    else:
        if isinstance(decompositions, Decomposition):
            decompositions = [decompositions]
        decompositions = list(decompositions)
        names = [getattr(d, "name", None) for d in decompositions]
    if not decompositions:
        raise ConfigurationError("compare needs at least one decomposition")
    for d in decompositions:
        if not isinstance(d, Decomposition):
            raise ConfigurationError(f"compare expects Decompositions, got {type(d).__name__}")
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigurationError(
            f"decomposition names must be unique in a comparison; repeated: {_preview(dupes)}. "
            "Use d.renamed('...')"
        )
    check_graph(graph)
    sets = change_sets(changes) if changes is not None else None
    rows = []
    for d in decompositions:
        d.validate(graph)
        row = {
            "services": d.n_services,
            "largest_share": largest_service_share(d),
            "size_cv": size_cv(d),
            "ned": non_extreme_distribution(d),
            "coupling": inter_service_weight(graph, d),
            "icp": inter_service_share(graph, d),
            "cohesion": cohesion(graph, d),
            "density": edge_density(graph, d),
            "modularity": modularity(graph, d),
            "sm": structural_modularity(graph, d),
            "ifn": interface_number(graph, d),
        }
        if sets is not None:
            impact = change_impact(sets, d)
            row["changes"] = len(impact)
            row["services_per_change"] = float(impact["services"].mean())
            row["multi_service_changes"] = float((impact["services"] > 1).mean())
        rows.append(row)
    frame = pd.DataFrame(rows, index=pd.Index(names, name="decomposition"))
    return frame.astype({c: "float64" for c in frame.columns if c not in ("services", "changes")})
