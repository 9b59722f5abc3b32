"""Decompositions: which service each module of a monolith goes to.

A :class:`Decomposition` is a named assignment ``module -> service`` over the
modules (classes, packages) of a dependency graph. The guide's 설계 원칙 1)
(the unit of a microservice) and 마이크로서비스 식별 (identifying microservices)
ask *which* modules belong together; a decomposition is one answer, and
:mod:`labsvc.design.metrics` scores it.

The helpers build the usual candidates to compare:

* :func:`single_service` - everything in one service (the monolith);
* :func:`one_per_module` - one service per module (nano-services, the
  anti-pattern the guide warns about);
* :func:`by_layer` - one service per technical layer (web, service,
  persistence...), a split that looks tidy and couples badly;
* :func:`by_column` - any column of a module table, e.g. the bounded context;
* :func:`suggest_by_communities` - a community-detection baseline.

>>> import networkx as nx
>>> g = nx.DiGraph([("a", "b"), ("b", "c")])
>>> d = Decomposition("two", {"a": "s1", "b": "s1", "c": "s2"}).validate(g)
>>> d.services
{'s1': ('a', 'b'), 's2': ('c',)}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

import networkx as nx
import pandas as pd

from labsvc.design._graph import check_graph, undirected
from labsvc.core.errors import ConfigurationError

__all__ = [
    "Decomposition",
    "DecompositionError",
    "single_service",
    "one_per_module",
    "by_column",
    "by_layer",
    "suggest_by_communities",
]

ModulesLike = nx.Graph | pd.DataFrame | Iterable[str]

_SHOW = 8  # how many names an error message lists before "... and N more"


def _preview(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(repr(n) for n in names[:_SHOW])
    return shown + (f", ... and {len(names) - _SHOW} more" if len(names) > _SHOW else "")


class DecompositionError(ConfigurationError):
    """A decomposition does not fit a graph (or a change history).

    ``unassigned`` lists the graph's modules that have no service,
    ``unknown`` the assigned modules the graph does not have.
    """

    def __init__(self, message: str, unassigned: Iterable[str] = (), unknown: Iterable[str] = ()):
        super().__init__(message)
        self.unassigned = tuple(sorted(unassigned))
        self.unknown = tuple(sorted(unknown))


class Decomposition:
    """A named assignment of modules to services.

    Args:
        name: what to call this candidate in tables and plots.
        assignment: ``{module: service}``; every value is a service name.

    The object is immutable; methods such as :meth:`move` and :meth:`merge`
    return a new decomposition, so candidates can be derived from each other
    in a notebook without surprises.

    >>> d = Decomposition("demo", {"cart": "sales", "order": "sales", "pay": "payment"})
    >>> d.n_services, d.service_of("cart")
    (2, 'sales')
    >>> d.move("cart", "payment").services["payment"]
    ('cart', 'pay')
    """

    __slots__ = ("_name", "_assignment")

    def __init__(self, name: str, assignment: Mapping[str, str]):
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"decomposition name must be a non-empty string, got {name!r}")
        if not isinstance(assignment, Mapping):
            raise ConfigurationError(
                f"decomposition {name!r}: assignment must be a mapping module -> service, "
                f"got {type(assignment).__name__}"
            )
        bad = {m: s for m, s in assignment.items() if not isinstance(s, str) or not s.strip()}
        if bad:
            raise ConfigurationError(
                f"decomposition {name!r}: service names must be non-empty strings; "
                f"bad values for {_preview(map(str, bad))}"
            )
        self._name = name
        # sorted by module, so tables and iteration order never depend on input order
        self._assignment = MappingProxyType(dict(sorted(assignment.items(), key=lambda kv: str(kv[0]))))

    # -- construction -------------------------------------------------------

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, name: str, module: str = "module", service: str = "service"
    ) -> Decomposition:
        """Build from a table with one row per module (columns ``module``, ``service``).

        A module listed twice must have the same service both times.

        >>> import pandas as pd
        >>> t = pd.DataFrame({"module": ["a", "b"], "service": ["x", "y"]})
        >>> Decomposition.from_frame(t, "t").assignment["b"]
        'y'
        """
        for col in (module, service):
            if col not in frame.columns:
                raise ConfigurationError(
                    f"table has no column {col!r}; columns are {list(frame.columns)}"
                )
        pairs = frame[[module, service]].drop_duplicates()
        clash = pairs[pairs[module].duplicated(keep=False)]
        if not clash.empty:
            raise ConfigurationError(
                f"decomposition {name!r}: modules assigned to more than one service: "
                f"{_preview(clash[module].astype(str).unique())}"
            )
        if pairs[service].isna().any():
            missing = pairs.loc[pairs[service].isna(), module].astype(str)
            raise ConfigurationError(
                f"decomposition {name!r}: no service for {_preview(missing)}"
            )
        return cls(name, dict(zip(pairs[module], pairs[service].astype(str))))

    # -- reading ------------------------------------------------------------

    @property
    def name(self) -> str:
        """The candidate's name."""
        return self._name

    @property
    def assignment(self) -> Mapping[str, str]:
        """``{module: service}``, sorted by module (read-only)."""
        return self._assignment

    @property
    def modules(self) -> tuple[str, ...]:
        """All assigned modules, sorted."""
        return tuple(self._assignment)

    @property
    def services(self) -> dict[str, tuple[str, ...]]:
        """``{service: (module, ...)}`` with services and modules sorted."""
        out: dict[str, list[str]] = {}
        for module, service in self._assignment.items():
            out.setdefault(service, []).append(module)
        return {s: tuple(out[s]) for s in sorted(out)}

    @property
    def n_services(self) -> int:
        """How many services the decomposition has."""
        return len(set(self._assignment.values()))

    def service_of(self, module: str) -> str:
        """The service a module is assigned to."""
        try:
            return self._assignment[module]
        except KeyError:
            raise DecompositionError(
                f"decomposition {self._name!r} does not assign module {module!r}",
                unknown=[module],
            ) from None

    def sizes(self) -> pd.Series:
        """Modules per service, largest first (ties by service name)."""
        s = pd.Series({svc: len(mods) for svc, mods in self.services.items()}, name="modules",
                      dtype="int64")
        s.index.name = "service"
        return s.sort_values(ascending=False, kind="stable")

    def to_frame(self) -> pd.DataFrame:
        """One row per module: columns module, service."""
        return pd.DataFrame(list(self._assignment.items()), columns=["module", "service"])

    # -- checking -----------------------------------------------------------

    def validate(self, graph: nx.DiGraph) -> Decomposition:
        """Check that the decomposition assigns exactly the graph's modules; return self.

        Raises :class:`DecompositionError` naming the modules of the graph
        that have no service (``unassigned``) and the assigned modules that are
        not in the graph (``unknown``).
        """
        check_graph(graph)
        nodes = set(graph.nodes)
        assigned = set(self._assignment)
        unassigned, unknown = nodes - assigned, assigned - nodes
        if unassigned or unknown:
            parts = []
            if unassigned:
                parts.append(f"{len(unassigned)} module(s) of the graph have no service: "
                             f"{_preview(unassigned)}")
            if unknown:
                parts.append(f"{len(unknown)} assigned module(s) are not in the graph: "
                             f"{_preview(unknown)}")
            raise DecompositionError(
                f"decomposition {self._name!r} does not match the graph; " + "; ".join(parts)
                + ". Use .completed(graph) to put unassigned modules in one service, "
                "or .restricted_to(graph) to drop unknown ones.",
                unassigned=unassigned,
                unknown=unknown,
            )
        return self

    # -- deriving -----------------------------------------------------------

    def renamed(self, name: str) -> Decomposition:
        """The same assignment under another name."""
        return Decomposition(name, self._assignment)

    def move(self, module: str, service: str, name: str | None = None) -> Decomposition:
        """A copy with ``module`` moved to ``service`` (new or existing)."""
        self.service_of(module)  # raises for an unknown module
        new = dict(self._assignment)
        new[module] = service
        return Decomposition(name or self._name, new)

    def merge(self, services: Iterable[str], into: str, name: str | None = None) -> Decomposition:
        """A copy where every module of ``services`` is in service ``into``.

        >>> d = Decomposition("d", {"a": "x", "b": "y", "c": "z"})
        >>> d.merge(["x", "y"], into="xy").services
        {'xy': ('a', 'b'), 'z': ('c',)}
        """
        services = set([services] if isinstance(services, str) else services)
        missing = services - set(self._assignment.values())
        if missing:
            raise ConfigurationError(
                f"decomposition {self._name!r} has no service(s) {_preview(missing)}; "
                f"services are {_preview(set(self._assignment.values()))}"
            )
        new = {m: (into if s in services else s) for m, s in self._assignment.items()}
        return Decomposition(name or self._name, new)

    def completed(self, modules: ModulesLike, service: str = "(unassigned)",
                  name: str | None = None) -> Decomposition:
        """A copy that also assigns every missing module of ``modules`` to ``service``.

        Published partitions often cover only part of a code base (for
        example only classes seen in runtime traces); completing them makes
        them scorable on the whole graph. Modules not in ``modules`` are
        dropped at the same time.
        """
        names = _module_names(modules)
        new = {m: self._assignment.get(m, service) for m in names}
        return Decomposition(name or self._name, new)

    def restricted_to(self, modules: ModulesLike, name: str | None = None) -> Decomposition:
        """A copy that keeps only the modules in ``modules``."""
        names = set(_module_names(modules))
        return Decomposition(name or self._name,
                             {m: s for m, s in self._assignment.items() if m in names})

    # -- dunder -------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decomposition):
            return NotImplemented
        return self._name == other._name and dict(self._assignment) == dict(other._assignment)

    def __hash__(self) -> int:
        return hash((self._name, frozenset(self._assignment.items())))

    def __len__(self) -> int:
        return len(self._assignment)

    def __repr__(self) -> str:
        return (f"Decomposition({self._name!r}, {len(self._assignment)} modules in "
                f"{self.n_services} services)")


