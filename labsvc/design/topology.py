"""From a decomposition to running services: measure a cut at run time.

The static metrics of :mod:`labsvc.design.metrics` say which dependencies
*would* cross the network. This module deploys a
:class:`~labsvc.design.Decomposition` of a weighted module graph as real
labsvc services and measures what the call log shows: hops per request,
latency percentiles and availability. The guide's 설계 원칙 2) (loose coupling
and high cohesion: low cohesion means too much talk between services) and
마이크로서비스 식별 (no nano-services) become numbers you can plot.

**The model, plainly.**

* Every service of the decomposition becomes one labsvc service (a FastAPI
  app made by :func:`~labsvc.service.create_service`) that hosts its modules
  at ``POST /modules/{module}``.
* A :class:`CallPlan` says which modules a module calls while it serves a
  request: its direct dependencies with ``weight >= threshold``, heaviest
  first (ties by name). With ``saturation`` set, each of those is followed
  only with probability ``min(1, weight / saturation)``, drawn from a seed,
  the request number and the edge, so one request walks the same modules in
  every decomposition (a paired comparison: only the cut differs).
* A request to an entry module walks the plan depth first. A callee in the
  same service is a function call (no hop); a callee in another service is
  an HTTP call through :func:`~labsvc.service.http` to
  ``http://<service>.svc/modules/<module>``. Calls are sequential.
* The walk is bounded: a module more than ``max_depth`` calls below the entry
  is not called, and each request carries the set of modules it has visited
  (sent along with every hop and returned with every answer), so each module
  works once per request and cycles end.
* The network between services costs nothing in-process, so every service
  gets a **modelled per-hop cost**: ``net.fault(service, latency=...)`` with a
  seeded log-normal delay (:data:`DEFAULT_HOP_LATENCY`, median 1 ms). That
  cost is an assumption, not a measurement. In process mode
  (``mode="process"``) every hop is real HTTP between real processes on
  127.0.0.1; pass ``hop_latency=None`` there to measure the real cost alone.

**Limits.** The walk is a caricature of a request: real code calls some
dependencies many times, some in parallel, some never; weights here are
static reference counts, not runtime volumes. Modules do no work and keep no
data, so latency is hops times per-hop cost plus the in-process overhead of
each hop, and nothing about databases or payload sizes. Use it to compare
cuts of one graph with one plan, not to predict production latency.

**Process mode.** A process imports its app by name, so the services are
served by one generic app factory that reads its configuration (the
service's modules and the call plan) from :data:`TOPOLOGIES`, a registry keyed
by a hash of that configuration; process mode also writes the configuration
to a JSON file in the temporary folder, where the child processes find it.

>>> import networkx as nx
>>> from labsvc.design import Decomposition
>>> g = nx.DiGraph([("web", "order"), ("order", "stock"), ("order", "model")])
>>> plan = CallPlan.from_graph(g)
>>> [(e.caller, e.callee) for e in plan.walk("web")]
[('web', 'order'), ('order', 'model'), ('order', 'stock')]
>>> split = Decomposition("split", {"web": "front", "order": "sales", "model": "sales", "stock": "stock"})
>>> plan.expected_hops(split, "web")   # the entry call, web -> order, order -> stock
3
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import httpx
import networkx as nx
import pandas as pd
from matplotlib.figure import Figure
from pydantic import BaseModel, Field

from labsvc.design._graph import check_graph, edge_weight
from labsvc.design.decomposition import Decomposition, DecompositionError, _preview
from labsvc.design.metrics import METRICS
from labsvc.errors import ConfigurationError
from labsvc.faults import LogNormal, as_latency
from labsvc.load import LoadRun, open_loop
from labsvc.network import Network
from labsvc.problems import Problem, problem_type
from labsvc.service import Request, create_service, http

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_HOP_LATENCY",
    "DEFAULT_RATE",
    "DEFAULT_REQUESTS",
    "RUNTIME_METRICS",
    "TOPOLOGIES",
    "PlannedCall",
    "CallPlan",
    "service_names",
    "default_entries",
    "module_app",
    "Topology",
    "deploy",
    "request_table",
    "summarize_requests",
    "runtime_metrics",
    "compare_runtime",
    "plot_runtime",
    "plot_granularity",
    "plot_chattiness_vs_coupling",
]

#: Dependencies lighter than this are not followed at run time (1 = every one).
DEFAULT_THRESHOLD: float = 1.0
#: How many calls below the entry module a request may go.
DEFAULT_MAX_DEPTH: int = 4
#: The modelled cost of one network hop: log-normal, median 1 ms, a long right
#: tail (sigma 0.5), drawn from each instance's seeded random generator.
DEFAULT_HOP_LATENCY = LogNormal("1ms", 0.5)

#: The default workload: requests per second and requests per run. The rate
#: is kept low so that, in-process, the services' shared CPU stays mostly
#: idle and latency reflects hops rather than queueing.
DEFAULT_RATE: float = 50.0
DEFAULT_REQUESTS: int = 100

#: The columns :func:`runtime_metrics` returns: ``{column: (meaning, better)}``.
RUNTIME_METRICS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "services": ("number of services deployed", ""),
    "requests": ("requests measured (one trace each)", ""),
    "calls_per_request": ("mean hops per request in the call log, the entry call included", "lower"),
    "predicted_calls_per_request": ("mean hops per request the call plan predicts for the same requests", "lower"),
    "services_per_request": ("mean distinct services one request reaches", "lower"),
    "max_calls": ("most hops any one request made", "lower"),
    "p50_ms": ("median latency of the entry call (ms)", "lower"),
    "p95_ms": ("95th percentile latency of the entry call (ms)", "lower"),
    "p99_ms": ("99th percentile latency of the entry call (ms)", "lower"),
    "availability": ("share of requests answered 2xx/3xx", "higher"),
})

_PATH = "/modules/{module}"
_WORKLOAD_CALLER = "users"


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


# -- names ----------------------------------------------------------------------


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


# -- the service ------------------------------------------------------------------


class ModuleCall(BaseModel):
    """The body of ``POST /modules/{module}``: where the request is in its walk."""

    request: int = Field(0, ge=0, description="request number: seeds the sampled calls")
    depth: int = Field(0, ge=0, description="how many calls below the entry this module is")
    visited: list[str] = Field(default_factory=list, description="modules this request has visited")


def module_app(service: str, plan: CallPlan, owners: Mapping[str, str]):
    """The FastAPI app of one deployed service: hosts the modules ``owners`` gives it.

    ``owners`` maps every module of ``plan`` to the network name of its
    service. ``POST /modules/{module}`` walks the plan from ``module``:
    local callees are function calls, remote callees HTTP calls. The answer
    lists the modules visited and how many calls were local and remote.
    ``GET /modules`` lists the hosted modules.
    """
    hosted = tuple(sorted(m for m, s in owners.items() if s == service))
    if not hosted:
        raise ConfigurationError(f"service {service!r} hosts no module; services are {sorted(set(owners.values()))}")
    missing = set(plan.calls) - set(owners)
    if missing:
        raise ConfigurationError(f"owners does not place {len(missing)} module(s) of the plan: {_preview(missing)}")
    app = create_service(service, title=f"{service} (modules: {', '.join(hosted[:4])}"
                         f"{', ...' if len(hosted) > 4 else ''})",
                         description="A service of a deployed decomposition (labsvc.design.topology).")
    hosted_set = frozenset(hosted)

    @app.get("/modules", summary="The modules this service hosts")
    async def list_modules() -> dict:
        return {"service": service, "modules": list(hosted)}

    @app.post(_PATH, summary="Serve one request that enters (or reaches) a module")
    async def call_module(module: str, request: Request, body: ModuleCall | None = None) -> dict:
        if module not in hosted_set:
            raise Problem(404, "Unknown module", type=problem_type("unknown-module"),
                          detail=f"{service} does not host module {module!r}; it hosts {list(hosted)}")
        call = body or ModuleCall()
        visited = set(call.visited) | {module}
        counts = {"local": 0, "remote": 0}
        client = http(request)

        async def visit(current: str, depth: int) -> None:
            if depth >= plan.max_depth:
                return
            for callee, p in plan.calls[current]:
                if callee in visited or not plan.follows(current, callee, p, call.request):
                    continue
                visited.add(callee)
                if owners[callee] == service:  # same service: a plain function call
                    counts["local"] += 1
                    await visit(callee, depth + 1)
                    continue
                counts["remote"] += 1
                url = f"http://{owners[callee]}.svc/modules/{callee}"
                payload = {"request": call.request, "depth": depth + 1, "visited": sorted(visited)}
                try:
                    r = await client.post(url, json=payload)
                except httpx.HTTPError as exc:
                    raise Problem(503, "Dependency unavailable", type=problem_type("dependency-unavailable"),
                                  detail=f"{current} could not call {callee} at {url}: {type(exc).__name__}")
                if r.status_code >= 400:
                    raise Problem(502, "Dependency failed", type=problem_type("dependency-failed"),
                                  detail=f"{current} called {callee} at {url} and got {r.status_code}")
                visited.update(r.json()["visited"])

        await visit(module, call.depth)
        return {"service": service, "module": module, "visited": sorted(visited),
                "local_calls": counts["local"], "remote_calls": counts["remote"]}

    return app


class _Hosted:
    """The services of one registered topology; attribute access gives app factories."""

    def __init__(self, key: str, config: Mapping[str, Any]) -> None:
        self._key = key
        self._config = config
        self._plan = CallPlan.from_dict(config["plan"])

    def __getattr__(self, service: str):
        if service.startswith("__"):
            raise AttributeError(service)
        owners = self._config["owners"]
        if service not in set(owners.values()):
            raise AttributeError(f"topology {self._key} has no service {service!r}")
        plan = self._plan

        def factory():
            return module_app(service, plan, owners)

        factory.__qualname__ = f"TOPOLOGIES.{self._key}.{service}"
        return factory


class _Registry:
    """Deployed topologies by key, so an import string can name a service's app.

    ``labsvc.design.topology:TOPOLOGIES.<key>.<service>`` is a zero-argument
    app factory (one app per instance). The key is a hash of the
    configuration, so the same deployment always has the same key.
    """

    def __init__(self) -> None:
        self._configs: dict[str, Mapping[str, Any]] = {}

    @staticmethod
    def folder() -> Path:
        """Where configurations are written for child processes."""
        return Path(tempfile.gettempdir()) / "labsvc-topologies"

    def register(self, owners: Mapping[str, str], plan: CallPlan, persist: bool = False) -> str:
        """Keep a configuration; with ``persist``, also write it for child processes. Returns its key."""
        config = {"owners": dict(sorted(owners.items())), "plan": plan.to_dict()}
        text = json.dumps(config, sort_keys=True)
        key = "t" + hashlib.sha256(text.encode()).hexdigest()[:16]
        self._configs[key] = config
        if persist:
            folder = self.folder()
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{key}.json"
            if not path.is_file():
                tmp = path.with_suffix(f".{random.getrandbits(32):08x}.tmp")
                tmp.write_text(text)
                tmp.replace(path)  # atomic: a child never reads half a file
        return key

    def import_string(self, key: str, service: str) -> str:
        """The ``module:attr`` string of ``service``'s app factory."""
        return f"{__name__}:TOPOLOGIES.{key}.{service}"

    def __getattr__(self, key: str) -> _Hosted:
        if key.startswith("_"):
            raise AttributeError(key)
        config = self._configs.get(key)
        if config is None:
            path = self.folder() / f"{key}.json"
            if not path.is_file():
                raise AttributeError(f"no topology {key!r} is registered in this process or in {path.parent}")
            config = self._configs[key] = json.loads(path.read_text())
        return _Hosted(key, config)


