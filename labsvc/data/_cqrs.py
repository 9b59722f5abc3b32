"""CQRS: the order service takes commands, a separate service answers queries.

**Command side** (``orders``, :func:`order_command_app`): places, ships and
cancels orders in its own database. Each change is also an *event*
(``OrderPlaced``, ``OrderShipped``, ``OrderCancelled``) that carries the
order's new state and the time it was committed. Two ways to get the
events to the broker:

- ``publish="direct"``: commit, then publish over HTTP. Two writes to two
  systems with no transaction around them (a *dual write*): when the broker
  is down, the order is saved but its event is lost, and the caller gets an
  error for an order that exists;
- ``publish="outbox"`` (the *transactional outbox*): the event is written
  to an ``outbox`` table in the *same* transaction as the order, and a
  relay (``POST /outbox/relay``) publishes pending rows later, retrying
  until the broker takes them. Nothing is lost, placing an order does not
  need the broker, and the outbox doubles as an event feed
  (``GET /events``) from which a read model can be rebuilt.

**Query side** (``order-history``, :func:`order_history_app`): its own
database holds ``order_view``, a table shaped for the query ("orders with
customer name and status"), projected from the events by an idempotent
consumer (``POST /projection/poll``): each event id is applied once (the
:class:`~labsvc.messaging.IdempotentConsumer` in memory, and an ``inbox``
table written in the same transaction as the view, which also survives a
restart), and a view row only moves to a newer order version. The inbox
records when each event was committed on the command side and when it
became visible here: the read model's *lag*.

:class:`CqrsShop` wires both to a broker on a network, with two
:class:`~labsvc.data.Pump` loops driving the relay and the projector.
"""

from __future__ import annotations

from ._cqrs_command import EVENT_TYPES, ORDER_STATUSES, PUBLISH_MODES, PlaceOrder, order_command_app
from ._cqrs_experiment import Convergence, CqrsShop, OutboxResult, lag_summary, outbox_experiment
from ._cqrs_query import order_history_app

__all__ = [
    "PUBLISH_MODES", "ORDER_STATUSES", "EVENT_TYPES", "order_command_app", "order_history_app", "CqrsShop",
    "Convergence", "lag_summary", "outbox_experiment", "OutboxResult", "PlaceOrder",
]
