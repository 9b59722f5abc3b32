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
  app made by :func:`~labsvc.core.service.create_service`) that hosts its modules
  at ``POST /modules/{module}``.
* A :class:`CallPlan` says which modules a module calls while it serves a
  request: its direct dependencies with ``weight >= threshold``, heaviest
  first (ties by name). With ``saturation`` set, each of those is followed
  only with probability ``min(1, weight / saturation)``, drawn from a seed,
  the request number and the edge, so one request walks the same modules in
  every decomposition (a paired comparison: only the cut differs).
* A request to an entry module walks the plan depth first. A callee in the
  same service is a function call (no hop); a callee in another service is
  an HTTP call through :func:`~labsvc.core.service.http` to
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
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import networkx as nx
import pandas as pd

from labsvc.design._apps import ModuleCall, _Hosted, module_app  # noqa: F401 (ModuleCall: re-exported)
from labsvc.design._callplan import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_THRESHOLD,
    CallPlan,
    PlannedCall,
    _entry_weights,
    _slug,
    default_entries,
    service_names,
)
from labsvc.design._runtime import (
    _WORKLOAD_CALLER,
    RUNTIME_METRICS,
    plot_chattiness_vs_coupling,
    plot_granularity,
    plot_runtime,
    request_table,
    summarize_requests,
)
from labsvc.design.decomposition import Decomposition, _preview
from labsvc.core.errors import ConfigurationError
from labsvc.core.faults import LogNormal, as_latency
from labsvc.core.load import LoadRun, open_loop
from labsvc.core.network import Network
from labsvc.core.simtime import experiment, network_methods

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

#: The modelled cost of one network hop: log-normal, median 1 ms, a long right
#: tail (sigma 0.5), drawn from each instance's seeded random generator.
DEFAULT_HOP_LATENCY = LogNormal("1ms", 0.5)

#: The default workload: requests per second and requests per run. The rate
#: is kept low so that, in-process, the services' shared CPU stays mostly
#: idle and latency reflects hops rather than queueing.
DEFAULT_RATE: float = 50.0
DEFAULT_REQUESTS: int = 100


# -- the registry ------------------------------------------------------------------


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


@network_methods
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


@experiment
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


@experiment
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
