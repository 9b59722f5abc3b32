"""Asynchronous messaging: a small broker with RabbitMQ's delivery guarantees.

Publishers send to a **topic**; every **consumer group** declared on the topic
gets its own copy of each message, and inside a group each message goes to
one consumer at a time. Delivery is **at least once**:

- a consumer acknowledges (``ack``) a delivery when its effect is done, or
  rejects it (``nack``): requeued, or dead-lettered with ``requeue=False``;
- a delivery not acknowledged within its **lease** (30 s by default, on the
  broker's clock), or held by a consumer that closes or crashes, is handed
  out again with ``redelivered=True`` and a higher ``delivery_count``;
- after ``max_deliveries`` deliveries (20, RabbitMQ quorum queues' default)
  a message goes to the group's **dead letters** instead of looping forever;
- messages with the same **key** reach a group one at a time, in publish
  order, like a Kafka partition or RabbitMQ's single active consumer.

Because a message can arrive twice, consumers must be idempotent:
:class:`IdempotentConsumer` applies each message's effect once while its
process lives (the applied ids are in memory), and
:class:`DurableIdempotentConsumer` keeps them in an inbox table committed in
the same database transaction as the effect, so a crash and restart do not
apply it again.

Design choices:

- one module per idea: ``_broker`` (queues, leases, acks, stats), ``_consumer``
  (poll / await / iterate / close), ``_idempotent``, ``_inbox``, ``_backend`` (the
  :class:`BrokerBackend` contract and :class:`InMemoryBrokerClient`), ``_http``
  (:class:`HttpBrokerClient`), and :mod:`labsvc.messaging.broker_server`, the
  broker as a FastAPI service a learner can open and serve alone
  (``python -m labsvc serve labsvc.messaging.broker_server:app``);
- two backends, one contract: :class:`BrokerBackend` is async because a
  broker behind a network can only be awaited; the in-memory broker keeps its
  synchronous API and gets an async face, :class:`InMemoryBrokerClient`, which
  the broker service's routes also use;
- a group only receives messages published after it was declared (RabbitMQ
  queue semantics); a topic with no group drops messages and counts them as
  ``unrouted`` in :meth:`Broker.topic_stats`;
- payloads must be JSON-able and every delivery carries a fresh copy, as if
  it had crossed a wire;
- lease expiry is checked on every broker operation and by
  ``broker.tick()``; there is no background task to leak or stop.

>>> broker = Broker(max_deliveries=5)
>>> worker = broker.subscribe("orders", "billing")
>>> _ = broker.publish_nowait("orders", {"order": 42, "total": 9.5}, key="customer-7")
>>> delivery = worker.poll()
>>> delivery.payload["order"], delivery.redelivered
(42, False)
>>> worker.close()                      # crashed before acking: requeued
1
>>> again = broker.subscribe("orders", "billing").poll()
>>> again.payload["order"], again.redelivered, again.delivery_count
(42, True, 2)
>>> again.ack()
"""

from __future__ import annotations

from labsvc.messaging._backend import BrokerBackend, InMemoryBrokerClient, RemoteDelivery
from labsvc.messaging._broker import (
    DEFAULT_LEASE,
    DEFAULT_MAX_DELIVERIES,
    Broker,
    ConsumerClosedError,
    DeadLetter,
    Delivery,
    Message,
    UnknownDeliveryError,
    UnknownGroupError,
)
from labsvc.messaging._consumer import Consumer
from labsvc.messaging._http import HttpBrokerClient
from labsvc.messaging._idempotent import IdempotentConsumer
from labsvc.messaging._inbox import DurableIdempotentConsumer, inbox_table
from labsvc.messaging.broker_server import broker_app, broker_service

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_MAX_DELIVERIES",
    "Broker",
    "Consumer",
    "Message",
    "Delivery",
    "DeadLetter",
    "IdempotentConsumer",
    "DurableIdempotentConsumer",
    "inbox_table",
    "broker_service",
    "UnknownDeliveryError",
    "UnknownGroupError",
    "ConsumerClosedError",
    "broker_app",
    "BrokerBackend",
    "InMemoryBrokerClient",
    "HttpBrokerClient",
    "RemoteDelivery",
]
