"""The order-management system of the guide's example, assembled from the course's own pieces.

Users reach one URL, the gateway (notebook 09), which finds instances through
the registry (notebook 08) and guards each route with a timeout, retries and
a circuit breaker (notebook 10):

====================  ==========================================================
``/catalog/...``      the product catalog (two instances; :mod:`.catalog`)
``/orders/...``       the order service: the place-order saga over inventory and
                      the external payment provider (notebook 06), reporting
                      final states through a transactional outbox to the broker
``/history/...``      order history: a CQRS read model fed by those events
====================  ==========================================================

The delivery service listens to the same events (notebook 07) and prepares a
delivery for every approved order. Every service is a lesson's service
module run with this system's settings: :mod:`labsvc.capstone.catalog`,
:mod:`labsvc.data.saga_orchestrator` (orders), :mod:`labsvc.data.inventory`,
:mod:`labsvc.data.payment`, :mod:`labsvc.data.order_history` (history) and
:mod:`labsvc.data.delivery`. Three pumps keep the asynchronous parts
moving: the outbox relay, the history projector, the delivery consumer.

Every resilience pattern has a switch in :class:`Resilience`; every
release of the catalog can be deployed (:meth:`OrderSystem.deploy`), so a
bad deploy is one more experiment.
"""

from __future__ import annotations

from typing import Any

from labsvc.capstone._config import (
    EVENT_GROUPS, EVENTS_TOPIC, PUMP_BACKOFF, PUMPS, REGISTERED, RESILIENCE_OFF, RESILIENCE_ON, Resilience,
    gateway_routes, saga_budget, service_settings,
)
from labsvc.chaos import Traffic
from labsvc.core.clock import MonotonicClock
from labsvc.data import Pump, delivery, inventory, order_history, payment, saga_orchestrator
from labsvc.discovery import ServiceRegistry
from labsvc.core.errors import ConfigurationError
from labsvc.gateway import Gateway, Route
from labsvc.messaging import Broker, broker_app
from labsvc.core.network import Network
from labsvc.capstone import catalog
from labsvc.capstone._canary import CANARY_SHARE, CanaryBalancer
from labsvc.capstone._decomposition import units
from labsvc.core.colocate import colocated
from labsvc.capstone.catalog import RELEASES
from labsvc.core.simtime import experiment, network_methods

__all__ = ["Resilience", "RESILIENCE_ON", "RESILIENCE_OFF", "OrderSystem", "JOURNEYS", "journey_of", "run_chaos",
           "user_was_served"]

#: The user journeys and their share of the traffic (request i's journey is fixed by i).
JOURNEYS = {"browse": 0.7, "checkout": 0.2, "history": 0.1}
_JOURNEY_BY_SLOT = ["browse"] * 7 + ["checkout"] * 2 + ["history"]
#: A checkout that ends CANCELLED for one of these reasons is the system working (the user's card,
#: the stock); any other reason (a dependency was unavailable) is a failure the user suffers.
BUSINESS_REASONS = ("payment_declined", "out_of_stock")


def journey_of(i: int) -> str:
    """The journey of user request ``i``: seven in ten browse, two check out, one reads its history."""
    return _JOURNEY_BY_SLOT[i % 10]


