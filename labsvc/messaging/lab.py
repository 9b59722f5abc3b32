"""Synchronous REST calls against messages through a broker (notebook 07).

One business flow, wired two ways:

- ``"sync"``: the user posts an order to **orders**, which calls **payment**
  over REST, which calls **notification**; the user's answer waits for the
  whole chain (201), and fails if any link is down (503);
- ``"async"``: **orders** publishes an ``orders`` message to the **broker**
  (a :func:`~labsvc.messaging.broker_app` service on the network) and
  answers 202 at once; a consumer inside **payment** pulls it over HTTP,
  charges the card, publishes to ``payments``, and acknowledges; a consumer
  inside **notification** pulls that and records the notification.

Every hop, the broker's included, goes through the network, so the call log
shows ``orders -> broker``, ``payment -> broker`` and so on. Consumers are
idempotent (:class:`~labsvc.messaging.IdempotentConsumer`), because a broker
that never loses a message sometimes delivers one twice.

>>> flow = OrderFlow("async", seed=1, name="doc-flow")      # doctest: +SKIP
>>> async with flow:                                         # doctest: +SKIP
...     r = await flow.place(flow.net.client("users"), 1, amount=12.5)
>>> r.status_code                                            # doctest: +SKIP
202

The experiments (:func:`outage_experiment`, :func:`compare_styles`,
:func:`delivery_experiment`, :func:`crash_experiment`) return dataclasses of tidy DataFrames; the
``plot_*`` functions draw them and return matplotlib Figures.
"""

from __future__ import annotations

# The flow and its services live in ``_lab_order_flow``, the experiments in
# ``_lab_flow``, the plots in ``plots``; this module keeps the names notebook 07
# and ``labsvc.experiments`` import from it.
from labsvc.messaging._lab_flow import (
    DeliveryResult,
    FlowResult,
    compare_styles,
    crash_experiment,
    delivery_experiment,
    delivery_summary,
    outage_experiment,
    outage_summary,
)
from labsvc.messaging._lab_explore import double_charge_workflow
from labsvc.messaging._lab_order_flow import FLOW, STYLES, OrderFlow
from labsvc.messaging.plots import plot_backlog, plot_completion

# Not in __all__, but importable from here before the split:
from labsvc.messaging._lab_order_flow import BROKER_DOWN_BACKOFF, BROKER_URL, PULL_BATCH, PULL_WAIT, QUEUES  # noqa: F401
from labsvc.messaging._lab_order_flow import OrderIn, PoisonMessage  # noqa: F401

__all__ = [
    "STYLES",
    "FLOW",
    "OrderFlow",
    "FlowResult",
    "DeliveryResult",
    "outage_experiment",
    "compare_styles",
    "outage_summary",
    "delivery_experiment",
    "crash_experiment",
    "delivery_summary",
    "plot_completion",
    "plot_backlog",
    "double_charge_workflow",
]