#: The registry behind the generic app factory (see the module docstring).
TOPOLOGIES = _Registry()


# -- deploying --------------------------------------------------------------------


class Topology:
    """A decomposition deployed on a :class:`~labsvc.Network` (not started).

    Made by :func:`deploy`. Use it as ``async with topology:`` (or start
    ``topology.network``), send traffic with :meth:`run`, then read
    :meth:`requests` and :meth:`summary`, which come from the call log.

    Attributes:
        decomposition: the deployed decomposition.
        plan: the :class:`CallPlan` every service follows.
        network: the :class:`~labsvc.Network` the services run on.
        names: ``{decomposition service: network service name}``.
        entries: the default workload, ``{entry module: weight}``.
    """

    def __init__(self, decomposition: Decomposition, plan: CallPlan, network: Network,
                 names: Mapping[str, str], entries: Iterable[str] | Mapping[str, float]) -> None:
        self.decomposition = decomposition
        self.plan = plan
        self.network = network
        self.names = MappingProxyType(dict(names))
        self.entries = MappingProxyType(_entry_weights(entries, plan))
        self._last_requests: list[tuple[int, str]] = []

    @property
    def services(self) -> tuple[str, ...]:
        """The network names of the deployed services."""
        return tuple(self.names.values())

    def service_of(self, module: str) -> str:
        """The network name of the service hosting ``module``."""
        return self.names[self.decomposition.service_of(module)]

    def url(self, module: str) -> str:
        """The URL a request to ``module`` is sent to, e.g. ``http://catalog.svc/modules/catalog.api``."""
        return f"http://{self.service_of(module)}.svc/modules/{module}"

    def expected_hops(self, entry: str, request: int = 0) -> int:
        """Hops the plan predicts for request number ``request`` entering at ``entry``."""
        return self.plan.expected_hops(self.decomposition, entry, request)

    async def start(self) -> Topology:
        """Start the network (every service)."""
        await self.network.start()
        return self

    async def stop(self) -> None:
        """Stop the network."""
        await self.network.stop()

    async def __aenter__(self) -> Topology:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def entry_of(self, i: int, entries: Mapping[str, float] | None = None, seed: int = 0) -> str:
        """The entry module of request ``i`` in a seeded workload (the same for every decomposition)."""
        weights = _entry_weights(entries if entries is not None else self.entries, self.plan)
        names = list(weights)
        return random.Random(f"{seed}/entry/{i}").choices(names, weights=[weights[n] for n in names])[0]

    async def run(self, entries: Iterable[str] | Mapping[str, float] | None = None, *,
                  rate: float = DEFAULT_RATE, requests: int | None = None, duration: Any = None, seed: int = 0,
                  timeout: float | None = 5.0, progress: bool | None = False) -> LoadRun:
        """Open-loop traffic: request ``i`` enters at a seeded choice among ``entries``.

        ``entries`` are module names (equally likely) or ``{module: weight}``;
        default :attr:`entries`. Request ``i`` is sent as user ``"users"`` to
        :meth:`url` of its entry with ``{"request": i}`` in the body, so
        sampled plans make the same calls for it in every decomposition. The
        ``label`` column of the result names each request's entry module.

        A run is a fresh measurement: it clears the network's call log first,
        so :meth:`requests` and :meth:`summary` describe this run alone. It
        sends ``requests`` requests, or as many as ``rate`` gives in
        ``duration``; with neither, :data:`DEFAULT_REQUESTS`.
        """
        if requests is None and duration is None:
            requests = DEFAULT_REQUESTS
        weights = _entry_weights(entries if entries is not None else self.entries, self.plan)
        chosen: dict[int, str] = {}

        def entry(i: int) -> str:
            if i not in chosen:
                chosen[i] = self.entry_of(i, weights, seed)
            return chosen[i]

        async def send(client, i):
            return await client.post(self.url(entry(i)), json={"request": i})

        self.network.reset_calls()
        run = await open_loop(self.network, send, rate=rate, requests=requests, duration=duration,
                              caller=_WORKLOAD_CALLER, timeout=timeout, progress=progress, label=entry)
        self._last_requests = sorted(chosen.items())
        return run

    def requests(self, calls: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per workload request, measured from the call log (see :func:`request_table`)."""
        return request_table(self.network.calls if calls is None else calls)

    def predicted(self) -> pd.DataFrame:
        """The hops the plan predicts for each request of the last :meth:`run` (request, entry, hops)."""
        return pd.DataFrame(
            [(i, e, self.expected_hops(e, i)) for i, e in self._last_requests],
            columns=["request", "entry", "hops"],
        )

    def summary(self, calls: pd.DataFrame | None = None) -> pd.Series:
        """The columns of :data:`RUNTIME_METRICS` for the traffic in the call log."""
        s = summarize_requests(self.requests(calls))
        predicted = self.predicted()
        out = {"services": float(len(self.services)), **s.to_dict()}
        out["predicted_calls_per_request"] = float(predicted["hops"].mean()) if len(predicted) else math.nan
        return pd.Series({k: out[k] for k in RUNTIME_METRICS}, name=self.decomposition.name)

    def __repr__(self) -> str:
        state = "started" if self.network.started else "stopped"
        return (f"Topology({self.decomposition.name!r}, {len(self.services)} services, "
                f"{len(self.plan.calls)} modules, {state})")


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


def deploy(
    decomposition: Decomposition,
    graph: nx.DiGraph,
    *,
    plan: CallPlan | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    max_depth: int = DEFAULT_MAX_DEPTH,
    saturation: float | None = None,
    hop_latency: Any = DEFAULT_HOP_LATENCY,
    error_rate: float = 0.0,
    entries: Iterable[str] | Mapping[str, float] | None = None,
    seed: int = 0,
    mode: str = "inprocess",
    name: str | None = None,
) -> Topology:
    """Turn ``decomposition`` of ``graph`` into services on a new network (not started).

    One service per service of the decomposition (named by
    :func:`service_names`), each hosting its modules and following ``plan``
    (default ``CallPlan.from_graph(graph, threshold, max_depth, saturation,
    seed)``). Every service gets the modelled per-hop cost ``hop_latency``
    (``None`` for none) and, if ``error_rate`` > 0, that share of calls
    into it fails (a flaky network). ``seed`` seeds the network, the plan's
    draws and the latency draws. ``name`` names the network (default
    ``topology-<decomposition>``): starting a network stops a running one of
    the same name, so re-running a cell is safe.

    >>> import networkx as nx
    >>> from labsvc.design import single_service
    >>> g = nx.DiGraph([("web", "order")])
    >>> deploy(single_service(g), g)
    Topology('monolith', 1 services, 2 modules, stopped)
    """
    if not isinstance(decomposition, Decomposition):
        raise ConfigurationError(
            f"expected a Decomposition, got {type(decomposition).__name__}; "
            "build one with Decomposition(name, {module: service})"
        )
    decomposition.validate(graph)  # also checks the graph
    if plan is None:
        plan = CallPlan.from_graph(graph, threshold=threshold, max_depth=max_depth, saturation=saturation,
                                   seed=seed)
    elif not isinstance(plan, CallPlan):
        raise ConfigurationError(f"plan must be a CallPlan, got {type(plan).__name__}")
    elif set(plan.calls) != set(graph.nodes):
        raise ConfigurationError("the call plan was made from another graph: its modules differ from the graph's")
    latency = as_latency(hop_latency)
    if isinstance(error_rate, bool) or not isinstance(error_rate, (int, float)) or not 0 <= error_rate <= 1:
        raise ConfigurationError(f"error_rate={error_rate!r} must be a share of calls between 0 and 1")
    names = service_names(decomposition)
    owners = {m: names[s] for m, s in decomposition.assignment.items()}
    network = Network(seed=seed, mode=mode, name=name or f"topology-{_slug(decomposition.name)}")
    key = TOPOLOGIES.register(owners, plan, persist=(mode == "process"))
    for service in names.values():
        network.add(service, TOPOLOGIES.import_string(key, service))
        if latency is not None or error_rate:
            network.fault(service, latency=latency, error_rate=float(error_rate) if error_rate else None)
    # unknown entries fail here (in Topology), not at the first request
    return Topology(decomposition, plan, network, names,
                    entries if entries is not None else default_entries(graph))


# -- measuring ------------------------------------------------------------------


def request_table(calls: pd.DataFrame, caller: str = _WORKLOAD_CALLER) -> pd.DataFrame:
    """One row per request ``caller`` sent, from a call log (``net.calls``).

    Columns: ``trace_id``; ``entry`` (the module the request entered);
    ``hops`` (rows of the call log with the request's trace id, the entry
    call included); ``services`` (distinct services those hops reached);
    ``latency`` (seconds, the duration of the entry call); ``status`` and
    ``ok`` (a 2xx/3xx answer to the entry call); ``start``.
    """
    needed = {"caller", "callee", "path", "status", "duration", "start", "trace_id"}
    missing = needed - set(calls.columns)
    if missing:
        raise ConfigurationError(f"expected a call log (net.calls); missing columns {sorted(missing)}")
    roots = calls[calls["caller"] == caller]
    per_trace = calls.groupby("trace_id").agg(hops=("callee", "size"), services=("callee", "nunique"))
    out = pd.DataFrame({
        "trace_id": roots["trace_id"].to_numpy(),
        "entry": roots["path"].str.rsplit("/", n=1).str[-1].to_numpy(),
        "latency": roots["duration"].to_numpy(),
        "status": roots["status"].to_numpy(),
        "start": roots["start"].to_numpy(),
    })
    out = out.join(per_trace, on="trace_id")
    out["ok"] = (out["status"] >= 200) & (out["status"] < 400)
    return out[["trace_id", "entry", "hops", "services", "latency", "status", "ok", "start"]]


def summarize_requests(requests: pd.DataFrame) -> pd.Series:
    """Hops, reach, latency percentiles (ms) and availability of a :func:`request_table`."""
    n = len(requests)
    if n == 0:
        raise ConfigurationError("no requests in the table: send traffic first (topology.run(...))")
    lat = requests["latency"] * 1000
    return pd.Series({
        "requests": float(n),
        "calls_per_request": float(requests["hops"].mean()),
        "services_per_request": float(requests["services"].mean()),
        "max_calls": float(requests["hops"].max()),
        "p50_ms": float(lat.quantile(0.50)),
        "p95_ms": float(lat.quantile(0.95)),
        "p99_ms": float(lat.quantile(0.99)),
        "availability": float(requests["ok"].mean()),
    })


async def runtime_metrics(
    decomposition: Decomposition,
    graph: nx.DiGraph,
    *,
    entries: Iterable[str] | Mapping[str, float] | None = None,
    rate: float = DEFAULT_RATE,
    requests: int = DEFAULT_REQUESTS,
    threshold: float = DEFAULT_THRESHOLD,
    max_depth: int = DEFAULT_MAX_DEPTH,
    saturation: float | None = None,
    hop_latency: Any = DEFAULT_HOP_LATENCY,
    error_rate: float = 0.0,
    seed: int = 0,
    mode: str = "inprocess",
    name: str | None = None,
) -> pd.Series:
    """Deploy ``decomposition``, send a seeded open-loop workload, measure from the call log.

    Returns one row (a Series named after the decomposition) with the
    columns of :data:`RUNTIME_METRICS`. ``entries`` defaults to
    :func:`default_entries`; the other arguments are those of
    :func:`deploy` and :meth:`Topology.run`. The network is stopped
    afterwards. Await it: ``row = await runtime_metrics(d, g)``.
    """
    top = deploy(decomposition, graph, threshold=threshold, max_depth=max_depth, saturation=saturation,
                 hop_latency=hop_latency, error_rate=error_rate, entries=entries, seed=seed, mode=mode,
                 name=name)
    async with top:
        await top.run(rate=rate, requests=requests, seed=seed)
        calls = top.network.calls
    return top.summary(calls)


async def compare_runtime(
    decompositions: Iterable[Decomposition] | Mapping[str, Decomposition],
    graph: nx.DiGraph,
    **options: Any,
) -> pd.DataFrame:
    """:func:`runtime_metrics` for several decompositions, one row each, with the same workload.

    ``options`` are passed to :func:`runtime_metrics` (``seed``, ``rate``,
    ``requests``, ``threshold``, ...). The index is the decomposition name
    (or the mapping's key), as in :func:`labsvc.design.compare`, so the two
    tables join: ``compare(ds, g).join(await compare_runtime(ds, g))``.
    """
    if isinstance(decompositions, Decomposition):
        decompositions = [decompositions]
    items = (list(decompositions.items()) if isinstance(decompositions, Mapping)
             else [(getattr(d, "name", None), d) for d in decompositions])
    if not items:
        raise ConfigurationError("compare_runtime needs at least one decomposition")
    labels = [str(k) for k, _ in items]
    dupes = {n for n in labels if labels.count(n) > 1}
    if dupes:
        raise ConfigurationError(f"decomposition names must be unique; repeated: {_preview(dupes)}")
    options.setdefault("name", "topology-compare")
    rows = []
    for label, d in items:
        row = await runtime_metrics(d, graph, **options)
        row.name = label
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.index.name = "decomposition"
    return frame


# -- plots ----------------------------------------------------------------------

_PALETTE = ["#457b9d", "#e76f51", "#2a9d8f", "#e9c46a", "#8d6cab", "#f4a261", "#6a994e", "#bc4749"]


def plot_runtime(frame: pd.DataFrame, metrics: Sequence[str] = ("calls_per_request", "p95_ms", "availability"),
                 figsize: tuple[float, float] | None = None) -> Figure:
    """One bar chart per runtime metric, one bar per decomposition (the output of :func:`compare_runtime`)."""
    chosen = [m for m in metrics if m in frame.columns]
    if not chosen:
        raise ConfigurationError(f"none of {list(metrics)} is a column; columns are {list(frame.columns)}")
    fig = Figure(figsize=figsize or (3.3 * len(chosen), 3.2))
    names = [str(n) for n in frame.index]
    colours = [_PALETTE[i % len(_PALETTE)] for i in range(len(names))]
    for i, metric in enumerate(chosen):
        ax = fig.add_subplot(1, len(chosen), i + 1)
        ax.bar(range(len(names)), frame[metric].astype(float).fillna(0.0), color=colours)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        better = RUNTIME_METRICS.get(metric, ("", ""))[1]
        arrow = {"higher": " (↑ better)", "lower": " (↓ better)"}.get(better, "")
        ax.set_title(metric + arrow, fontsize=9)
    fig.tight_layout()
    return fig


def plot_granularity(frame: pd.DataFrame, metrics: Sequence[str] = ("calls_per_request", "p95_ms"),
                     x: str = "services", figsize: tuple[float, float] | None = None) -> Figure:
    """Runtime metrics against the number of services: one panel per metric, one labelled point per row.

    Made for a sweep of decompositions from coarse to fine (the output of
    :func:`compare_runtime`); points are joined in order of ``x``.
    """
    chosen = [m for m in metrics if m in frame.columns]
    if x not in frame.columns or not chosen:
        raise ConfigurationError(f"need column {x!r} and one of {list(metrics)}; columns are {list(frame.columns)}")
    data = frame.sort_values(x, kind="stable")
    fig = Figure(figsize=figsize or (4.6 * len(chosen), 3.4))
    for i, metric in enumerate(chosen):
        ax = fig.add_subplot(1, len(chosen), i + 1)
        ax.plot(data[x], data[metric], marker="o", color=_PALETTE[i % len(_PALETTE)])
        for name, row in data.iterrows():
            ax.annotate(str(name), (row[x], row[metric]), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xlabel(f"{x} (coarse → fine)")
        ax.set_ylabel(metric)
        meaning = RUNTIME_METRICS.get(metric) or METRICS.get(metric) or (metric, "")
        ax.set_title(meaning[0], fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_chattiness_vs_coupling(static: pd.DataFrame, runtime: pd.DataFrame, x: str = "icp",
                                y: str = "calls_per_request", ax=None,
                                figsize: tuple[float, float] = (5.5, 4)) -> Figure:
    """Scatter of a static metric (from :func:`labsvc.design.compare`) against a runtime one.

    One labelled point per decomposition found in both tables.
    """
    for table, column, what in ((static, x, "static"), (runtime, y, "runtime")):
        if column not in table.columns:
            raise ConfigurationError(f"the {what} table has no column {column!r}; columns are {list(table.columns)}")
    both = static[[x]].join(runtime[[y]], how="inner")
    if both.empty:
        raise ConfigurationError("the two tables share no decomposition (their indexes differ)")
    if ax is None:
        fig = Figure(figsize=figsize)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for i, (name, row) in enumerate(both.iterrows()):
        ax.scatter(row[x], row[y], s=60, color=_PALETTE[i % len(_PALETTE)], zorder=3)
        ax.annotate(str(name), (row[x], row[y]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel(f"{x} (static, from the dependency graph)")
    ax.set_ylabel(f"{y} (run time, from the call log)")
    ax.set_title("runtime chattiness vs static coupling")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
