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
``plot_*`` functions draw them and return matplotlib Figures. :func:`delivery_limit_trial`
runs one delivery limit against lost acks and returns one row per order.
"""

from __future__ import annotations

import pandas as pd

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
from labsvc.core.errors import ConfigurationError
from labsvc.core.simtime import experiment
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
    "delivery_limit_trial",
]


@experiment
async def delivery_limit_trial(max_deliveries: int, *, lost_acks: float = 0.5, orders: int = 30,
                               poison: tuple[int, ...] = (7,), lease: float | str = "0.13s", seed: int = 7,
                               name: str | None = None) -> pd.DataFrame:
    """Run :func:`delivery_experiment` with the broker's delivery limit set to ``max_deliveries``.

    Payment's consumer is idempotent and loses a seeded share ``lost_acks`` of
    its acknowledgements (on every delivery, redeliveries included); the
    orders in ``poison`` can never be charged. ``lease``: 0.13 s; with
    section 4's 0.15 s some lease expiries fall due at the same instant as
    other timers, and which goes first then varies from run to run, so the
    trial would not give the same table twice. One row per order:
    ``deliveries`` (how often the broker handed it to payment), ``charges``
    (rows in payment's ledger), ``dead_lettered`` and ``delivery_count`` (the
    count the dead letter carries, 0 if none), with the trial's
    ``max_deliveries`` and ``lost_acks`` on every row.
    """
    if isinstance(max_deliveries, bool) or not isinstance(max_deliveries, int) or max_deliveries < 1:
        raise ConfigurationError(f"max_deliveries={max_deliveries!r}: give a whole number of deliveries, at least 1")
    result = await delivery_experiment(idempotent=True, crash_before_ack=lost_acks, orders=orders, poison=poison,
                                       max_deliveries=max_deliveries, lease=lease, seed=seed,
                                       name=name or f"delivery-limit-{max_deliveries}")
    log = result.delivery_log
    delivered = log[(log["group"] == "payment") & (log["event"] == "delivered")].groupby("message_id").size()
    charges = result.ledger.groupby("order_id").size()
    dead = result.dead_letters
    dead_count = dict(zip(dead["order_id"], dead["delivery_count"])) if len(dead) else {}
    ids = range(1, orders + 1)
    return pd.DataFrame({
        "order_id": list(ids),
        "poison": [i in poison for i in ids],
        "deliveries": [int(delivered.get(f"order-{i}", 0)) for i in ids],
        "charges": [int(charges.get(i, 0)) for i in ids],
        "dead_lettered": [i in dead_count for i in ids],
        "delivery_count": [int(dead_count.get(i, 0)) for i in ids],
        "max_deliveries": max_deliveries,
        "lost_acks": float(lost_acks),
    })
