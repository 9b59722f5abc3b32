"""Notebooks 02, 03 and 04's experiments: table ownership replayed, decompositions measured at run time.

The static scores of :mod:`labsvc.design.metrics` say which dependencies
*would* cross the network; these harnesses run the cut and count what does.
They live in :mod:`labsvc.design.topology` (the deployment model, its limits
and its registry of apps) and its helper ``_runtime`` (the call-log tables
and their plots); this module gathers what the notebooks run, by name:

- :func:`deploy` turns a :class:`~labsvc.design.Decomposition` of a module
  graph into a :class:`Topology`: one service per service of the cut, calls
  following the graph, a modelled per-hop cost (:data:`DEFAULT_HOP_LATENCY`);
- :func:`runtime_metrics` deploys one decomposition, sends a seeded
  open-loop workload (entering at :func:`default_entries`) and returns the
  columns of :data:`RUNTIME_METRICS`; :func:`compare_runtime` does it for
  several decompositions with the same workload, one row each (it joins
  :func:`labsvc.design.compare`'s table);
- :func:`request_table` and :func:`summarize_requests` read a call log;
- :func:`plot_runtime`, :func:`plot_granularity` and
  :func:`plot_chattiness_vs_coupling` draw the tables;
- :func:`reads_through_api` (notebook 02) replays the shop's change history
  after some services stop reading another service's tables and call its
  API instead (:func:`~labsvc.design.ownership.shared_table_impact`).

>>> import networkx as nx
>>> from labsvc.design import single_service
>>> g = nx.DiGraph([("web", "order")])
>>> deploy(single_service(g), g)
Topology('monolith', 1 services, 2 modules, stopped)
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.design.criteria import foreign_table_access
from labsvc.design.datasets import ShopDataset
from labsvc.design.decomposition import Decomposition
from labsvc.design.ownership import shared_table_impact
from labsvc.design.topology import (
    DEFAULT_HOP_LATENCY,
    DEFAULT_RATE,
    DEFAULT_REQUESTS,
    RUNTIME_METRICS,
    Topology,
    compare_runtime,
    default_entries,
    deploy,
    plot_chattiness_vs_coupling,
    plot_granularity,
    plot_runtime,
    request_table,
    runtime_metrics,
    summarize_requests,
)

__all__ = [
    "DEFAULT_HOP_LATENCY",
    "DEFAULT_RATE",
    "DEFAULT_REQUESTS",
    "RUNTIME_METRICS",
    "Topology",
    "deploy",
    "default_entries",
    "runtime_metrics",
    "compare_runtime",
    "request_table",
    "summarize_requests",
    "plot_runtime",
    "plot_granularity",
    "plot_chattiness_vs_coupling",
    "reads_through_api",
]


def reads_through_api(shop: ShopDataset, readers: Iterable[str] = (), decomposition: Decomposition | None = None,
                      layer: str = "persistence") -> pd.DataFrame:
    """:func:`~labsvc.design.ownership.shared_table_impact` after ``readers`` stop reading other services' tables.

    Each service named in ``readers`` (one that reads another service's
    tables under ``decomposition``, default ``shop.decompositions["ddd"]``;
    see :func:`~labsvc.design.criteria.foreign_table_access`) calls the
    owner's API (its ``web`` module) instead, with the same weight; the
    other reads stay. The shop's change history is then replayed with one
    team per service: one row per change, the columns of
    ``shared_table_impact``. ``frame.attrs["through_api"]`` records the
    readers that moved (sorted) and ``frame.attrs["decomposition"]`` the split.

    >>> from labsvc.design import load_shop
    >>> after = reads_through_api(load_shop(), ["search"])
    >>> int((after["teams_if_shared"] == 1).sum()), after.attrs["through_api"]
    (33, ('search',))
    """
    if not isinstance(shop, ShopDataset):
        raise ConfigurationError(f"reads_through_api expects the shop dataset, got {type(shop).__name__}; "
                                 "pass load_shop()")
    if isinstance(readers, str):
        readers = [readers]
    split = shop.decompositions["ddd"] if decomposition is None else decomposition
    foreign = foreign_table_access(shop.graph, split, layer=layer)
    moved = sorted({str(r) for r in readers})
    unknown = [r for r in moved if r not in set(foreign["service"])]
    if unknown:
        raise ConfigurationError(f"{', '.join(unknown)} read(s) no other service's tables under {split.name!r}; "
                                 f"the services that do are {', '.join(sorted(set(foreign['service'])))}")
    graph = shop.graph.copy()
    services = split.services
    for row in foreign[foreign["service"].isin(moved)].itertuples(index=False):
        api = [m for m in services[row.owner] if graph.nodes[m].get("layer") == "web"]
        if not api:
            raise ConfigurationError(f"{row.owner!r} has no web module to call instead of its tables; "
                                     f"give it an API first")
        weight = graph.edges[row.module, row.table_module].get("weight", 1)
        graph.remove_edge(row.module, row.table_module)
        before = graph.edges[row.module, api[0]].get("weight", 0) if graph.has_edge(row.module, api[0]) else 0
        graph.add_edge(row.module, api[0], weight=before + weight)
    frame = shared_table_impact(graph, shop.changes, split, layer=layer)
    frame.attrs["through_api"] = tuple(moved)
    frame.attrs["decomposition"] = split.name
    return frame
