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

The package exports exactly the ``__all__`` of those five modules
(:mod:`~labsvc.design.domain`, :mod:`~labsvc.design.decomposition`,
:mod:`~labsvc.design.metrics`, :mod:`~labsvc.design.datasets` and
:mod:`~labsvc.design.plots`): each name is listed once, in its own module.

Five more modules, imported by their own names (``from
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
* :mod:`~labsvc.design.lab` - the experiments of notebooks 03 and 04 in one
  place: deploy decompositions as services and measure them at run time
  (from :mod:`~labsvc.design.topology`).
* :mod:`~labsvc.design.ownership` - one team and one repository per
  bounded context (notebook 02), and how many changes need a second team
  when a service reads another service's tables.

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

from labsvc.design import datasets, decomposition, domain, metrics, plots
from labsvc.design.datasets import *  # noqa: F403 - the names of datasets.__all__
from labsvc.design.decomposition import *  # noqa: F403
from labsvc.design.domain import *  # noqa: F403
from labsvc.design.metrics import *  # noqa: F403
from labsvc.design.plots import *  # noqa: F403

# One source for every name: the modules' own __all__, in this order.
__all__ = []
__all__ += domain.__all__
__all__ += decomposition.__all__
__all__ += metrics.__all__
__all__ += datasets.__all__
__all__ += plots.__all__
