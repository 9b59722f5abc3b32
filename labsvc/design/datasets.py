"""Load the course's design datasets: the synthetic shop and three real Java monoliths.

The CSVs live in the repository's top-level ``datasets/`` folder, each with a
``DATA_CARD.md`` (schema, provenance, licence). Set the environment variable
``LABSVC_DATASETS`` to a folder with the same layout to read them from
elsewhere (for example when ``labsvc`` is installed as a package).

>>> from labsvc.design import load_shop, load_monolith, compare
>>> shop = load_shop()
>>> shop.graph.number_of_nodes(), sorted(shop.decompositions)
(37, ['coarse', 'ddd', 'layered', 'monolith', 'nano'])
>>> pet = load_monolith("jpetstore")
>>> pet.graph.number_of_nodes(), pet.graph.number_of_edges()
(24, 53)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import pandas as pd

from labsvc.design.decomposition import (
    Decomposition,
    by_column,
    by_layer,
    one_per_module,
    single_service,
    suggest_by_communities,
)
from labsvc.design.domain import BoundedContext, ContextMap, Subdomain
from labsvc.core.errors import ConfigurationError

__all__ = [
    "DATASETS_ENV",
    "MONOLITHS",
    "datasets_dir",
    "build_graph",
    "ShopDataset",
    "MonolithDataset",
    "load_shop",
    "load_monolith",
]

#: Environment variable that overrides where the datasets are read from.
DATASETS_ENV = "LABSVC_DATASETS"

#: The monoliths :func:`load_monolith` knows.
MONOLITHS: tuple[str, ...] = ("jpetstore", "daytrader", "plantsbywebsphere")


def datasets_dir() -> Path:
    """The folder holding ``shop/`` and ``monoliths/``.

    ``$LABSVC_DATASETS`` if set, else the ``datasets/`` folder at the root of
    the repository this package lives in.
    """
    env = os.environ.get(DATASETS_ENV)
    path = Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "datasets"
    if not path.is_dir():
        raise ConfigurationError(
            f"datasets folder {str(path)!r} does not exist; "
            + (f"check ${DATASETS_ENV}" if env else
               f"set ${DATASETS_ENV} to the folder that holds shop/ and monoliths/")
        )
    return path


def _read(path: Path, **kwargs) -> pd.DataFrame:
    if not path.is_file():
        raise ConfigurationError(f"dataset file {str(path)!r} is missing")
    return pd.read_csv(path, **kwargs)


def build_graph(modules: pd.DataFrame, dependencies: pd.DataFrame,
                module: str | None = None) -> nx.DiGraph:
    """A weighted dependency graph from a module table and an edge table.

    Every row of ``modules`` becomes a node (so isolated modules are kept)
    with the row's other columns as attributes; every row of
    ``dependencies`` (``source``, ``target``, ``weight`` and any other
    columns) becomes an edge. Edges must join known modules.

    >>> import pandas as pd
    >>> m = pd.DataFrame({"module": ["a", "b"], "layer": ["web", "domain"]})
    >>> e = pd.DataFrame({"source": ["a"], "target": ["b"], "weight": [3]})
    >>> g = build_graph(m, e)
    >>> g.nodes["a"]["layer"], g["a"]["b"]["weight"]
    ('web', 3)
    """
    if module is None:
        module = next((c for c in ("module", "class") if c in modules.columns), None)
        if module is None:
            raise ConfigurationError(
                f"module table needs a 'module' or 'class' column; columns are {list(modules.columns)}"
            )
    missing = {"source", "target"} - set(dependencies.columns)
    if missing:
        raise ConfigurationError(f"dependency table lacks columns {sorted(missing)}")
    g = nx.DiGraph()
    for row in modules.to_dict("records"):
        name = row.pop(module)
        g.add_node(name, **row)
    unknown = (set(dependencies["source"]) | set(dependencies["target"])) - set(g.nodes)
    if unknown:
        raise ConfigurationError(
            f"dependencies mention modules missing from the module table: {sorted(unknown)[:8]}"
        )
    for row in dependencies.to_dict("records"):
        g.add_edge(row.pop("source"), row.pop("target"), **row)
    return g


# -- the shop -----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ShopDataset:
    """The synthetic online shop: its domain model and its monolith.

    Attributes:
        path: folder the CSVs were read from.
        modules: one row per module (module, layer, bounded_context, description).
        dependencies: one row per module dependency (source, target, weight).
        graph: ``networkx.DiGraph`` of modules with weighted edges.
        changes: change history, one row per changed module (change_id, module, description).
        capabilities: business capabilities and the context that owns each.
        user_stories: user stories and the capability each belongs to.
        entities: entities and their owning bounded context.
        contexts: bounded contexts with subdomain, kind and whether external.
        relationships: context-map relationships (upstream, downstream, kind, note).
        glossary: each context's ubiquitous language (context, term, meaning).
        assignments: the reference assignments as a table (module, ddd, layered, coarse).
        decompositions: ``ddd`` (one service per bounded context), ``layered``
            (one per layer), ``coarse`` (three big services: sales, payment,
            fulfilment), ``nano`` (one per module), ``monolith`` (one service).
        context_map: the :class:`~labsvc.design.ContextMap` built from contexts,
            glossary, entities and relationships.
    """

    path: Path
    modules: pd.DataFrame
    dependencies: pd.DataFrame
    graph: nx.DiGraph
    changes: pd.DataFrame
    capabilities: pd.DataFrame
    user_stories: pd.DataFrame
    entities: pd.DataFrame
    contexts: pd.DataFrame
    relationships: pd.DataFrame
    glossary: pd.DataFrame
    assignments: pd.DataFrame
    decompositions: Mapping[str, Decomposition]
    context_map: ContextMap

    @property
    def change_sets(self) -> dict[str, frozenset[str]]:
        """The change history as ``{change_id: frozenset(modules)}``."""
        return {cid: frozenset(g["module"]) for cid, g in self.changes.groupby("change_id")}

    def __repr__(self) -> str:
        return (f"ShopDataset({self.graph.number_of_nodes()} modules, "
                f"{self.graph.number_of_edges()} dependencies, "
                f"{self.changes['change_id'].nunique()} changes, "
                f"{len(self.context_map)} bounded contexts)")


def _context_map(contexts: pd.DataFrame, glossary: pd.DataFrame, entities: pd.DataFrame,
                 relationships: pd.DataFrame) -> ContextMap:
    cm = ContextMap(name="online shop")
    subdomains: dict[tuple[str, str], Subdomain] = {}
    for row in contexts.itertuples(index=False):
        key = (row.subdomain, row.subdomain_kind)
        sub = subdomains.setdefault(key, Subdomain(row.subdomain, row.subdomain_kind))
        language = dict(zip(*glossary.loc[glossary["context"] == row.context,
                                          ["term", "meaning"]].T.values))
        owns = tuple(entities.loc[entities["context"] == row.context, "entity"])
        cm.add(BoundedContext(row.context, sub, language=language, owns=owns,
                              description=row.description, external=bool(row.external)))
    for row in relationships.itertuples(index=False):
        cm.relate(row.upstream, row.downstream, row.kind, note=row.note)
    return cm


def load_shop() -> ShopDataset:
    """Load the synthetic shop dataset (``datasets/shop/``).

    >>> shop = load_shop()
    >>> shop.decompositions["ddd"].n_services
    10
    >>> shop.context_map["catalog"].kind
    'core'
    """
    root = datasets_dir() / "shop"
    modules = _read(root / "modules.csv")
    dependencies = _read(root / "dependencies.csv")
    graph = build_graph(modules, dependencies)
    contexts = _read(root / "contexts.csv", dtype={"external": bool})
    relationships = _read(root / "relationships.csv", keep_default_na=False)
    glossary = _read(root / "glossary.csv")
    entities = _read(root / "entities.csv")
    assignments = _read(root / "assignments.csv")
    decompositions = {
        "ddd": by_column(assignments, "ddd", name="ddd"),
        "layered": by_column(assignments, "layered", name="layered"),
        "coarse": by_column(assignments, "coarse", name="coarse"),
        "nano": one_per_module(modules, name="nano"),
        "monolith": single_service(modules, name="monolith"),
    }
    return ShopDataset(
        path=root,
        modules=modules,
        dependencies=dependencies,
        graph=graph,
        changes=_read(root / "changes.csv"),
        capabilities=_read(root / "capabilities.csv"),
        user_stories=_read(root / "user_stories.csv"),
        entities=entities,
        contexts=contexts,
        relationships=relationships,
        glossary=glossary,
        assignments=assignments,
        decompositions=decompositions,
        context_map=_context_map(contexts, glossary, entities, relationships),
    )


# -- the monoliths ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MonolithDataset:
    """One real Java monolith: classes, static dependencies and published references.

    Attributes:
        name: ``jpetstore``, ``daytrader`` or ``plantsbywebsphere``.
        path: folder the CSVs were read from.
        classes: one row per class (class, package, name, kind, loc, layer).
        dependencies: one row per class dependency (source, target, weight, kinds).
        graph: ``networkx.DiGraph`` of classes (isolated classes included).
        ground_truth: the expert decomposition of the USB study, or None where
            none is published (PlantsByWebSphere). Its "Common component"
            (label C) is kept as its own service, as published.
        ground_truth_table: the published ground-truth rows (also views and
            tables, with an empty ``class``), or None.
        baselines: partitions the USB study reports for its baselines
            (method, component, label, class), or None.
        mono2micro_metrics: metric rows from the Mono2Micro replication package.
        mono2micro_partitions: Mono2Micro's own partitions per k, or None.

    See ``datasets/monoliths/DATA_CARD.md`` for provenance, licences and caveats.
    """

    name: str
    path: Path
    classes: pd.DataFrame
    dependencies: pd.DataFrame
    graph: nx.DiGraph
    ground_truth: Decomposition | None
    ground_truth_table: pd.DataFrame | None
    baselines: pd.DataFrame | None
    mono2micro_metrics: pd.DataFrame | None
    mono2micro_partitions: pd.DataFrame | None = field(default=None)

    @property
    def baseline_methods(self) -> tuple[str, ...]:
        """Methods in :attr:`baselines` (e.g. Bunch, MEM, Mono2Micro, Study [2])."""
        if self.baselines is None:
            return ()
        return tuple(dict.fromkeys(self.baselines["method"]))

    def baseline(self, method: str) -> Decomposition:
        """The partition the USB study reports for baseline ``method``.

        Only rows naming one of our classes are used. Some baselines cover
        only part of the classes (they come from runtime traces); use
        ``.completed(self.graph)`` on the result before scoring those.
        """
        if self.baselines is None:
            raise ConfigurationError(f"{self.name} has no published USB baselines")
        if method not in self.baseline_methods:
            raise ConfigurationError(
                f"unknown baseline {method!r} for {self.name}; "
                f"valid: {', '.join(self.baseline_methods)}"
            )
        rows = self.baselines[(self.baselines["method"] == method) & (self.baselines["class"] != "")]
        return Decomposition.from_frame(
            rows.assign(service=rows["label"].map(lambda s: f"{method} {s}")),
            name=f"{method} (USB)", module="class", service="service",
        )

    def mono2micro_partition(self, k: int) -> Decomposition:
        """Mono2Micro's partition into ``k`` parts (DayTrader, PlantsByWebSphere).

        Covers only classes seen in Mono2Micro's runtime traces; use
        ``.completed(self.graph)`` before scoring.
        """
        if self.mono2micro_partitions is None:
            raise ConfigurationError(f"{self.name} has no published Mono2Micro partitions")
        ks = sorted(self.mono2micro_partitions["k"].unique())
        rows = self.mono2micro_partitions[self.mono2micro_partitions["k"] == k]
        if rows.empty:
            raise ConfigurationError(f"no Mono2Micro partition with k={k!r} for {self.name}; "
                                     f"valid k: {', '.join(map(str, ks))}")
        rows = rows.assign(service="p" + rows["partition"].astype(str))
        return Decomposition.from_frame(rows, name=f"Mono2Micro k={k}", module="class",
                                        service="service")

    def candidates(self, seed: int = 0) -> dict[str, Decomposition]:
        """The standard candidates to compare, by name.

        ``monolith``, ``by layer``, ``nano``, ``communities (louvain)`` (seeded)
        and, where published, ``ground truth`` and every USB baseline that
        covers all classes.
        """
        out = {
            "monolith": single_service(self.classes),
            "by layer": by_layer(self.classes),
            "nano": one_per_module(self.classes),
            "communities (louvain)": suggest_by_communities(self.graph, seed=seed),
        }
        if self.ground_truth is not None:
            out["ground truth"] = self.ground_truth
        everything = set(self.graph.nodes)
        for method in self.baseline_methods:
            d = self.baseline(method)
            if set(d.modules) == everything:
                out[d.name] = d
        return out

    def __repr__(self) -> str:
        return (f"MonolithDataset({self.name!r}, {self.graph.number_of_nodes()} classes, "
                f"{self.graph.number_of_edges()} dependencies, ground truth: "
                f"{'yes' if self.ground_truth is not None else 'no'})")


def load_monolith(name: str) -> MonolithDataset:
    """Load one of the monoliths in ``datasets/monoliths/`` by name.

    ``name`` is one of :data:`MONOLITHS` (case-insensitive).

    >>> pet = load_monolith("jpetstore")
    >>> pet.ground_truth.n_services
    5
    >>> round(pet.dependencies["weight"].sum())
    197
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in MONOLITHS:
        raise ConfigurationError(f"unknown monolith {name!r}; valid names: {', '.join(MONOLITHS)}")
    root = datasets_dir() / "monoliths" / key
    classes = _read(root / "classes.csv")
    dependencies = _read(root / "dependencies.csv")
    graph = build_graph(classes, dependencies)

    def optional(filename: str, **kwargs) -> pd.DataFrame | None:
        path = root / filename
        return pd.read_csv(path, **kwargs) if path.is_file() else None

    # labels such as "0" and "C" stay strings; empty class cells stay ""
    as_text = {"dtype": str, "keep_default_na": False}
    gt_table = optional("reference_usb_groundtruth.csv", **as_text)
    ground_truth = None
    if gt_table is not None:
        rows = gt_table[gt_table["class"] != ""]
        ground_truth = Decomposition.from_frame(rows, name="ground truth", module="class",
                                                service="service")
    partitions = optional("reference_mono2micro_fse2021_partitions.csv",
                          dtype={"component": str, "class": str, "source_file": str})
    return MonolithDataset(
        name=key,
        path=root,
        classes=classes,
        dependencies=dependencies,
        graph=graph,
        ground_truth=ground_truth,
        ground_truth_table=gt_table,
        baselines=optional("reference_usb_baselines.csv", **as_text),
        mono2micro_metrics=optional("reference_mono2micro_fse2021_metrics.csv"),
        mono2micro_partitions=partitions,
    )
