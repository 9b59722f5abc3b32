"""The call plan of a deployed decomposition, and the names of its services.

A :class:`CallPlan` says which modules a module calls while it serves one
request (the model is described in :mod:`labsvc.design.topology`);
:func:`service_names` gives each service a network-safe name,
:func:`default_entries` the modules where requests enter and
``_entry_weights`` checks a workload's entry weights against a plan.
Everything here is re-exported by :mod:`labsvc.design.topology`.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import networkx as nx

from labsvc.design._graph import check_graph, edge_weight
from labsvc.design.decomposition import Decomposition, DecompositionError, _preview
from labsvc.core.errors import ConfigurationError

#: Dependencies lighter than this are not followed at run time (1 = every one).
DEFAULT_THRESHOLD: float = 1.0
#: How many calls below the entry module a request may go.
DEFAULT_MAX_DEPTH: int = 4


# -- the call plan -------------------------------------------------------------


class PlannedCall(NamedTuple):
    """One step of a walk: ``caller`` calls ``callee`` at ``depth`` (the entry is depth 0)."""

    caller: str
    callee: str
    depth: int


def _draw(seed: int, request: int, caller: str, callee: str) -> float:
    # a string seed is hashed with SHA-512: the same draw in every process
    return random.Random(f"{seed}/{request}/{caller}>{callee}").random()


@dataclass(frozen=True)
class CallPlan:
    """Which modules each module calls while it serves one request.

    Build it with :meth:`from_graph`. ``calls[m]`` lists ``(callee, p)`` in
    call order, where ``p`` is the probability of the call (1.0 unless
    ``saturation`` is set). Everything is plain data, so a plan can travel to
    another process as JSON (:meth:`to_dict`, :meth:`from_dict`).

    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_edge("a", "b", weight=5); g.add_edge("a", "c", weight=1)
    >>> CallPlan.from_graph(g, threshold=2).callees("a")
    ('b',)
    """

    calls: Mapping[str, tuple[tuple[str, float], ...]]
    threshold: float = DEFAULT_THRESHOLD
    max_depth: int = DEFAULT_MAX_DEPTH
    saturation: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        _check_number("threshold", self.threshold, minimum=0)
        if isinstance(self.max_depth, bool) or not isinstance(self.max_depth, int) or self.max_depth < 0:
            raise ConfigurationError(
                f"max_depth={self.max_depth!r}: give how many calls below the entry a request may go, an int >= 0"
            )
        if self.saturation is not None:
            _check_number("saturation", self.saturation, minimum=0, strict=True)
        calls = {}
        for module, callees in self.calls.items():
            row = tuple((str(c), float(p)) for c, p in callees)
            unknown = {c for c, _ in row} - set(self.calls)
            if unknown:
                raise ConfigurationError(
                    f"call plan: {module!r} calls modules the plan does not have: {_preview(unknown)}"
                )
            calls[module] = row
        object.__setattr__(self, "calls", MappingProxyType(calls))

    @classmethod
    def from_graph(
        cls,
        graph: nx.DiGraph,
        threshold: float = DEFAULT_THRESHOLD,
        max_depth: int = DEFAULT_MAX_DEPTH,
        saturation: float | None = None,
        seed: int = 0,
    ) -> CallPlan:
        """The plan of a weighted dependency graph.

        Module ``m`` calls each ``v`` with an edge ``m -> v`` of weight
        ``>= threshold``, heaviest first (ties by name). With ``saturation``,
        the call happens with probability ``min(1, weight / saturation)``
        per request (seeded by ``seed``); without, always.
        """
        check_graph(graph)
        _check_number("threshold", threshold, minimum=0)
        if saturation is not None:
            _check_number("saturation", saturation, minimum=0, strict=True)
        calls: dict[str, tuple[tuple[str, float], ...]] = {}
        for module in sorted(graph.nodes, key=str):
            out = [(v, edge_weight(d)) for _, v, d in graph.out_edges(module, data=True)
                   if v != module and edge_weight(d) >= threshold]
            out.sort(key=lambda vw: (-vw[1], str(vw[0])))
            calls[module] = tuple(
                (v, 1.0 if saturation is None else min(1.0, w / saturation)) for v, w in out
            )
        return cls(calls, threshold=threshold, max_depth=max_depth, saturation=saturation, seed=seed)

    @property
    def modules(self) -> tuple[str, ...]:
        """Every module of the plan, sorted."""
        return tuple(self.calls)

    def callees(self, module: str) -> tuple[str, ...]:
        """The modules ``module`` may call, in call order."""
        self._require(module)
        return tuple(c for c, _ in self.calls[module])

    def follows(self, caller: str, callee: str, p: float, request: int) -> bool:
        """Whether ``caller`` calls ``callee`` (probability ``p``) in request number ``request``."""
        return p >= 1.0 or (p > 0.0 and _draw(self.seed, request, caller, callee) < p)

    def walk(self, entry: str, request: int = 0) -> list[PlannedCall]:
        """Every module call one request to ``entry`` makes, in order (depth first).

        The same rules the deployed services follow: skip modules already
        visited in this request and calls deeper than ``max_depth``.
        """
        self._require(entry)
        visited = {entry}
        steps: list[PlannedCall] = []

        def visit(module: str, depth: int) -> None:
            if depth >= self.max_depth:
                return
            for callee, p in self.calls[module]:
                if callee in visited or not self.follows(module, callee, p, request):
                    continue
                visited.add(callee)
                steps.append(PlannedCall(module, callee, depth + 1))
                visit(callee, depth + 1)

        visit(entry, 0)
        return steps

    def expected_hops(self, decomposition: Decomposition, entry: str, request: int = 0) -> int:
        """Hops one request to ``entry`` makes when deployed as ``decomposition``.

        ``1`` for the call into the entry's service, plus one per module call
        whose two modules are in different services.
        """
        svc = decomposition.assignment
        missing = set(self.calls) - set(svc)
        if missing:
            raise DecompositionError(
                f"decomposition {decomposition.name!r} does not assign {len(missing)} module(s) of the plan: "
                f"{_preview(missing)}",
                unassigned=missing,
            )
        return 1 + sum(svc[c.caller] != svc[c.callee] for c in self.walk(entry, request))

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data."""
        return {
            "calls": {m: [[c, p] for c, p in row] for m, row in self.calls.items()},
            "threshold": self.threshold,
            "max_depth": self.max_depth,
            "saturation": self.saturation,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallPlan:
        """The inverse of :meth:`to_dict`."""
        return cls({m: tuple((c, p) for c, p in row) for m, row in data["calls"].items()},
                   threshold=data["threshold"], max_depth=data["max_depth"],
                   saturation=data["saturation"], seed=data["seed"])

    def _require(self, module: str) -> None:
        if module not in self.calls:
            raise ConfigurationError(
                f"module {module!r} is not in the call plan; modules are {_preview(self.calls)}"
            )

    def __repr__(self) -> str:
        edges = sum(len(r) for r in self.calls.values())
        how = "every call" if self.saturation is None else f"sampled, saturation={self.saturation:g}"
        return (f"CallPlan({len(self.calls)} modules, {edges} calls with weight >= {self.threshold:g}, "
                f"max_depth={self.max_depth}, {how})")


def _check_number(name: str, value: object, minimum: float, strict: bool = False) -> None:
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)
    if bad or value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ConfigurationError(f"{name}={value!r}: must be a number {relation} {minimum:g}")


