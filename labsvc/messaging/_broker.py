"""The broker: topics, consumer groups, leases, acknowledgements, dead letters.

One :class:`Broker` holds every topic. Each consumer group bound to a topic
is a queue of its own (a RabbitMQ queue bound to a fanout exchange, or a
Kafka consumer group): every group gets every message published after it was
declared, and inside a group each message goes to one consumer at a time.
The consumer side lives in :mod:`labsvc.messaging._consumer`.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import deque
from typing import TYPE_CHECKING, Any

import pandas as pd

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.durations import positive_seconds
from labsvc.core.errors import ConfigurationError, check_name
from labsvc.messaging._message import ConsumerClosedError, DeadLetter, Delivery, Message, UnknownDeliveryError, UnknownGroupError
from labsvc.messaging._queue import STATS_COLUMNS, Group, Pending

if TYPE_CHECKING:
    from labsvc.messaging._consumer import Consumer

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_MAX_DELIVERIES",
    "Broker",
    "Message",
    "Delivery",
    "DeadLetter",
    "UnknownDeliveryError",
    "UnknownGroupError",
    "ConsumerClosedError",
]

#: A delivery not acknowledged within this many seconds is handed out again
#: (Amazon SQS's default visibility timeout).
DEFAULT_LEASE = 30.0
#: Deliveries of one message before it is dead-lettered (RabbitMQ quorum
#: queues' ``delivery-limit`` default since 4.0).
DEFAULT_MAX_DELIVERIES = 20

LOG_COLUMNS = [
    "time", "event", "topic", "group", "consumer", "message_id",
    "key", "tag", "delivery_count", "redelivered", "reason",
]




def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"the {what} must be JSON-able (dicts, lists, str, numbers, bool, None): {exc}"
        ) from None


class Broker:
    """An in-process message broker with RabbitMQ's delivery guarantees.

    At-least-once delivery: a message stays with its group until a consumer
    acknowledges it. Unacknowledged deliveries come back (``redelivered``)
    when their lease expires or their consumer closes; a message delivered
    ``max_deliveries`` times, or nacked without requeue, goes to the group's
    dead letters. Messages with the same ``key`` are handed out one at a
    time, in publish order, within each group.

    Time comes from ``clock``: leases are checked on every broker operation
    and by :meth:`expire_leases`, so tests drive them with a ``FakeClock``.
    Use a broker from one event loop (it is not thread-safe).

    >>> broker = Broker(max_deliveries=3)
    >>> broker.declare("orders", "billing")      # a group only sees later messages
    >>> msg = broker.publish_nowait("orders", {"order": 7}, key="customer-1")
    >>> consumer = broker.subscribe("orders", "billing")
    >>> delivery = consumer.poll()
    >>> delivery.id == msg.id
    True
    >>> delivery.ack()
    >>> broker.stats()[["topic", "group", "published", "acked"]].to_dict("records")
    [{'topic': 'orders', 'group': 'billing', 'published': 1, 'acked': 1}]
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        lease: float | str = DEFAULT_LEASE,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        log_size: int = 100_000,
    ) -> None:
        if isinstance(max_deliveries, bool) or not isinstance(max_deliveries, int) or max_deliveries < 1:
            raise ConfigurationError(
                f"max_deliveries={max_deliveries!r} must be a whole number of at least 1 "
                f"(RabbitMQ's default is {DEFAULT_MAX_DELIVERIES})"
            )
        if isinstance(log_size, bool) or not isinstance(log_size, int) or log_size < 0:
            raise ConfigurationError(f"log_size={log_size!r} must be a whole number of rows, 0 or more")
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.lease = positive_seconds(lease, "lease")
        self.max_deliveries = max_deliveries
        self._topics: dict[str, dict[str, Group]] = {}
        self._unrouted: dict[str, int] = {}
        self._owner: dict[int, Group] = {}  # delivery tag -> group holding it
        self._leases: list[tuple[float, int]] = []  # (expires_at, tag), lazily pruned
        self._tags = itertools.count(1)
        self._seq = itertools.count(1)
        self._log: deque[tuple] = deque(maxlen=log_size)

    # -- topology --------------------------------------------------------

    def declare(self, topic: str, group: str) -> None:
        """Create consumer group ``group`` on ``topic`` (idempotent).

        A group receives the messages published from now on, like a RabbitMQ
        queue bound to an exchange: declare groups before publishing.
        """
        self._group(topic, group, create=True)

    def subscribe(
        self,
        topic: str,
        group: str,
        consumer: str | None = None,
        *,
        lease: float | str | None = None,
        prefetch: int | None = None,
    ) -> Consumer:
        """A new consumer in ``group`` (declared if needed).

        ``consumer`` names it (default ``"<group>-<n>"``); the name must not be
        in use in that group, but may be reused after a close (a restart).
        ``lease`` overrides the broker's lease for its deliveries;
        ``prefetch`` caps how many unacknowledged deliveries it may hold
        (RabbitMQ's ``basic.qos``; None means no cap).

        >>> broker = Broker()
        >>> broker.subscribe("orders", "billing", "billing-a", prefetch=10).name
        'billing-a'
        """
        from labsvc.messaging._consumer import Consumer

        g = self._group(topic, group, create=True)
        if consumer is None:
            consumer = next(f"{group}-{n}" for n in itertools.count(1) if f"{group}-{n}" not in g.consumers)
        check_name(consumer, "consumer", 'orders')
        if consumer in g.consumers:
            raise ConfigurationError(
                f"consumer {consumer!r} is already active in group {group!r} of topic {topic!r}; "
                f"pick another name or close the old one first"
            )
        if prefetch is not None and (isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1):
            raise ConfigurationError(f"prefetch={prefetch!r} must be a whole number of at least 1, or None")
        c = Consumer(self, topic, group, consumer,
                     lease=self.lease if lease is None else positive_seconds(lease, "lease"), prefetch=prefetch)
        g.consumers[consumer] = c
        return c

    def consumer(self, topic: str, group: str, name: str, **kw: Any) -> Consumer:
        """The active consumer ``name`` of ``group``, subscribed if there is none."""
        g = self._group(topic, group, create=True)
        existing = g.consumers.get(name)
        return existing if existing is not None else self.subscribe(topic, group, name, **kw)

    def topics(self) -> list[str]:
        """Names of the topics seen so far (published to or declared)."""
        return sorted(set(self._topics) | set(self._unrouted))

    def groups(self, topic: str) -> list[str]:
        """Names of the consumer groups on ``topic``."""
        return sorted(self._topics.get(topic, {}))

    # -- publishing ------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: Any,
        *,
        key: str | int | None = None,
        headers: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> Message:
        """Publish ``payload`` to every group of ``topic``; see :meth:`publish_nowait`."""
        return self.publish_nowait(topic, payload, key=key, headers=headers, message_id=message_id)

    def publish_nowait(
        self,
        topic: str,
        payload: Any,
        *,
        key: str | int | None = None,
        headers: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> Message:
        """Publish without awaiting (the in-process broker never blocks).

        ``payload`` and ``headers`` must be JSON-able. ``key`` orders
        messages: within a group, messages with the same key are delivered
        one at a time in publish order. ``message_id`` defaults to a new
        ``"msg-<n>"``; a publisher that retries can pass its own so that
        consumers recognise the duplicate. A topic with no groups drops the
        message (counted as unrouted, as RabbitMQ does).

        >>> broker = Broker()
        >>> broker.publish_nowait("orders", {"n": 1}, key="c-1").key
        'c-1'
        """
        check_name(topic, "topic", 'orders')
        if key is not None and (isinstance(key, bool) or not isinstance(key, (str, int))):
            raise ConfigurationError(f"key={key!r} must be a str, an int or None (e.g. the customer id)")
        if headers is not None and not (isinstance(headers, dict) and all(isinstance(k, str) for k in headers)):
            raise ConfigurationError(f"headers must be a dict with str keys, got {headers!r}")
        if message_id is not None and (not isinstance(message_id, str) or not message_id):
            raise ConfigurationError(f"message_id={message_id!r} must be a non-empty str")
        body = _json(payload, "payload")
        head = _json(headers or {}, "headers")
        self._expire_due()
        seq = next(self._seq)
        now = self.clock.now()
        mid = message_id or f"msg-{seq}"
        groups = self._topics.get(topic)
        self._log.append((now, "published", topic, None, None, mid, key, None, 0, False, None))
        if not groups:
            self._unrouted[topic] = self._unrouted.get(topic, 0) + 1
            self._log.append((now, "unrouted", topic, None, None, mid, key, None, 0, False, "no group on topic"))
        for g in (groups or {}).values():
            g.enqueue(Pending(seq, mid, topic, key, body, head, now))
            g.counts["published"] += 1
            g.wake()
        return Message(mid, topic, key, json.loads(body), json.loads(head), now)

    # -- acknowledgements ------------------------------------------------

    def ack(self, tag: int) -> None:
        """Acknowledge delivery ``tag``: its message is done for that group."""
        self._expire_due()
        g, delivery, p = self._take_in_flight(tag, "ack")
        g.counts["acked"] += 1
        self._record("acked", g, delivery)
        g.release(p.key)
        g.wake()

    def nack(self, tag: int, *, requeue: bool = True) -> None:
        """Reject delivery ``tag``.

        ``requeue=True`` puts the message back in its place in the queue
        (dead-lettered instead once it has been delivered ``max_deliveries``
        times); ``requeue=False`` dead-letters it at once.
        """
        self._expire_due()
        g, delivery, p = self._take_in_flight(tag, "nack")
        g.counts["nacked"] += 1
        self._record("nacked", g, delivery, "requeue" if requeue else "reject")
        if requeue:
            self._give_back(g, delivery, p, "nacked")
        else:
            self._dead_letter(g, p, "rejected")
        g.wake()

    def expire_leases(self) -> int:
        """Requeue every delivery whose lease has expired; returns how many.

        Every broker operation does this first; call it (or :meth:`tick`)
        after moving a fake clock to see expiry without another operation.
        """
        return self._expire_due()

    tick = expire_leases

    # -- dead letters ----------------------------------------------------

    def dead_letters(self, topic: str, group: str) -> list[DeadLetter]:
        """The dead-letter queue of ``group`` on ``topic``, oldest first."""
        return list(self._group(topic, group).dead)

    def redrive(self, topic: str, group: str) -> int:
        """Move every dead letter of ``group`` back to its queue, with a fresh delivery count.

        What an operator does after fixing the bug that poisoned them.
        Returns how many messages were moved.
        """
        self._expire_due()
        g = self._group(topic, group)
        letters, g.dead = g.dead, []
        for d in letters:
            m = d.message
            g.enqueue(Pending(next(self._seq), m.id, m.topic, m.key, _json(m.payload, "payload"),
                               _json(m.headers, "headers"), m.published_at))
        g.wake()
        return len(letters)

    # -- observing -------------------------------------------------------

    def stats(self) -> pd.DataFrame:
        """One row per (topic, group): counters and the current queue depths.

        ``published`` counts messages routed to the group; ``redelivered``
        counts deliveries after the first; ``ready`` and ``in_flight`` are
        the queue now.
        """
        self._expire_due()
        rows = []
        for topic in sorted(self._topics):
            for name, g in sorted(self._topics[topic].items()):
                rows.append({"topic": topic, "group": name, **g.counts, "ready": g.ready,
                             "in_flight": len(g.in_flight), "dead_letters": len(g.dead),
                             "consumers": len(g.consumers)})
        return pd.DataFrame(rows, columns=list(STATS_COLUMNS))

    def topic_stats(self) -> pd.DataFrame:
        """One row per topic: groups, and messages dropped for want of a group."""
        rows = [{"topic": t, "groups": len(self._topics.get(t, {})), "unrouted": self._unrouted.get(t, 0)}
                for t in self.topics()]
        return pd.DataFrame(rows, columns=["topic", "groups", "unrouted"])

    @property
    def delivery_log(self) -> pd.DataFrame:
        """Every publish, delivery, ack, nack, expiry, requeue and dead-lettering.

        One row per event with the broker-clock ``time``; the newest
        ``log_size`` rows are kept.
        """
        return pd.DataFrame(list(self._log), columns=LOG_COLUMNS)

    def close(self) -> None:
        """Close every consumer (their unacknowledged deliveries are requeued)."""
        for groups in self._topics.values():
            for g in groups.values():
                for c in list(g.consumers.values()):
                    c.close()

    def __repr__(self) -> str:
        groups = sum(len(gs) for gs in self._topics.values())
        return f"Broker(topics={len(self.topics())}, groups={groups}, in_flight={len(self._owner)})"

    # -- internals used by Consumer --------------------------------------

    def _group(self, topic: str, group: str, *, create: bool = False) -> Group:
        check_name(topic, "topic", 'orders')
        check_name(group, "group", 'orders')
        groups = self._topics.get(topic)
        if groups is None or group not in groups:
            if not create:
                known = ", ".join(f"{t}/{g}" for t in sorted(self._topics) for g in sorted(self._topics[t]))
                raise UnknownGroupError(
                    f"no group {group!r} on topic {topic!r}; declare it with broker.declare({topic!r}, {group!r}) "
                    f"or subscribe (known: {known or 'none'})"
                )
            groups = self._topics.setdefault(topic, {})
            groups[group] = Group(topic, group)
        return groups[group]

    def _deliver(self, consumer: Consumer, lease: float) -> Delivery | None:
        """Hand the next eligible message of the consumer's group to it."""
        self._expire_due()
        g = self._topics[consumer.topic][consumer.group]
        if consumer.prefetch is not None and len(consumer._in_flight) >= consumer.prefetch:
            return None
        p = g.take()
        if p is None:
            return None
        p.deliveries += 1
        now = self.clock.now()
        tag = next(self._tags)
        d = Delivery(tag, p.message(), g.name, consumer.name, p.deliveries, now, now + lease, self)
        g.in_flight[tag] = (d, p, consumer)
        self._owner[tag] = g
        consumer._in_flight[tag] = d
        heapq.heappush(self._leases, (d.lease_expires_at, tag))
        g.counts["delivered"] += 1
        if d.redelivered:
            g.counts["redelivered"] += 1
        self._record("delivered", g, d)
        return d

    def _close_consumer(self, consumer: Consumer) -> int:
        """Requeue a closing consumer's deliveries, as RabbitMQ does when a channel closes."""
        g = self._topics[consumer.topic][consumer.group]
        if g.consumers.get(consumer.name) is consumer:
            del g.consumers[consumer.name]
        tags = list(consumer._in_flight)
        for tag in tags:
            g2, delivery, p = self._take_in_flight(tag, "close")
            self._give_back(g2, delivery, p, "consumer_closed")
        g.wake()  # also wakes the closing consumer's own waiters
        return len(tags)

    def _take_in_flight(self, tag: int, action: str) -> tuple[Group, Delivery, Pending]:
        g = self._owner.pop(tag, None) if isinstance(tag, int) and not isinstance(tag, bool) else None
        if g is None:
            raise UnknownDeliveryError(
                f"cannot {action} delivery tag {tag!r}: it is not in flight. It was already acked or "
                f"nacked, or its lease expired (or its consumer closed) and the message was requeued; "
                f"a redelivery will carry a new tag"
            )
        delivery, p, consumer = g.in_flight.pop(tag)
        consumer._in_flight.pop(tag, None)
        return g, delivery, p

    def _give_back(self, g: Group, delivery: Delivery, p: Pending, reason: str) -> None:
        if p.deliveries >= self.max_deliveries:
            self._dead_letter(g, p, "delivery_limit")
        else:
            g.requeue(p)
            g.counts["requeued"] += 1
            self._record("requeued", g, delivery, reason)

    def _dead_letter(self, g: Group, p: Pending, reason: str) -> None:
        now = self.clock.now()
        g.dead.append(DeadLetter(p.message(), g.name, reason, p.deliveries, now))
        g.counts["dead_lettered"] += 1
        g.release(p.key)
        self._log.append((now, "dead_lettered", g.topic, g.name, None, p.id, p.key, None,
                          p.deliveries, p.deliveries > 1, reason))

    def _expire_due(self) -> int:
        if not self._leases:
            return 0
        now = self.clock.now()
        expired = 0
        while self._leases and self._leases[0][0] <= now:
            _, tag = heapq.heappop(self._leases)
            if tag not in self._owner:
                continue  # acked or nacked before its lease ran out
            g, delivery, p = self._take_in_flight(tag, "expire")
            g.counts["expired"] += 1
            self._record("expired", g, delivery, "lease_expired")
            self._give_back(g, delivery, p, "lease_expired")
            g.wake()
            expired += 1
        return expired

    def _next_lease_expiry(self) -> float | None:
        """Broker-clock time of the earliest lease still running, if any."""
        while self._leases and self._leases[0][1] not in self._owner:
            heapq.heappop(self._leases)
        return self._leases[0][0] if self._leases else None

    def _record(self, event: str, g: Group, d: Delivery, reason: str | None = None) -> None:
        self._log.append((self.clock.now(), event, g.topic, g.name, d.consumer, d.message.id,
                          d.message.key, d.tag, d.delivery_count, d.redelivered, reason))
