"""Small graph helpers shared by the decomposition and metrics modules."""

from __future__ import annotations

import math

import networkx as nx

from labsvc.core.errors import ConfigurationError

__all__ = ["check_graph", "edge_weight", "undirected", "log_weights"]


def check_graph(graph: object) -> nx.DiGraph:
    """Return ``graph`` if it is a usable dependency graph, else raise.

    A dependency graph is a ``networkx.DiGraph`` whose edge ``weight`` (if
    present) is a non-negative number. Missing weights count as 1.
    """
    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        raise ConfigurationError(
            f"expected a networkx.DiGraph of module dependencies, got {type(graph).__name__}; "
            "build one with nx.DiGraph() and add_edge(source, target, weight=w)"
        )
    for u, v, w in graph.edges(data="weight", default=1):
        if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 or math.isnan(w):
            raise ConfigurationError(
                f"edge {u!r} -> {v!r} has weight {w!r}; weights must be non-negative numbers"
            )
    return graph


def edge_weight(data: dict) -> float:
    """The weight of one edge's data dict (1 when absent)."""
    return data.get("weight", 1)


def undirected(graph: nx.DiGraph) -> nx.Graph:
    """The undirected weighted graph with ``w(a, b) = w(a -> b) + w(b -> a)``.

    ``DiGraph.to_undirected()`` keeps only one of two opposite edges and so
    loses weight; summing keeps the total weight equal to the directed total.
    """
    g = nx.Graph()
    g.add_nodes_from(graph.nodes)
    for u, v, data in graph.edges(data=True):
        w = edge_weight(data)
        if g.has_edge(u, v):
            g[u][v]["weight"] += w
        else:
            g.add_edge(u, v, weight=w)
    return g


def log_weights(graph: nx.DiGraph) -> nx.DiGraph:
    """A copy of ``graph`` with every weight ``w`` replaced by ``1 + ln(w)``.

    Occurrence counts are dominated by a few hubs (logging, configuration);
    the log damps them. Mono2Micro's inter-partition call percentage uses the
    same ``1 + ln(volume)`` transform on runtime call volumes. Edges of weight
    0 keep weight 0.

    >>> import networkx as nx
    >>> g = nx.DiGraph(); g.add_edge("a", "b", weight=1); g.add_edge("b", "c", weight=100)
    >>> [round(w, 3) for *_, w in log_weights(g).edges(data="weight")]
    [1.0, 5.605]
    """
    check_graph(graph)
    out = graph.copy()
    for _, _, data in out.edges(data=True):
        w = edge_weight(data)
        data["weight"] = 1 + math.log(w) if w > 0 else 0.0
    return out
