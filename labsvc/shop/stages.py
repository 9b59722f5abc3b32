"""One shop through the course: what it has at the start of each notebook, and what each notebook adds.

The shop is the guide's order-management example: the contexts notebook 02
draws (catalog, inventory, order, delivery, with payment and a carrier
bought in), cut into modules and services in notebooks 03-04, and grown
notebook by notebook into the system notebook 14 runs under chaos
(:class:`labsvc.capstone.OrderSystem`). Every notebook from 02 on starts with
``at("nbNN")``: the shop as the notebooks before it left it, whether or not
the learner ran them. Every aspect is read from the code that runs it (the
design data, the services' own OpenAPI documents and database tables, the
system's routes and settings), never typed here.

>>> shop = at("nb07")
>>> [stage.notebook for stage in shop.built]
['nb02', 'nb03', 'nb04', 'nb05', 'nb06']
>>> shop.next.aspect
'events'
>>> after("nb07").detail("events")["consumer"].tolist()
['history', 'delivery']
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from labsvc.core.errors import ConfigurationError

__all__ = ["Stage", "STAGES", "NOTEBOOKS", "ShopState", "at", "after"]


@dataclass(frozen=True)
class Stage:
    """What one notebook adds to the shop: its ``aspect`` (a column of the summary) and a sentence."""

    notebook: str
    aspect: str
    adds: str


STAGES = (
    Stage("nb02", "contexts", "bounded contexts: catalog, inventory, order and delivery; payment and parcels bought in"),
    Stage("nb03", "modules", "the modules of each context, cut along the contexts (the DDD split)"),
    Stage("nb04", "services", "one service per context: catalog, inventory, orders, delivery; the payment provider"),
    Stage("nb05", "api", "an HTTP contract per service (its OpenAPI document)"),
    Stage("nb06", "data", "a database per service, the place-order saga, an order-history read model (CQRS)"),
    Stage("nb07", "events", "order events on a broker: the outbox relay, two consumer groups"),
    Stage("nb08", "discovery", "a registry, and two catalog instances behind a balancer"),
    Stage("nb09", "gateway", "one entry point for users: the gateway's routes"),
    Stage("nb10", "resilience", "timeouts, retries and breakers at the gateway; retries in the saga"),
    Stage("nb11", "observability", "a trace of every request, RED metrics on every instance"),
    Stage("nb12", "configuration", "each service's settings in one place, read from its environment"),
    Stage("nb13", "deployment", "containers: a Compose file, Kubernetes and Cloud Foundry manifests"),
    Stage("nb14", "chaos", "experiments under users' traffic, judged against the SLOs"),
)
NOTEBOOKS = tuple(stage.notebook for stage in STAGES)

#: The contexts of order management, as notebook 02 restricts the design shop's map to them.
CONTEXTS = ("catalog", "inventory", "order", "delivery", "payment", "payment-provider", "carrier")
#: Each running service: the context it serves, the notebook that adds it, the module of its code.
SERVICES = {
    "catalog": ("catalog", "nb04", "labsvc.capstone.catalog"),
    "inventory": ("inventory", "nb04", "labsvc.data.inventory"),
    "orders": ("order", "nb04", "labsvc.data.saga_orchestrator"),
    "payment": ("payment-provider", "nb04", "labsvc.data.payment"),
    "delivery": ("delivery", "nb04", "labsvc.data.delivery"),
    "history": ("order", "nb06", "labsvc.data.order_history"),
    "broker": ("(infrastructure)", "nb07", "labsvc.messaging"),
    "gateway": ("(infrastructure)", "nb09", "labsvc.gateway"),
}


def _index(notebook: str) -> int:
    if notebook not in NOTEBOOKS:
        raise ConfigurationError(f"notebook={notebook!r}: the shop grows through {NOTEBOOKS[0]}..{NOTEBOOKS[-1]}; "
                                 f"name one of them, e.g. at('nb07')")
    return NOTEBOOKS.index(notebook)


@dataclass(frozen=True)
class ShopState:
    """The shop after the stages in ``built``; ``next`` is what the current notebook adds (None after nb14).

    ``merged`` holds the services run as one deployable unit
    (:meth:`merge`); :meth:`system` builds a running order system from the state.
    """

    built: tuple[Stage, ...]
    next: Stage | None
    merged: tuple[tuple[str, ...], ...] = field(default=())

    # ------------------------------------------------------------------ what it has
    @property
    def aspects(self) -> tuple[str, ...]:
        return tuple(stage.aspect for stage in self.built)

    def has(self, aspect: str) -> bool:
        """Whether a notebook before this one added ``aspect`` (``"events"``, ``"gateway"``, ...)."""
        if aspect not in {s.aspect for s in STAGES}:
            raise ConfigurationError(f"aspect={aspect!r} is not one of {[s.aspect for s in STAGES]}")
        return aspect in self.aspects

    @property
    def services(self) -> list[str]:
        """The services running by now (none before notebook 04's services exist)."""
        done = {stage.notebook for stage in self.built}
        return [name for name, (_, added, _) in SERVICES.items() if added in done]

    def summary(self) -> pd.DataFrame:
        """One row per notebook so far: what it added, and what the shop has of it now."""
        rows = [{"notebook": s.notebook, "aspect": s.aspect, "the shop has": _one_line(self, s.aspect)}
                for s in self.built]
        return pd.DataFrame(rows, columns=["notebook", "aspect", "the shop has"]).set_index("notebook")

    def detail(self, aspect: str) -> pd.DataFrame:
        """The whole of one aspect, read from the code that runs it; refused if no notebook so far added it."""
        if not self.has(aspect):
            stage = next(s for s in STAGES if s.aspect == aspect)
            raise ConfigurationError(
                f"the shop has no {aspect!r} yet: notebook {stage.notebook[2:]} adds it. "
                f"after({stage.notebook!r}) is the shop once that notebook is done")
        return _DETAIL[aspect](self)

    # ------------------------------------------------------------------ changing the decomposition
    def merge(self, *names: str) -> "ShopState":
        """The same shop with ``names`` run as one deployable unit (notebook 14 measures what it changes)."""
        from labsvc.capstone import check_merge

        self._require("services", "merge services")
        merged = check_merge(self.merged + (tuple(names),))
        return ShopState(self.built, self.next, merged)

    def split(self, name: str) -> "ShopState":
        """The same shop with the unit that runs ``name`` split back into one service each."""
        group = next((g for g in self.merged if name in g), None)
        if group is None:
            raise ConfigurationError(f"{name!r} is not merged with anything; merged units: {list(self.merged) or 'none'}")
        return ShopState(self.built, self.next, tuple(g for g in self.merged if g != group))

    @property
    def units(self) -> tuple[tuple[str, ...], ...]:
        """The deployable units: one per service, a merged group as one."""
        from labsvc.capstone import units

        present = set(self.services)
        return tuple(u for u in units(self.merged) if set(u) & present)

    # ------------------------------------------------------------------ running it
    def system(self, **options: Any) -> Any:
        """The order system as this state has it: an :class:`~labsvc.capstone.OrderSystem`, not started.

        The system always runs every service notebook 14 runs; what this state
        has not built yet runs in its simplest form: one catalog instance before
        notebook 08, no resilience before notebook 10, no tracing before 11.
        ``options`` go to :class:`~labsvc.capstone.OrderSystem` (``seed``, ``name``...) and win.
        """
        from labsvc.capstone import RESILIENCE_OFF, RESILIENCE_ON, OrderSystem

        self._require("services", "run the shop")
        settings = {"resilience": RESILIENCE_ON if self.has("resilience") else RESILIENCE_OFF,
                    "catalog_instances": 2 if self.has("discovery") else 1,
                    "observe": self.has("observability"), "merge": self.merged or None}
        settings.update(options)
        return OrderSystem(settings.pop("resilience"), **settings)

    def _require(self, aspect: str, doing: str) -> None:
        if not self.has(aspect):
            raise ConfigurationError(f"cannot {doing} at the start of notebook {self.next.notebook[2:]}: the shop has "
                                     f"no services until notebook 04 identifies them; use at('nb05') or later")

    # ------------------------------------------------------------------ display
    @property
    def title(self) -> str:
        where = f"at the start of notebook {self.next.notebook[2:]}" if self.next else "after notebook 14"
        merged = f" (merged: {', '.join(' + '.join(g) for g in self.merged)})" if self.merged else ""
        return f"The shop {where}{merged}"

    def __repr__(self) -> str:
        lines = [self.title]
        lines += [f"  {s.notebook} {s.aspect:<14} {_one_line(self, s.aspect)}" for s in self.built] or ["  nothing yet"]
        if self.next:
            lines.append(f"This notebook adds: {self.next.adds}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        table = self.summary().to_html() if self.built else "<p>Nothing built yet.</p>"
        adds = f"<p><b>This notebook adds:</b> {self.next.adds}</p>" if self.next else ""
        return f"<p><b>{self.title}</b></p>{table}{adds}"


def at(notebook: str) -> ShopState:
    """The shop at the start of ``notebook`` (``"nb02"`` ... ``"nb14"``): what the notebooks before it built."""
    i = _index(notebook)
    return ShopState(STAGES[:i], STAGES[i])


def after(notebook: str) -> ShopState:
    """The shop once ``notebook`` is done: the start of the next one (after ``"nb14"``: the whole system)."""
    i = _index(notebook) + 1
    return ShopState(STAGES[:i], STAGES[i] if i < len(STAGES) else None)


# ---------------------------------------------------------------------- the aspects, read from the code
@functools.lru_cache(maxsize=64)
def _one_line(shop: ShopState, aspect: str) -> str:
    return _ONE_LINE[aspect](shop)


@functools.lru_cache(maxsize=1)
def _design():
    from labsvc.design import load_shop

    return load_shop()


def _contexts(shop: ShopState) -> pd.DataFrame:
    table = _design().contexts
    table = table[table["context"].isin(CONTEXTS)]
    return table[["context", "subdomain", "subdomain_kind", "external"]].reset_index(drop=True)


def _modules(shop: ShopState) -> pd.DataFrame:
    ddd = _design().decompositions["ddd"]
    rows = [{"context": c, "modules": len(ms), "names": ", ".join(m.split(".", 1)[1] for m in ms)}
            for c in CONTEXTS for ms in [sorted(m for m, s in ddd.assignment.items() if s == c)] if ms]
    return pd.DataFrame(rows).set_index("context")


def _services(shop: ShopState) -> pd.DataFrame:
    units = {name: " + ".join(u) for u in shop.units for name in u if len(u) > 1}
    rows = [{"service": name, "context": SERVICES[name][0], "added in": SERVICES[name][1],
             "code": SERVICES[name][2], "unit": units.get(name, name)} for name in shop.services]
    return pd.DataFrame(rows).set_index("service")


@functools.lru_cache(maxsize=16)
def _built(shop: ShopState) -> Any:
    """The state's system, built once and never started: its apps, routes and instances are read, not run."""
    return shop.system(name="shop-stages")


def _apps(shop: ShopState) -> dict[str, Any]:
    net = _built(shop).net  # its apps carry their OpenAPI documents
    apps = {}
    for name in shop.services:
        app = net.service(name).instances[0].app
        apps[name] = getattr(app, "apps", {}).get(name, app)  # a merged unit: the service's own app
    return apps


def _api(shop: ShopState) -> pd.DataFrame:
    rows = []
    for name, app in _apps(shop).items():
        if name in ("broker", "gateway"):
            continue
        for path, methods in app.openapi()["paths"].items():
            rows += [{"service": name, "method": m.upper(), "path": path} for m in methods]
    return pd.DataFrame(rows)


def _data(shop: ShopState) -> pd.DataFrame:
    rows = []
    for name in shop.services:
        module = importlib.import_module(SERVICES[name][2])
        tables = sorted({t for v in vars(module).values() if isinstance(v, type) and hasattr(v, "__table__")
                         for t in v.metadata.tables})
        if tables:
            rows.append({"service": name, "database": f"{name}.db (its own)", "tables": ", ".join(tables)})
    return pd.DataFrame(rows).set_index("service")


def _events(shop: ShopState) -> pd.DataFrame:
    from labsvc.capstone import EVENT_GROUPS, EVENTS_TOPIC

    consumer = {"order-history": "history", "delivery": "delivery"}
    return pd.DataFrame([{"topic": EVENTS_TOPIC, "producer": "orders (outbox relay)", "group": g,
                          "consumer": consumer[g]} for g in EVENT_GROUPS])


def _discovery(shop: ShopState) -> pd.DataFrame:
    from labsvc.capstone import REGISTERED

    net = _built(shop).net
    return pd.DataFrame([{"service": s, "instances": len(net.service(s).instances), "registered": s in REGISTERED}
                         for s in shop.services]).set_index("service")


def _gateway(shop: ShopState) -> pd.DataFrame:
    routes = _built(shop).gateway.routes
    return pd.DataFrame([{"prefix": r.prefix, "service": r.service, "timeout (s)": r.timeout,
                          "retry": r.retry is not None, "breaker": r.breaker is not None} for r in routes])


def _resilience(shop: ShopState) -> pd.DataFrame:
    from labsvc.capstone import RESILIENCE_OFF, RESILIENCE_ON

    names = list(RESILIENCE_ON.__dataclass_fields__)
    return pd.DataFrame({"before notebook 10": [str(getattr(RESILIENCE_OFF, n)) for n in names],
                         "from notebook 10": [str(getattr(RESILIENCE_ON, n)) for n in names]}, index=names)


def _observability(shop: ShopState) -> pd.DataFrame:
    return pd.DataFrame([{"service": s, "spans": "server and client, one trace per request",
                          "metrics": "GET /metrics (requests, errors, duration)"} for s in shop.services]
                        ).set_index("service")


def _configuration(shop: ShopState) -> pd.DataFrame:
    from labsvc.capstone import RESILIENCE_ON, service_settings

    rows = []
    for name in shop.services:
        settings = service_settings(name, RESILIENCE_ON)
        if settings is not None:
            values = ", ".join(f"{k}={v}" for k, v in vars(settings).items())
            rows.append({"service": name, "settings": values})
    return pd.DataFrame(rows).set_index("service")


def _deployment(shop: ShopState) -> pd.DataFrame:
    from labsvc.capstone.export import topology

    return pd.DataFrame([{"container": e["name"], "instances": e["instances"], "volume": e["data"],
                          "published": e.get("publish", "")} for e in topology()]).set_index("container")


def _chaos(shop: ShopState) -> pd.DataFrame:
    from labsvc.capstone import experiments

    return pd.DataFrame([{"experiment": n, "title": experiments.load(n).title} for n in experiments.NAMES]
                        ).set_index("experiment")


_DETAIL = {"contexts": _contexts, "modules": _modules, "services": _services, "api": _api, "data": _data,
           "events": _events, "discovery": _discovery, "gateway": _gateway, "resilience": _resilience,
           "observability": _observability, "configuration": _configuration, "deployment": _deployment,
           "chaos": _chaos}


def _names(items) -> str:
    return ", ".join(items)


def _contexts_line(shop: ShopState) -> str:
    table = _contexts(shop)
    ours, bought = table[~table["external"]]["context"], table[table["external"]]["context"]
    return f"{len(ours)} of ours ({_names(ours)}), {len(bought)} bought in ({_names(bought)})"


def _modules_line(shop: ShopState) -> str:
    table = _modules(shop)
    return f"{int(table['modules'].sum())} modules in {len(table)} contexts"


def _api_line(shop: ShopState) -> str:
    table = _api(shop)
    return f"{len(table)} endpoints in {table['service'].nunique()} services"


def _resilience_line(shop: ShopState) -> str:
    from labsvc.capstone import RESILIENCE_ON as r

    return (f"gateway: timeout {r.timeout}, {r.retries} tries, {'a breaker' if r.breaker else 'no breaker'} per route; "
            f"saga: {r.saga_attempts} tries per step")


def _discovery_line(shop: ShopState) -> str:
    table = _discovery(shop)
    return f"registry ({_names(table.index[table['registered']])}); catalog ×{table.loc['catalog', 'instances']}"


_ONE_LINE = {
    "contexts": _contexts_line,
    "modules": _modules_line,
    "services": lambda s: _names(" + ".join(u) for u in s.units if u[0] not in ("broker", "gateway")),
    "api": _api_line,
    "data": lambda s: f"{len(_data(s))} databases, one per service that keeps data",
    "events": lambda s: _names(f"{e.topic} → {e.consumer}" for e in _events(s).itertuples()),
    "discovery": _discovery_line,
    "gateway": lambda s: _names(f"{r.prefix} → {r.service}" for r in _gateway(s).itertuples()),
    "resilience": _resilience_line,
    "observability": lambda s: f"traces and RED metrics on {len(_observability(s))} services",
    "configuration": lambda s: f"settings of {len(_configuration(s))} services",
    "deployment": lambda s: f"{len(_deployment(s))} containers",
    "chaos": lambda s: f"{len(_chaos(s))} experiments",
}
