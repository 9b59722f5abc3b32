"""Moved: the lab harnesses now live in their guide chapter's ``lab`` module.

:mod:`labsvc.messaging.lab` (notebook 07), :mod:`labsvc.discovery.lab`
(notebook 08), :mod:`labsvc.resilience.lab` (notebook 10),
:mod:`labsvc.platform.lab` (notebook 13); the shared helpers are in
:mod:`labsvc.core.experiment`. This old path works until labsvc 0.3 and warns.

Not moved: :mod:`labsvc.experiments.realtime`, notebook 01's measurements on the
real clock and its experiment run simulated and as real processes side by side.
"""

from labsvc._moved import moved

__getattr__, __dir__ = moved(__name__, {
    "NetworkClock": "labsvc.core.experiment",
    "ScaledClock": "labsvc.core.experiment",
    "instance_of": "labsvc.core.experiment",
    "OrderFlow": "labsvc.messaging.lab",
    "FlowResult": "labsvc.messaging.lab",
    "DeliveryResult": "labsvc.messaging.lab",
    "outage_experiment": "labsvc.messaging.lab",
    "compare_styles": "labsvc.messaging.lab",
    "outage_summary": "labsvc.messaging.lab",
    "delivery_experiment": "labsvc.messaging.lab",
    "delivery_summary": "labsvc.messaging.lab",
    "plot_completion": "labsvc.messaging.lab",
    "plot_backlog": "labsvc.messaging.lab",
    "DiscoveryLab": "labsvc.discovery.lab",
    "DiscoveryResult": "labsvc.discovery.lab",
    "NoInstanceAvailable": "labsvc.discovery.lab",
    "plot_discovery": "labsvc.discovery.lab",
    "BalancerComparison": "labsvc.discovery.lab",
    "balancer_experiment": "labsvc.discovery.lab",
    "compare_balancers": "labsvc.discovery.lab",
    "plot_balancers": "labsvc.discovery.lab",
    "BreakerBalancer": "labsvc.resilience.lab",
    "AllBreakersOpen": "labsvc.resilience.lab",
    "breaker_experiment": "labsvc.resilience.lab",
    "plot_breaker": "labsvc.resilience.lab",
    "failover_experiment": "labsvc.resilience.lab",
    "compare_failover": "labsvc.resilience.lab",
    "failover_summary": "labsvc.resilience.lab",
    "plot_failover": "labsvc.resilience.lab",
    "retry_storm": "labsvc.resilience.lab",
    "compare_retry_policies": "labsvc.resilience.lab",
    "amplification": "labsvc.resilience.lab",
    "plot_retry_storm": "labsvc.resilience.lab",
    "TailLatency": "labsvc.resilience.lab",
    "fanout_model": "labsvc.resilience.lab",
    "fanout_experiment": "labsvc.resilience.lab",
    "plot_fanout": "labsvc.resilience.lab",
})