# -- names and entries ---------------------------------------------------------


def _slug(text: str) -> str:
    words = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]
    words = [w if w[0].isalpha() else f"s{w}" for w in words]  # each part must start with a letter
    return "-".join(words) or "service"


def service_names(decomposition: Decomposition) -> dict[str, str]:
    """A network-safe service name for every service of ``decomposition``.

    Network names are lower-case words joined by hyphens
    (``catalog.api`` becomes ``catalog-api``). Dotted names are shortened to
    their shortest unique tail (``org.shop.web.CartBean`` becomes
    ``cartbean`` unless another service ends the same way).

    >>> d = Decomposition("d", {"x": "org.a.Cart", "y": "org.b.Cart", "z": "Order service"})
    >>> service_names(d)
    {'Order service': 'order-service', 'org.a.Cart': 'a-cart', 'org.b.Cart': 'b-cart'}
    """
    services = list(decomposition.services)
    parts = {s: [p for p in str(s).split(".") if p] or [str(s)] for s in services}
    length = dict.fromkeys(services, 1)

    def name(s: str) -> str:
        return _slug(".".join(parts[s][-length[s]:]))

    while True:
        names = {s: name(s) for s in services}
        groups: dict[str, list[str]] = {}
        for s, n in names.items():
            groups.setdefault(n, []).append(s)
        grow = [s for same in groups.values() if len(same) > 1 for s in same if length[s] < len(parts[s])]
        if not grow:
            break
        for s in grow:
            length[s] += 1
    out, taken = {}, set()
    for s in services:  # names still equal after using every part: number them
        base = candidate = names[s]
        k = 2
        while candidate in taken:
            candidate, k = f"{base}-n{k}", k + 1
        taken.add(candidate)
        out[s] = candidate
    return out


def default_entries(graph: nx.DiGraph) -> tuple[str, ...]:
    """The modules a workload calls from outside: where requests enter.

    The modules whose ``layer`` attribute is ``"web"`` (controllers, APIs,
    pages) if there are any; else the modules nothing depends on that
    themselves depend on something; else every module.
    """
    check_graph(graph)
    web = sorted((m for m, layer in graph.nodes(data="layer") if layer == "web"), key=str)
    if web:
        return tuple(web)
    sources = sorted((m for m in graph if graph.in_degree(m) == 0 and graph.out_degree(m) > 0), key=str)
    return tuple(sources or sorted(graph.nodes, key=str))


def _entry_weights(entries: Iterable[str] | Mapping[str, float], plan: CallPlan) -> dict[str, float]:
    if isinstance(entries, str):
        entries = [entries]
    weights = dict(entries) if isinstance(entries, Mapping) else dict.fromkeys(entries, 1.0)
    if not weights:
        raise ConfigurationError("the workload needs at least one entry module")
    unknown = set(weights) - set(plan.calls)
    if unknown:
        raise ConfigurationError(f"entry modules not in the graph: {_preview(unknown)}")
    for module, w in weights.items():
        _check_number(f"weight of entry {module!r}", w, minimum=0)
    if not sum(weights.values()) > 0:
        raise ConfigurationError("entry weights must not all be 0")
    return weights