@network_methods
class OrderSystem:
    """The whole system on a network of its own; ``async with system:`` starts and stops it.

    ``observe=True`` traces every request with OpenTelemetry and gives every
    instance RED metrics (:meth:`labsvc.Network.observe`). ``merge=[("orders",
    "history")]`` runs those services as one deployable unit
    (:mod:`labsvc.capstone._decomposition`); ``units`` lists the units.

    >>> system = OrderSystem(RESILIENCE_OFF, name="capstone-doc")
    >>> sorted(system.net.services)
    ['broker', 'catalog', 'delivery', 'gateway', 'history', 'inventory', 'orders', 'payment']
    """

    def __init__(self, resilience: Resilience = RESILIENCE_ON, *, seed: int = 0, name: str = "capstone",
                 catalog_instances: int = 2, stock: int = 100_000, decline_rate: float = 0.0,
                 mode: str = "inprocess", observe: bool = False, merge: Any = None) -> None:
        if not isinstance(resilience, Resilience):
            raise ConfigurationError("resilience must be a labsvc.capstone.Resilience (e.g. RESILIENCE_ON)")
        self.resilience = resilience
        self.seed = seed
        self.release = {"catalog": "1.0"}  # what the next (re)start of a catalog instance runs
        self.registry = ServiceRegistry(MonotonicClock())
        # Each service is a lesson service with the settings this system gives it; every
        # instance (and every restart) gets a new app from its create_app.
        # (labsvc.capstone._config holds them, for the containers of the export too.)
        stock_settings = service_settings("inventory", resilience, seed=seed, stock=stock)
        provider = service_settings("payment", resilience, seed=seed, decline_rate=decline_rate)
        sagas = service_settings("orders", resilience, seed=seed)
        listener = service_settings("delivery", resilience, seed=seed)
        broker = Broker()
        for group in EVENT_GROUPS:
            broker.declare(EVENTS_TOPIC, group)
        self.broker = broker
        # Round robin per service, and a canary's weighted share of the catalog (see deploy()).
        self.balancer = CanaryBalancer(lambda name: self.running_release().get(name), seed=seed)
        self.gateway = Gateway(self._routes(), discovery=self.registry, seed=seed, balancer=self.balancer,
                              retry_other_instance=resilience.retries > 1)
        apps = {"catalog": self._catalog, "inventory": lambda: inventory.create_app(stock_settings),
                "payment": lambda: payment.create_app(provider), "orders": lambda: saga_orchestrator.create_app(sagas),
                "broker": broker_app(broker), "history": order_history.create_app,
                "delivery": lambda: delivery.create_app(listener), "gateway": self.gateway.app}
        #: The deployable units (notebook 14's decomposition exercise merges some): one per service by default.
        self.units = units(merge)
        net = self.net = Network(seed=seed, name=name, mode=mode)
        for unit in self.units:
            if len(unit) == 1:
                net.add(unit[0], apps[unit[0]], instances=catalog_instances if unit[0] == "catalog" else 1)
            else:  # several services, one unit: one app that hands each request to the service its host names
                net.add(unit[0], lambda unit=unit: colocated({n: apps[n]() for n in unit}), aliases=unit[1:])
        if observe:  # OpenTelemetry spans in net.spans and RED metrics on every /metrics (notebook 11)
            net.observe(tracing=True, metrics=True)
        # The outbox relay, the history projector, the delivery consumer (in that order).
        self.pumps = [Pump(net, f"http://{service}.svc{path}", caller=caller, body=dict(body),
                           done=lambda a, key=key: a[key] == 0, backoff=PUMP_BACKOFF)
                      for service, path, caller, body, key in PUMPS]

    def _catalog(self):
        return catalog.create_app(catalog.Settings(release=self.release["catalog"]))

    def _routes(self) -> list[Route]:
        return gateway_routes(self.resilience, self.seed)

    def saga_budget(self) -> float:
        """The longest a checkout can take inside the order service: two steps, each with all its tries.

        The gateway's timeout on ``/orders`` is this plus half a second, so the
        gateway never gives up on a saga that is still retrying.
        """
        return saga_budget(self.resilience)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> "OrderSystem":
        await self.net.start()
        for service in self.net.services.values():
            for inst in service.instances:  # a merged unit registers every service it runs, under that name
                for name, host in zip((service.name, *service.aliases), inst.host_names()):
                    if name in REGISTERED:
                        self.registry.register(name, host, f"http://{host}.svc")
        for pump in self.pumps:
            pump.start()
        return self

    async def stop(self) -> None:
        for pump in self.pumps:
            await pump.stop()
        await self.net.stop()

    async def __aenter__(self) -> "OrderSystem":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def settle(self) -> dict[str, int]:
        """Let the asynchronous parts catch up: relay the outbox, then project and deliver every event."""
        await self.pumps[0].drain(wait=0.0)
        history = await self.pumps[1].drain(wait=0.0)
        delivery = await self.pumps[2].drain(wait=0.0)
        return {"history_rounds": history, "delivery_rounds": delivery}

    # ------------------------------------------------------------------ deploys
    async def deploy(self, version: str, *, strategy: str = "rolling", service: str = "catalog",
                     share: float = CANARY_SHARE) -> list[str]:
        """Deploy ``version`` of the catalog: ``rolling`` (every instance, one by one) or ``canary``.

        A canary replaces one instance and the gateway sends it ``share`` of
        the catalog's traffic (10 % by default, by weight, not one request in
        two as round robin over two instances would); a rolling deploy
        replaces every instance and ends any canary split. Only instances that
        do not run ``version`` yet are replaced (as a Kubernetes rollout
        replaces only the pods not at the desired revision), so rolling back a
        canary touches the canary alone. Returns the instances replaced; the
        others keep serving meanwhile.
        """
        if service != "catalog":
            raise ConfigurationError(f"only the catalog has releases to deploy here, not {service!r}")
        if version not in RELEASES:
            raise ConfigurationError(f"version={version!r} is not a catalog release; releases: {sorted(RELEASES)}")
        if strategy not in ("rolling", "canary"):
            raise ConfigurationError(f"strategy={strategy!r}; use 'rolling' or 'canary' (one instance, a share of the traffic)")
        if strategy == "canary":
            self.balancer.set_canary(version, share)   # checks the share before anything is replaced
        self.release["catalog"] = version
        running = self.running_release()
        stale = [name for name, release in running.items() if release != version]
        chosen = stale[-1:] if strategy == "canary" else stale
        for name in chosen:
            await self.net.restart(name)
        if strategy == "rolling":
            self.balancer.clear_canary()
        return chosen

    def running_release(self) -> dict[str, str]:
        """Which catalog release each instance runs now."""
        return {i.name: getattr(i.app.state, "release", "?") for i in self.net.service("catalog").instances}

    # ------------------------------------------------------------------ users
    def traffic(self, rate: float = 60.0, timeout: float | None = 2.0) -> Traffic:
        """Open-loop users: seven in ten browse a product, two check out, one reads its order history."""
        return Traffic(_user_request, rate=rate, label=journey_of, caller="users", timeout=timeout,
                       ok=user_was_served)