def _module_names(modules: ModulesLike) -> list[str]:
    """Module names from a graph, a module table or an iterable, in a stable order."""
    if isinstance(modules, nx.Graph):
        return list(modules.nodes)
    if isinstance(modules, pd.DataFrame):
        col = _module_column(modules)
        return list(dict.fromkeys(modules[col]))
    if isinstance(modules, str):
        raise ConfigurationError(
            f"expected several module names, got the single string {modules!r}; wrap it in a list"
        )
    return list(dict.fromkeys(modules))


def _module_column(frame: pd.DataFrame) -> str:
    # the shop's tables call it "module", the Java monoliths' tables "class"
    for col in ("module", "class"):
        if col in frame.columns:
            return col
    raise ConfigurationError(
        f"module table needs a 'module' or 'class' column; columns are {list(frame.columns)}"
    )


def single_service(modules: ModulesLike, name: str = "monolith",
                   service: str = "monolith") -> Decomposition:
    """Every module in one service: the monolith as a baseline.

    ``modules`` is a graph, a module table (``module`` or ``class`` column)
    or a list of names.

    >>> single_service(["a", "b"]).services
    {'monolith': ('a', 'b')}
    """
    return Decomposition(name, {m: service for m in _module_names(modules)})


def one_per_module(modules: ModulesLike, name: str = "nano") -> Decomposition:
    """One service per module: the nano-service extreme.

    >>> one_per_module(["a", "b"]).n_services
    2
    """
    return Decomposition(name, {m: m for m in _module_names(modules)})


