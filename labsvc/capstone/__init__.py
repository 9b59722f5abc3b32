"""The capstone: the guide's order-management system, end to end, under load and chaos, against SLOs.

- :mod:`._system`: :class:`OrderSystem` (catalog, inventory, orders with its
  saga, the external payment provider, order history, delivery, the broker,
  behind the gateway with discovery) and :class:`Resilience`, the switches
  for every resilience pattern;
- :mod:`._releases`: catalog releases, a bad one included;
- :mod:`.experiments`: the chaos experiments (Chaos Toolkit files) and the
  capstone's own actions;
- :mod:`._slo`: service-level objectives per user journey and the error
  budget an experiment spends.
"""

from ._releases import RELEASES, catalog_release
from ._slo import SLO, SLOS, plot_slo_report, slo_report
from ._system import JOURNEYS, RESILIENCE_OFF, RESILIENCE_ON, OrderSystem, Resilience, journey_of, run_chaos

__all__ = ["OrderSystem", "Resilience", "RESILIENCE_ON", "RESILIENCE_OFF", "JOURNEYS", "journey_of", "RELEASES",
           "catalog_release", "run_chaos", "SLO", "SLOS", "slo_report", "plot_slo_report"]
