"""How the order system is set up: the resilience switches, each service's settings, the gateway's routes.

One definition, read by both ways the system runs: on a labsvc network in the
notebook (:class:`~labsvc.capstone.OrderSystem`) and as real containers, one
service each (:mod:`labsvc.capstone.services`, exported by
:mod:`labsvc.capstone.export`). Imports that pull in a chapter's package
happen inside the functions, so a container that runs one service imports
only what that service needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError

__all__ = ["Resilience", "RESILIENCE_ON", "RESILIENCE_OFF", "EVENTS_TOPIC", "EVENT_GROUPS", "REGISTERED", "PUMPS",
           "service_settings", "gateway_routes", "saga_budget"]

EVENTS_TOPIC = "orders"
#: The consumer groups on the order events: the history read model and the delivery service.
EVENT_GROUPS = ("order-history", "delivery")
#: The services the gateway finds through the registry (each instance registers itself).
REGISTERED = ("catalog", "orders", "history")


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

#: The loops that keep the asynchronous parts moving: (service, endpoint, caller, body, key of "nothing left").
PUMPS = (
    ("orders", "/outbox/relay", "outbox-relay", {"wait": 0.2}, "pending"),
    ("history", "/projection/poll", "history-projector", {"wait": 0.2}, "pulled"),
    ("delivery", "/deliveries/poll", "delivery-consumer", {"wait": 0.2}, "pulled"),
)
PUMP_BACKOFF = "50ms"


def saga_budget(resilience: Resilience) -> float:
    """The longest a checkout can take inside the order service: two steps, each with all its tries, plus 0.5 s."""
    r = resilience
    per_call = parse_duration(r.saga_timeout, name="saga_timeout")
    pauses = parse_duration(r.saga_backoff, name="saga_backoff") * (2 ** (r.saga_attempts - 1) - 1)
    return 2 * (r.saga_attempts * per_call + pauses) + 0.5


def service_settings(service: str, resilience: Resilience = RESILIENCE_ON, *, seed: int = 0, stock: int = 100_000,
                     decline_rate: float = 0.0) -> Any:
    """The ``Settings`` the lesson module of ``service`` runs with in this system (None: its defaults)."""
    if service == "inventory":
        from labsvc.data import inventory

        return inventory.Settings(stock=stock)
    if service == "payment":
        from labsvc.data import payment

        return payment.Settings(seed=seed, decline_rate=decline_rate)
    if service == "orders":
        from labsvc.data import saga_orchestrator

        return saga_orchestrator.Settings(attempts=resilience.saga_attempts, backoff=resilience.saga_backoff,
                                          timeout=resilience.saga_timeout, events_topic=EVENTS_TOPIC)
    if service == "delivery":
        from labsvc.data import delivery

        return delivery.Settings(events_topic=EVENTS_TOPIC)
    return None


def gateway_routes(resilience: Resilience, seed: int = 0) -> list:
    """The gateway's routes: ``/catalog`` and ``/history`` with timeout, retries and a breaker; ``/orders``
    with the saga's budget as its timeout (the gateway never gives up on a saga still retrying) and a breaker."""
    from labsvc.gateway import Route, upstream_breaker, upstream_retry

    r = resilience

    def breaker(service: str):
        # A route's breaker sees every attempt. It opens when most of them fail (the service is
        # down), not when one instance of two fails and the retry routes around it.
        # Its open state lasts 0.5 s: the experiments here last seconds, not minutes.
        return (upstream_breaker(f"gateway->{service}", failure_rate_threshold=80, wait_duration_in_open_state=0.5)
                if r.breaker else None)

    def guarded(prefix: str, service: str):
        return Route(prefix, service, timeout=r.timeout, breaker=breaker(service),
                     retry=upstream_retry(r.retries, seed=seed) if r.retries > 1 else None)

    return [guarded("/catalog", "catalog"), guarded("/history", "history"),
            Route("/orders", "orders", timeout=saga_budget(r) if r.timeout is not None else None,
                  breaker=breaker("orders"))]
