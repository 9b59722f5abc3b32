"""Figures for the design track: context maps, decompositions, metric comparisons.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot
(nothing opens a window; Jupyter shows a returned Figure inline). Graph
layouts are seeded, so the same call draws the same picture every time.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from labsvc.design._graph import check_graph, undirected
from labsvc.design._mermaid import KIND_COLORS  # one palette for the figures and the Mermaid text
from labsvc.design.decomposition import Decomposition
from labsvc.design.domain import SUBDOMAIN_KINDS, ContextMap
from labsvc.design.metrics import METRICS
from labsvc.core.errors import ConfigurationError

__all__ = ["KIND_COLORS", "plot_context_map", "plot_decomposition", "plot_comparison"]


_SERVICE_PALETTE = [
    "#457b9d", "#e76f51", "#2a9d8f", "#e9c46a", "#8d6cab", "#f4a261", "#6a994e",
    "#bc4749", "#577590", "#b5838d", "#90be6d", "#adb5bd",
]


def _new_axes(ax, figsize):
    if ax is None:
        fig = Figure(figsize=figsize)
        return fig, fig.add_subplot()
    return ax.figure, ax


def plot_context_map(context_map: ContextMap, seed: int = 7, ax=None,
                     figsize: tuple[float, float] = (9, 6)) -> Figure:
    """Draw a context map: contexts coloured by subdomain kind, relationships as labelled arrows.

    Arrows point upstream -> downstream; partnership and shared kernel get
    two heads. External contexts are drawn as squares. The layout is
    ``networkx.spring_layout`` with ``seed``, so it is the same every run.

    >>> from labsvc.design import load_shop, plot_context_map
    >>> fig = plot_context_map(load_shop().context_map)
    >>> type(fig).__name__
    'Figure'
    """
    if not isinstance(context_map, ContextMap):
        raise ConfigurationError(f"expected a ContextMap, got {type(context_map).__name__}")
    fig, ax = _new_axes(ax, figsize)
    g = context_map.to_networkx()
    simple = nx.Graph()
    simple.add_nodes_from(g.nodes)
    simple.add_edges_from((u, v) for u, v in g.edges())
    pos = nx.spring_layout(simple, seed=seed, k=3.0 / max(1, len(simple)) ** 0.5, iterations=200)

    for kind in SUBDOMAIN_KINDS:
        for external, shape in ((False, "o"), (True, "s")):
            nodes = [n for n, d in g.nodes(data=True) if d["kind"] == kind and d["external"] == external]
            if nodes:
                fill, border = KIND_COLORS[kind]
                nx.draw_networkx_nodes(g, pos, nodelist=nodes, node_color=fill, edgecolors=border,
                                       linewidths=1.5, node_size=2200, node_shape=shape, ax=ax)
    nx.draw_networkx_labels(g, pos, font_size=8, ax=ax)

    labels: dict[tuple[str, str], list[str]] = {}
    directed, symmetric = [], []
    for u, v, d in g.edges(data=True):
        (symmetric if d["symmetric"] else directed).append((u, v))
        labels.setdefault((u, v), []).append(d["label"])
    plain = nx.DiGraph(list(labels))
    common = dict(ax=ax, node_size=2200, width=1.2, edge_color="#555555", arrowsize=14)
    if directed:
        nx.draw_networkx_edges(plain, pos, edgelist=sorted(set(directed)), arrowstyle="-|>", **common)
    if symmetric:
        nx.draw_networkx_edges(plain, pos, edgelist=sorted(set(symmetric)), arrowstyle="<|-|>",
                               style="dashed", **common)
    nx.draw_networkx_edge_labels(plain, pos, edge_labels={e: ", ".join(l) for e, l in labels.items()},
                                 font_size=7, ax=ax)

    handles = [Patch(facecolor=KIND_COLORS[k][0], edgecolor=KIND_COLORS[k][1], label=k)
               for k in SUBDOMAIN_KINDS]
    handles.append(Line2D([], [], marker="s", linestyle="", markerfacecolor="white",
                          markeredgecolor="#666666", label="external"))
    ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=False)
    ax.set_title(f"{context_map.name}: arrows go upstream → downstream")
    ax.set_axis_off()
    ax.margins(0.12)
    fig.tight_layout()
    return fig


def plot_decomposition(graph: nx.DiGraph, decomposition: Decomposition, seed: int = 0,
                       ax=None, labels: bool = True,
                       figsize: tuple[float, float] = (9, 7)) -> Figure:
    """Draw the dependency graph with modules coloured by service.

    Edges inside a service are thin and grey; edges that cross services (the
    future network calls) are red, with width growing with weight (relative
    to the heaviest edge of the graph). The layout
    is ``spring_layout(seed=seed)`` on the undirected weighted graph, so
    modules that depend on each other a lot sit together whatever the
    decomposition: drawing two decompositions with the same seed puts every
    module in the same place.
    """
    check_graph(graph)
    decomposition.validate(graph)
    fig, ax = _new_axes(ax, figsize)
    pos = nx.spring_layout(undirected(graph), seed=seed, weight="weight")
    services = list(decomposition.services)
    colour = {s: _SERVICE_PALETTE[i % len(_SERVICE_PALETTE)] for i, s in enumerate(services)}
    svc = decomposition.assignment
    nx.draw_networkx_nodes(graph, pos, node_color=[colour[svc[n]] for n in graph.nodes],
                           node_size=220, ax=ax)
    inside = [(u, v) for u, v in graph.edges if svc[u] == svc[v]]
    crossing = [(u, v) for u, v in graph.edges if svc[u] != svc[v]]
    nx.draw_networkx_edges(graph, pos, edgelist=inside, edge_color="#bbbbbb", width=0.8,
                           arrowsize=8, node_size=220, ax=ax)
    if crossing:
        # scale by the heaviest edge of the whole graph, so two decompositions
        # drawn side by side use the same widths for the same weights
        top = max(graph[u][v].get("weight", 1) for u, v in graph.edges) or 1
        widths = [0.6 + 2.4 * graph[u][v].get("weight", 1) / top for u, v in crossing]
        nx.draw_networkx_edges(graph, pos, edgelist=crossing, edge_color="#d62828", width=widths,
                               arrowsize=8, node_size=220, ax=ax)
    if labels:
        short = {n: str(n).rsplit(".", 1)[-1] if str(n).count(".") > 1 else str(n) for n in graph}
        nx.draw_networkx_labels(graph, pos, labels=short, font_size=7, ax=ax)
    if len(services) <= len(_SERVICE_PALETTE):
        ax.legend(handles=[Patch(color=colour[s], label=s) for s in services], fontsize=7,
                  loc="best", frameon=False)
    ax.set_title(f"{decomposition.name}: {len(services)} services, red = crosses a service boundary")
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_comparison(frame: pd.DataFrame,
                    metrics: Sequence[str] = ("icp", "cohesion", "modularity", "services_per_change"),
                    figsize: tuple[float, float] | None = None) -> Figure:
    """One bar chart per metric, one bar per decomposition (the output of :func:`compare`).

    Each panel's title says which way is better (from :data:`METRICS`).
    Metrics missing from ``frame`` (e.g. change impact without a change
    history) are skipped.

    >>> from labsvc.design import load_shop, compare, plot_comparison
    >>> shop = load_shop()
    >>> fig = plot_comparison(compare(shop.decompositions, shop.graph, shop.changes))
    >>> len(fig.axes)
    4
    """
    chosen = [m for m in metrics if m in frame.columns]
    if not chosen:
        raise ConfigurationError(
            f"none of {list(metrics)} is a column of the table; columns are {list(frame.columns)}"
        )
    fig = Figure(figsize=figsize or (3.2 * len(chosen), 3.2))
    names = [str(n) for n in frame.index]
    colours = [_SERVICE_PALETTE[i % len(_SERVICE_PALETTE)] for i in range(len(names))]
    for i, metric in enumerate(chosen):
        ax = fig.add_subplot(1, len(chosen), i + 1)
        values = frame[metric].astype(float).fillna(0.0)
        ax.bar(range(len(names)), values, color=colours)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        better = METRICS.get(metric, ("", ""))[1]
        arrow = {"higher": " (↑ better)", "lower": " (↓ better)"}.get(better, "")
        ax.set_title(metric + arrow, fontsize=9)
        ax.axhline(0, color="#333333", linewidth=0.6)
    fig.tight_layout()
    return fig
