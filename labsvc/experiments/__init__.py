"""Experiment harnesses for the runtime notebooks: each builds a small topology, breaks it, measures it.

The pattern modules (:mod:`labsvc.messaging`, :mod:`labsvc.discovery`,
:mod:`labsvc.balancing`, :mod:`labsvc.resilience`) are the lesson; these
modules only wire them into services on a :class:`~labsvc.network.Network`
and turn what happened into tidy DataFrames:

- :mod:`~labsvc.experiments.communication` (notebook 07): an order flow as a
  synchronous REST chain or as messages through a broker service; temporal
  coupling under an outage, at-least-once delivery, dead letters;
- :mod:`~labsvc.experiments.discovery` (notebook 08): a registry service with
  self-registering, heartbeating instances and a caching discovery client;
  balancers compared with one slow instance;
- :mod:`~labsvc.experiments.resilience` (notebook 10): a breaker's state
  timeline, failover around a dead instance, retry storms, fan-out tails.
- :mod:`~labsvc.experiments.platform` (notebook 13): self-healing, an HPA
  under a load ramp, rollouts compared under load (import it directly).

Choices:

- every experiment runs on its own network with its own name, so a cell can
  be re-run and two experiments can run side by side (``asyncio.gather``);
- experiments return dataclasses of DataFrames; ``plot_*`` functions take
  those and return a matplotlib ``Figure`` (never pyplot);
- background work inside a service (a queue consumer, a heartbeat) starts in
  the service's lifespan and calls other services through the network as
  its own instance (:func:`~labsvc.experiments._common.instance_of`), so it
  shows up in the call log like any other hop;
- time: breakers and retries run on the network's clock
  (:class:`~labsvc.experiments._common.NetworkClock`) so their events share
  the call log's time axis; the registry runs on a clock 200 times faster
  (:class:`~labsvc.experiments._common.ScaledClock`) so Eureka's 30/60/90 s
  timers keep their values and still fit in a notebook cell;
- in-process only: the harnesses read each pattern's state (a breaker's
  events, the registry, the broker's queues) straight from the Python
  objects they created, and their services close over those objects; in
  process mode those objects would live in other processes. (A service's
  own calls would work there: :func:`labsvc.service.app_client` gives a
  factory app its instance's client in both modes.)

Names are imported lazily (matplotlib and FastAPI load on first use).
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "NetworkClock": "_common",
    "ScaledClock": "_common",
    "instance_of": "_common",
    # notebook 07
    "OrderFlow": "communication",
    "FlowResult": "communication",
    "DeliveryResult": "communication",
    "outage_experiment": "communication",
    "compare_styles": "communication",
    "outage_summary": "communication",
    "delivery_experiment": "communication",
    "delivery_summary": "communication",
    "plot_completion": "communication",
    "plot_backlog": "communication",
    # notebook 08
    "DiscoveryLab": "discovery",
    "DiscoveryResult": "discovery",
    "NoInstanceAvailable": "discovery",
    "plot_discovery": "discovery",
    "BalancerComparison": "discovery",
    "balancer_experiment": "discovery",
    "compare_balancers": "discovery",
    "plot_balancers": "discovery",
    # notebook 10
    "BreakerBalancer": "resilience",
    "AllBreakersOpen": "resilience",
    "breaker_experiment": "resilience",
    "plot_breaker": "resilience",
    "failover_experiment": "resilience",
    "compare_failover": "resilience",
    "failover_summary": "resilience",
    "plot_failover": "resilience",
    "retry_storm": "resilience",
    "compare_retry_policies": "resilience",
    "amplification": "resilience",
    "plot_retry_storm": "resilience",
    "TailLatency": "resilience",
    "fanout_model": "resilience",
    "fanout_experiment": "resilience",
    "plot_fanout": "resilience",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
