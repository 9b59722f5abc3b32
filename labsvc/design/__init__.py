"""Design track: from a domain model to services, and scores for the cut.

Guide sections: 마이크로서비스 아키텍처 설계 지침 (design guidelines), 설계 방법
(design method), 설계 원칙 (design principles), 마이크로서비스 식별 (identifying
microservices), 도메인 주도 설계 (domain-driven design), Bounded Context and
서비도메인으로 분할 하기 (splitting into subdomains).

Three parts, one module each:

* :mod:`~labsvc.design.domain` - :class:`Subdomain` (core / supporting /
  generic), :class:`BoundedContext` with its ubiquitous language, and
  :class:`ContextMap` with typed relationships, rendered as Mermaid text,
  tables or a figure (:func:`plot_context_map`).
* :mod:`~labsvc.design.decomposition` and :mod:`~labsvc.design.metrics` - a
  :class:`Decomposition` assigns each module of a weighted dependency graph
  (``networkx.DiGraph``) to a service; pure metric functions score it
  (coupling, cohesion, Newman modularity, structural modularity, size
  balance, change impact) and :func:`compare` puts candidates side by side.
* :mod:`~labsvc.design.datasets` - :func:`load_shop` (the course's synthetic
  online shop) and :func:`load_monolith` (three real Java monoliths with
  published reference decompositions).

Three more modules, imported by their own names (``from
labsvc.design.topology import ...``):

* :mod:`~labsvc.design.topology` - a decomposition deployed as running
  services whose calls follow the dependency graph; hops, latency and
  availability per request measured from the call log (``runtime_metrics``,
  ``compare_runtime``).
* :mod:`~labsvc.design.criteria` - the guide's criteria for identifying a
  service (reuse, independence, change rate) and reads of another service's
  tables.
* :mod:`~labsvc.design.references` - published partitions and metrics of
  the real monoliths next to our scores.

Choices made here, so a reader need not guess:

* Edge weight means "how strongly the source depends on the target" (for the
  monoliths: reference occurrences). Missing weights count as 1.
* "Modularity" is Newman's Q on the undirected graph with opposite edges'
  weights summed; "structural modularity" (``sm``) is the unweighted measure
  of Jin et al. (2019) that Mono2Micro reports. Both are given because the
  literature uses both.
* The metrics here are static; runtime chattiness comes from the network's
  call log (:mod:`~labsvc.design.topology`).

>>> from labsvc.design import load_monolith, compare
>>> pet = load_monolith("jpetstore")
>>> table = compare(pet.candidates(), pet.graph)
>>> float(table.loc["monolith", "icp"]), float(table.loc["nano", "icp"])
(0.0, 1.0)
"""

from __future__ import annotations

from labsvc.design.datasets import (
    DATASETS_ENV,
    MONOLITHS,
    MonolithDataset,
    ShopDataset,
    build_graph,
    datasets_dir,
    load_monolith,
    load_shop,
)
from labsvc.design.decomposition import (
    Decomposition,
    DecompositionError,
    by_column,
    by_layer,
    one_per_module,
    single_service,
    suggest_by_communities,
)
from labsvc.design.domain import (
    RELATIONSHIP_KINDS,
    SUBDOMAIN_KINDS,
    SYMMETRIC_RELATIONSHIP_KINDS,
    BoundedContext,
    ContextMap,
    Relationship,
    Subdomain,
    UnknownContextError,
)
from labsvc.design.metrics import (
    METRICS,
    change_impact,
    cohesion,
    compare,
    coupling_matrix,
    edge_density,
    inter_service_share,
    inter_service_weight,
    interface_number,
    largest_service_share,
    log_weights,
    mean_services_per_change,
    modularity,
    multi_service_change_share,
    non_extreme_distribution,
    service_cohesion,
    service_dependencies,
    service_graph,
    size_cv,
    structural_modularity,
)
from labsvc.design.plots import KIND_COLORS, plot_comparison, plot_context_map, plot_decomposition

__all__ = [
    # domain
    "SUBDOMAIN_KINDS",
    "RELATIONSHIP_KINDS",
    "SYMMETRIC_RELATIONSHIP_KINDS",
    "Subdomain",
    "BoundedContext",
    "Relationship",
    "ContextMap",
    "UnknownContextError",
    # decompositions
    "Decomposition",
    "DecompositionError",
    "single_service",
    "one_per_module",
    "by_column",
    "by_layer",
    "suggest_by_communities",
    # metrics
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
    # datasets
    "DATASETS_ENV",
    "MONOLITHS",
    "datasets_dir",
    "build_graph",
    "ShopDataset",
    "MonolithDataset",
    "load_shop",
    "load_monolith",
    # plots
    "KIND_COLORS",
    "plot_context_map",
    "plot_decomposition",
    "plot_comparison",
]