def by_column(table: pd.DataFrame, column: str, name: str | None = None,
              module: str | None = None) -> Decomposition:
    """One service per distinct value of ``column`` of a module table.

    ``module`` names the module column (default: ``module``, else ``class``).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"module": ["a", "b", "c"], "context": ["x", "x", "y"]})
    >>> by_column(t, "context").services
    {'x': ('a', 'b'), 'y': ('c',)}
    """
    if column not in table.columns:
        raise ConfigurationError(f"table has no column {column!r}; columns are {list(table.columns)}")
    module = module or _module_column(table)
    return Decomposition.from_frame(table, name or f"by {column}", module=module, service=column)


def by_layer(classes: pd.DataFrame, name: str = "by layer") -> Decomposition:
    """One service per technical layer (the table's ``layer`` column).

    Splitting by layer (web / service / persistence / domain) is the classic
    wrong cut: almost every feature change touches every layer, so every
    change touches every service.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"class": ["A", "B"], "layer": ["web", "domain"]})
    >>> by_layer(t).services
    {'domain': ('B',), 'web': ('A',)}
    """
    return by_column(classes, "layer", name=name)


def suggest_by_communities(
    graph: nx.DiGraph,
    seed: int = 0,
    method: str = "louvain",
    resolution: float = 1.0,
    name: str | None = None,
    label: Callable[[int, tuple[str, ...]], str] | None = None,
) -> Decomposition:
    """A baseline decomposition from community detection on the dependency graph.

    The graph is made undirected with the weights of opposite edges summed,
    then split by

    * ``method="louvain"``: ``networkx.community.louvain_communities`` (seeded;
      the same seed and graph give the same result), or
    * ``method="greedy"``: ``networkx.community.greedy_modularity_communities``
      (Clauset-Newman-Moore, deterministic, ignores ``seed``).

    Both maximise Newman modularity, so this is "what the dependency structure
    alone suggests": a useful baseline, not a design. It knows nothing about
    the business, and isolated modules each end up alone. A higher
    ``resolution`` gives more, smaller services.

    Services are named ``c1``, ``c2``, ... from the largest community down
    (ties by first module name), or by ``label(index, modules)`` if given.

    >>> import networkx as nx
    >>> g = nx.DiGraph([("a", "b"), ("b", "a"), ("c", "d"), ("d", "c"), ("b", "c")])
    >>> suggest_by_communities(g, seed=1).services
    {'c1': ('a', 'b'), 'c2': ('c', 'd')}
    """
    check_graph(graph)
    if graph.number_of_nodes() == 0:
        raise ConfigurationError("cannot suggest a decomposition of an empty graph")
    u = undirected(graph)
    if method == "louvain":
        communities = nx.community.louvain_communities(u, weight="weight", resolution=resolution,
                                                       seed=seed)
    elif method == "greedy":
        communities = nx.community.greedy_modularity_communities(u, weight="weight",
                                                                 resolution=resolution)
    else:
        raise ConfigurationError(f"unknown method {method!r}; use 'louvain' or 'greedy'")
    groups = sorted((tuple(sorted(c)) for c in communities), key=lambda c: (-len(c), c[0]))
    assignment = {}
    for i, members in enumerate(groups, start=1):
        service = label(i, members) if label else f"c{i}"
        for m in members:
            assignment[m] = service
    return Decomposition(name or f"communities ({method})", assignment)
