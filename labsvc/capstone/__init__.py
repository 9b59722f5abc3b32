"""The capstone: the guide's order-management system, end to end, under load and chaos, against SLOs.

- :mod:`._system`: :class:`OrderSystem` (catalog, inventory, orders with its
  saga, the external payment provider, order history, delivery, the broker,
  behind the gateway with discovery) and :class:`Resilience`, the switches
  for every resilience pattern (:mod:`._config` holds them, with each
  service's settings and the gateway's routes);
- :mod:`.catalog`: the catalog service in numbered releases, a bad one
  included (``python -m labsvc serve labsvc.capstone.catalog:create_app``);
- :mod:`.experiments`: the chaos experiments (Chaos Toolkit files), with the
  capstone's own actions (:mod:`.actions`) and probes (:mod:`.probes`);
- :mod:`._slo`: service-level objectives per user journey and the error
  budget an experiment spends;
- :mod:`._decomposition`: the decomposition as a choice: merge services
  into one deployable unit and measure what a crash then takes down;
- :mod:`.services` and :mod:`.export`: the same system as real containers,
  one service each (Docker Compose, Kubernetes, Cloud Foundry).

The names below are imported on first use, so a container that serves one
service (``labsvc.capstone.services``) does not load the notebook's side.
"""

from labsvc.core.lazy import lazy_exports

_EXPORTS = {
    "OrderSystem": "_system", "Resilience": "_config", "RESILIENCE_ON": "_config", "RESILIENCE_OFF": "_config",
    "JOURNEYS": "_system", "journey_of": "_system", "run_chaos": "_system",
    "RELEASES": "catalog", "catalog_release": "catalog",
    "SLO": "_slo", "SLOS": "_slo", "slo_report": "_slo", "plot_slo_report": "_slo",
    "EVENTS_TOPIC": "_config", "EVENT_GROUPS": "_config", "REGISTERED": "_config", "service_settings": "_config",
    "MERGEABLE": "_decomposition", "check_merge": "_decomposition", "units": "_decomposition",
    "crash_experiment": "_decomposition", "compare_decompositions": "_merge_lab", "checkout_hops": "_merge_lab",
}

__all__ = ["OrderSystem", "Resilience", "RESILIENCE_ON", "RESILIENCE_OFF", "JOURNEYS", "journey_of", "RELEASES",
           "catalog_release", "run_chaos", "SLO", "SLOS", "slo_report", "plot_slo_report", "EVENTS_TOPIC",
           "EVENT_GROUPS", "REGISTERED", "service_settings", "MERGEABLE", "check_merge", "units", "crash_experiment",
           "compare_decompositions", "checkout_hops"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
