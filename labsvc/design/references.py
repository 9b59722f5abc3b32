"""Published decompositions of the real monoliths, scored next to their published numbers.

The monolith datasets (see ``datasets/monoliths/DATA_CARD.md``) carry
partitions and metric tables that other authors published: Mono2Micro's
own partitions and metrics (Kalia et al., ESEC/FSE 2021) and the baseline
partitions of the USB study. This module lines them up with what
:func:`labsvc.design.compare` computes on our static class graphs.

**Why the numbers differ.** The published ICP, SM and IFN come from *runtime
traces* (call volumes recorded while the application ran test cases) and
cover only the classes those traces reached; ours come from *static*
reference counts over every class. The same partition therefore scores
differently: the columns measure the same idea on different evidence.
Mono2Micro's IFN also counts something else (see
:func:`labsvc.design.interface_number`). Only NED depends on partition sizes
alone, and there the two agree.

>>> from labsvc.design import load_monolith
>>> side = mono2micro_side_by_side(load_monolith("daytrader"), ks=[5])
>>> round(float(side.loc[5, "NED published"]), 2), round(float(side.loc[5, "ned ours"]), 2)
(0.58, 0.59)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from labsvc.design.datasets import MonolithDataset
from labsvc.design.decomposition import Decomposition
from labsvc.design.metrics import compare
from labsvc.core.errors import ConfigurationError

__all__ = ["PUBLISHED_COLUMNS", "published_metrics", "mono2micro_side_by_side", "usb_baselines", "baseline_coverage",
           "business_context_purity"]

#: Published metric column -> our :func:`~labsvc.design.compare` column with the same idea.
PUBLISHED_COLUMNS: dict[str, str] = {"ICP": "icp", "SM": "sm", "IFN": "ifn", "NED": "ned"}


def _require(dataset: object) -> MonolithDataset:
    if not isinstance(dataset, MonolithDataset):
        raise ConfigurationError(f"expected a MonolithDataset (load_monolith(...)), got {type(dataset).__name__}")
    return dataset


def published_metrics(dataset: MonolithDataset, method: str | None = None) -> pd.DataFrame:
    """The Mono2Micro replication package's metric rows for ``dataset`` (one row per method and k).

    Columns ``method``, ``k``, ``BCP``, ``ICP``, ``SM``, ``IFN``, ``NED`` as
    published (BCP, ICP, IFN, NED: lower is better; SM: higher is better).
    For jpetstore these rows describe a *different* JPetStore code base (the
    data card explains), so read them as context only.
    """
    table = _require(dataset).mono2micro_metrics
    if table is None:
        raise ConfigurationError(f"{dataset.name} has no published metric table")
    if method is not None:
        methods = list(dict.fromkeys(table["method"]))
        if method not in methods:
            raise ConfigurationError(f"no published rows for method {method!r}; methods are {methods}")
        table = table[table["method"] == method]
    return table[["method", "k", "BCP", "ICP", "SM", "IFN", "NED"]].reset_index(drop=True)


def mono2micro_side_by_side(dataset: MonolithDataset, ks: Iterable[int] | None = None) -> pd.DataFrame:
    """Mono2Micro's own partitions: their published metrics next to ours, per k.

    Each partition is scored on the subgraph of the classes it covers (the
    published numbers cover only those too). One row per k (index ``k``):
    ``classes`` covered, then ``<METRIC> published`` and ``<metric> ours``
    for ICP, SM, IFN and NED.
    """
    _require(dataset)
    if dataset.mono2micro_partitions is None:
        raise ConfigurationError(f"{dataset.name} has no published Mono2Micro partitions (daytrader and "
                                 "plantsbywebsphere have them)")
    available = sorted(int(k) for k in dataset.mono2micro_partitions["k"].unique())
    ks = available if ks is None else [int(k) for k in ks]
    published = published_metrics(dataset, "Mono2Micro").set_index("k")
    rows = []
    for k in ks:
        d = dataset.mono2micro_partition(k)  # raises for an unknown k, listing the valid ones
        covered = dataset.graph.subgraph(d.modules).copy()
        ours = compare([d], covered).iloc[0]
        row = {"k": k, "classes": len(d)}
        for theirs, mine in PUBLISHED_COLUMNS.items():
            row[f"{theirs} published"] = float(published.loc[k, theirs]) if k in published.index else float("nan")
            row[f"{mine} ours"] = float(ours[mine])
        rows.append(row)
    return pd.DataFrame(rows).set_index("k")


def usb_baselines(dataset: MonolithDataset) -> dict[str, Decomposition]:
    """The USB study's baseline partitions by name (``"Bunch (USB)"``...), each completed to every class.

    Classes a baseline leaves out (it came from runtime traces) go to one
    extra service ``"(unassigned)"``, so every candidate is scored on the same
    graph; :func:`baseline_coverage` says how much of each was published.
    """
    _require(dataset)
    if dataset.baselines is None:
        raise ConfigurationError(f"{dataset.name} has no USB baselines (jpetstore and daytrader have them)")
    out = {}
    for method in dataset.baseline_methods:
        published = dataset.baseline(method)
        out[published.name] = published.completed(dataset.graph, name=published.name)
    return out


def baseline_coverage(dataset: MonolithDataset) -> pd.Series:
    """Share of the graph's classes each USB baseline assigns, as published (1.0 = all).

    >>> from labsvc.design import load_monolith
    >>> baseline_coverage(load_monolith("jpetstore")).round(2).to_dict()
    {'Mono2Micro': 0.71, 'MEM': 0.62, 'Bunch': 1.0, 'Study [2]': 1.0}
    """
    _require(dataset)
    if dataset.baselines is None:
        raise ConfigurationError(f"{dataset.name} has no USB baselines (jpetstore and daytrader have them)")
    n = dataset.graph.number_of_nodes()
    return pd.Series({m: len(dataset.baseline(m)) / n for m in dataset.baseline_methods}, name="coverage")


def business_context_purity(decomposition: Decomposition, business_contexts: Mapping[str, Iterable[str]]) -> float:
    """BCP, business context purity, as Mono2Micro computes it: lower is better.

    ``business_contexts`` maps a module to the business contexts (use cases)
    it takes part in; Mono2Micro reads them from runtime traces of test cases
    labelled by use case, which a static graph does not have. For each
    service, take the ``n`` distinct contexts its modules serve and the
    entropy of a uniform distribution over them, ``ln(n)``; BCP is the mean
    over services (``metrics_util.business_context_purity`` in the
    Mono2Micro replication package). A module missing from the mapping
    counts as the context ``"Unknown"``, as there.

    >>> d = Decomposition("d", {"a": "x", "b": "x", "c": "y"})
    >>> round(business_context_purity(d, {"a": ["buy"], "b": ["buy", "browse"], "c": ["browse"]}), 3)
    0.347
    """
    if not isinstance(decomposition, Decomposition):
        raise ConfigurationError(f"expected a Decomposition, got {type(decomposition).__name__}")
    if not isinstance(business_contexts, Mapping):
        raise ConfigurationError("business_contexts must map each module to its use cases, "
                                 "e.g. {'Cart': ['checkout']}")
    served: dict[str, set[str]] = {}
    for module, service in decomposition.assignment.items():
        contexts = business_contexts.get(module, ["Unknown"])
        if isinstance(contexts, str):
            raise ConfigurationError(f"the business contexts of {module!r} must be a list, e.g. [{contexts!r}]")
        served.setdefault(service, set()).update(contexts or ["Unknown"])
    if not served:
        raise ConfigurationError(f"decomposition {decomposition.name!r} assigns no modules")
    return sum(math.log(len(c)) for c in served.values()) / len(served)
