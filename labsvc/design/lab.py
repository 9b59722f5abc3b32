"""Notebooks 03 and 04's experiments: decompositions deployed as services and measured at run time.

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
  :func:`plot_chattiness_vs_coupling` draw the tables.

>>> import networkx as nx
>>> from labsvc.design import single_service
>>> g = nx.DiGraph([("web", "order")])
>>> deploy(single_service(g), g)
Topology('monolith', 1 services, 2 modules, stopped)
"""

from __future__ import annotations

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
]
