"""The order-management system of the guide's example, assembled from the course's own pieces.

Users reach one URL, the gateway (notebook 09), which finds instances through
the registry (notebook 08) and guards each route with a timeout, retries and
a circuit breaker (notebook 10):

====================  ==========================================================
``/catalog/...``      the product catalog (two instances; :mod:`labsvc.shop`)
``/orders/...``       the order service: the place-order saga over inventory and
                      the external payment provider (notebook 06), reporting
                      final states through a transactional outbox to the broker
``/history/...``      order history: a CQRS read model fed by those events
====================  ==========================================================

The delivery service listens to the same events (notebook 07) and prepares a
delivery for every approved order. Three pumps keep the asynchronous parts
moving: the outbox relay, the history projector, the delivery consumer.

Every resilience pattern has a switch in :class:`Resilience`; every
release of the catalog can be deployed (:meth:`OrderSystem.deploy`), so a
bad deploy is one more experiment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..chaos import Traffic
from ..clock import MonotonicClock, parse_duration
from ..data import Pump, delivery_app, inventory_app, order_history_app, order_saga_app, payment_app
from ..discovery import ServiceRegistry
from ..errors import ConfigurationError
from ..gateway import Gateway, Route, upstream_breaker, upstream_retry
from ..messaging import Broker, broker_app
from ..network import Network
from ._releases import RELEASES, catalog_release

__all__ = ["Resilience", "RESILIENCE_ON", "RESILIENCE_OFF", "OrderSystem", "JOURNEYS", "journey_of", "run_chaos",
           "user_was_served"]

EVENTS_TOPIC = "orders"
#: The user journeys and their share of the traffic (request i's journey is fixed by i).
JOURNEYS = {"browse": 0.7, "checkout": 0.2, "history": 0.1}
_JOURNEY_BY_SLOT = ["browse"] * 7 + ["checkout"] * 2 + ["history"]
#: A checkout that ends CANCELLED for one of these reasons is the system working (the user's card,
#: the stock); any other reason (a dependency was unavailable) is a failure the user suffers.
BUSINESS_REASONS = ("payment_declined", "out_of_stock")


@dataclass(frozen=True)
class Resilience:
    """The resilience settings of the order system; each pattern can be switched off.

    - ``timeout``: the gateway's per-route timeout (None: the client's 5 s);
    - ``retries``: attempts per idempotent request at the gateway (1: no retry);
    - ``breaker``: a circuit breaker per gateway route;
    - ``saga_attempts``, ``saga_backoff``, ``saga_timeout``: how the order
      service calls inventory and payment (tries per step, first pause, per call).
    """

    timeout: float | str | None = "150ms"
    retries: int = 3
    breaker: bool = True
    saga_attempts: int = 4
    saga_backoff: float | str = "100ms"
    saga_timeout: float | str = "250ms"

    def __post_init__(self) -> None:
        for name in ("retries", "saga_attempts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name}={value!r} must be a whole number of attempts, at least 1")
        for name in ("saga_backoff", "saga_timeout") + (("timeout",) if self.timeout is not None else ()):
            parse_duration(getattr(self, name), name=name)

    def but(self, **changes: Any) -> "Resilience":
        """The same settings with some changed: ``RESILIENCE_ON.but(retries=1)``."""
        return replace(self, **changes)


RESILIENCE_ON = Resilience()
RESILIENCE_OFF = Resilience(timeout=None, retries=1, breaker=False, saga_attempts=1, saga_timeout="5s")


def journey_of(i: int) -> str:
    """The journey of user request ``i``: seven in ten browse, two check out, one reads its history."""
    return _JOURNEY_BY_SLOT[i % 10]


class OrderSystem:
    """The whole system on a network of its own; ``async with system:`` starts and stops it.

    ``observe=True`` traces every request with OpenTelemetry and gives every
    instance RED metrics (:meth:`labsvc.Network.observe`).

    >>> system = OrderSystem(RESILIENCE_OFF, name="capstone-doc")
    >>> sorted(system.net.services)
    ['broker', 'catalog', 'delivery', 'gateway', 'history', 'inventory', 'orders', 'payment']
    """

    def __init__(self, resilience: Resilience = RESILIENCE_ON, *, seed: int = 0, name: str = "capstone",
                 catalog_instances: int = 2, stock: int = 100_000, decline_rate: float = 0.0,
                 mode: str = "inprocess", observe: bool = False) -> None:
        if not isinstance(resilience, Resilience):
            raise ConfigurationError("resilience must be a labsvc.capstone.Resilience (e.g. RESILIENCE_ON)")
        self.resilience = resilience
        self.seed = seed
        self.release = {"catalog": "1.0"}  # what the next (re)start of a catalog instance runs
        self.registry = ServiceRegistry(MonotonicClock())
        r = resilience
        net = self.net = Network(seed=seed, name=name, mode=mode)
        net.add("catalog", self._catalog, instances=catalog_instances)
        net.add("inventory", lambda: inventory_app(stock))
        net.add("payment", lambda: payment_app(seed=seed, decline_rate=decline_rate))
        net.add("orders", lambda: order_saga_app(attempts=r.saga_attempts, backoff=r.saga_backoff,
                                                 timeout=r.saga_timeout, events_topic=EVENTS_TOPIC))
        broker = Broker()
        for group in ("order-history", "delivery"):
            broker.declare(EVENTS_TOPIC, group)
        self.broker = broker
        net.add("broker", broker_app(broker))
        net.add("history", order_history_app)
        net.add("delivery", lambda: delivery_app(events_topic=EVENTS_TOPIC))
        self.gateway = Gateway(self._routes(), discovery=self.registry, seed=seed,
                              retry_other_instance=resilience.retries > 1)
        net.add("gateway", self.gateway.app)
        if observe:  # OpenTelemetry spans in net.spans and RED metrics on every /metrics (notebook 11)
            net.observe(tracing=True, metrics=True)
        self.pumps = [
            Pump(net, "http://orders.svc/outbox/relay", caller="outbox-relay", body={"wait": 0.2},
                 done=lambda a: a["pending"] == 0, backoff="50ms"),
            Pump(net, "http://history.svc/projection/poll", caller="history-projector", body={"wait": 0.2},
                 done=lambda a: a["pulled"] == 0, backoff="50ms"),
            Pump(net, "http://delivery.svc/deliveries/poll", caller="delivery-consumer", body={"wait": 0.2},
                 done=lambda a: a["pulled"] == 0, backoff="50ms"),
        ]

    def _catalog(self):
        return catalog_release(self.release["catalog"])

    def _routes(self) -> list[Route]:
        r = self.resilience

        def breaker(service: str):
            # A route's breaker sees every attempt. It opens when most of them fail (the service is
            # down), not when one instance of two fails and the retry routes around it.
            # Its open state lasts 0.5 s: the experiments here last seconds, not minutes.
            return (upstream_breaker(f"gateway->{service}", failure_rate_threshold=80, wait_duration_in_open_state=0.5)
                    if r.breaker else None)

        def guarded(prefix: str, service: str) -> Route:
            return Route(prefix, service, timeout=r.timeout, breaker=breaker(service),
                         retry=upstream_retry(r.retries, seed=self.seed) if r.retries > 1 else None)

        return [guarded("/catalog", "catalog"), guarded("/history", "history"),
                Route("/orders", "orders", timeout=self.saga_budget() if r.timeout is not None else None,
                      breaker=breaker("orders"))]

    def saga_budget(self) -> float:
        """The longest a checkout can take inside the order service: two steps, each with all its tries.

        The gateway's timeout on ``/orders`` is this plus half a second, so the
        gateway never gives up on a saga that is still retrying.
        """
        r = self.resilience
        per_call = parse_duration(r.saga_timeout, name="saga_timeout")
        pauses = parse_duration(r.saga_backoff, name="saga_backoff") * (2 ** (r.saga_attempts - 1) - 1)
        return 2 * (r.saga_attempts * per_call + pauses) + 0.5

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> "OrderSystem":
        await self.net.start()
        for service in self.net.services.values():
            if service.name in ("catalog", "orders", "history"):
                for inst in service.instances:
                    self.registry.register(service.name, inst.name, f"http://{inst.name}.svc")
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
    async def deploy(self, version: str, *, strategy: str = "rolling", service: str = "catalog") -> list[str]:
        """Deploy ``version`` of the catalog: ``rolling`` (every instance, one by one) or ``canary`` (one).

        Only instances that do not run ``version`` yet are replaced (as a
        Kubernetes rollout replaces only the pods not at the desired
        revision), so rolling back a canary touches the canary alone. Returns
        the instances replaced; the others keep serving meanwhile.
        """
        if service != "catalog":
            raise ConfigurationError(f"only the catalog has releases to deploy here, not {service!r}")
        if version not in RELEASES:
            raise ConfigurationError(f"version={version!r} is not a catalog release; releases: {sorted(RELEASES)}")
        if strategy not in ("rolling", "canary"):
            raise ConfigurationError(f"strategy={strategy!r}; use 'rolling' or 'canary' (one instance)")
        self.release["catalog"] = version
        running = self.running_release()
        stale = [name for name, release in running.items() if release != version]
        chosen = stale[-1:] if strategy == "canary" else stale
        for name in chosen:
            await self.net.restart(name)
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


async def run_chaos(experiment: Any, resilience: Resilience = RESILIENCE_ON, *, seed: int = 0, rate: float = 60.0,
                    name: str = "capstone", **system_options: Any):
    """Build the system, run one chaos experiment on it under users' traffic, stop it; the report.

    ``experiment`` is a capstone experiment's name (see
    :data:`labsvc.capstone.experiments.NAMES`), a dict or an
    :class:`~labsvc.chaos.Experiment`.
    """
    from ..chaos import run_experiment
    from . import experiments

    if isinstance(experiment, str) and experiment in experiments.NAMES:
        experiment = experiments.load(experiment)
    system = OrderSystem(resilience, seed=seed, name=name, **system_options)
    async with system:
        report = await run_experiment(experiment, system.net, system.traffic(rate), extras={"system": system})
    report.resilience = resilience  # which settings this evidence was measured with
    return report