async def _user_request(client: Any, i: int) -> Any:
    journey = journey_of(i)
    if journey == "browse":
        return await client.get(f"http://gateway.svc/catalog/products/{1 + i % 10}")
    if journey == "checkout":
        return await client.post("http://gateway.svc/orders/orders",
                                 json={"customer_id": 1 + i % 20, "product_id": 1 + i % 5, "quantity": 1})
    return await client.get("http://gateway.svc/history/order-views", params={"customer_id": 1 + i % 20})


def user_was_served(i: int, response: Any) -> bool:
    """Whether user request ``i`` got what it came for (a checkout must end in a decision, not an outage)."""
    if not 200 <= response.status_code < 300:
        return False
    if journey_of(i) == "checkout":
        order = response.json()
        return order.get("status") == "APPROVED" or (order.get("status") == "CANCELLED"
                                                      and order.get("reason") in BUSINESS_REASONS)
    return True


@experiment
async def run_chaos(experiment: Any, resilience: Resilience = RESILIENCE_ON, *, seed: int = 0, rate: float = 60.0,
                    name: str = "capstone", **system_options: Any):
    """Build the system, run one chaos experiment on it under users' traffic, stop it; the report.

    ``experiment`` is a capstone experiment's name (see
    :data:`labsvc.capstone.experiments.NAMES`), a dict or an
    :class:`~labsvc.chaos.Experiment`.
    """
    from labsvc.chaos import run_experiment
    from labsvc.capstone import experiments

    if isinstance(experiment, str) and experiment in experiments.NAMES:
        experiment = experiments.load(experiment)
    system = OrderSystem(resilience, seed=seed, name=name, **system_options)
    async with system:
        report = await run_experiment(experiment, system.net, system.traffic(rate), extras={"system": system})
    report.resilience = resilience  # which settings this evidence was measured with
    return report
