"""The broker contract: :class:`BrokerBackend`, and the in-memory backend that implements it.

Two backends keep the same promises:

- :class:`InMemoryBrokerClient` wraps a :class:`~labsvc.messaging.Broker`
  in this process;
- :class:`~labsvc.messaging.HttpBrokerClient` talks to a broker service
  (:mod:`labsvc.messaging.broker_server`) over HTTP.

One contract test suite (``tests/contracts/test_broker_contract.py``) runs
against both, the way eventsourcing runs one recorder test case against
every database it supports.

**Why the protocol is async, and the in-memory broker is wrapped.** A
broker behind a network can only be awaited, so the shared shape is the one
the wire allows: publish, declare, *pull* deliveries under a lease, then ack
or nack them by delivery tag, each call awaited. The in-memory
:class:`~labsvc.messaging.Broker` keeps its synchronous API (``poll()``,
``delivery.ack()``, consumers that are objects), which notebook 07 teaches
and which a test drives without an event loop; :class:`InMemoryBrokerClient`
is its async face. The broker service's routes call an
:class:`InMemoryBrokerClient` too, so what the HTTP backend does is, by
construction, what the in-memory one does. Both hand out
:class:`RemoteDelivery` objects, whose ``ack()`` and ``nack()`` are awaited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from labsvc.core.errors import ConfigurationError
from labsvc.messaging._message import ConsumerClosedError, Message, UnknownDeliveryError, UnknownGroupError

if TYPE_CHECKING:
    import pandas as pd

    from labsvc.messaging._broker import Broker

__all__ = ["BrokerBackend", "RemoteDelivery", "InMemoryBrokerClient", "ERRORS", "MAX_PULL", "MAX_WAIT"]

#: How the contract's errors cross HTTP: (exception, status, problem type slug, title).
#: The broker service answers with these problem documents; the HTTP client raises them again.
ERRORS: list[tuple[type[Exception], int, str, str]] = [
    (UnknownDeliveryError, 404, "unknown-delivery", "Delivery not in flight"),
    (UnknownGroupError, 404, "unknown-group", "Consumer group not found"),
    (ConsumerClosedError, 409, "consumer-closed", "Consumer closed"),
    (ConfigurationError, 422, "invalid-argument", "Invalid argument"),
]

#: Most deliveries one pull may return, and longest a pull may wait (seconds).
MAX_PULL = 1000
MAX_WAIT = 60.0


@runtime_checkable
class BrokerBackend(Protocol):
    """What every broker backend promises: RabbitMQ's delivery guarantees, pulled over an API.

    **Topology.** Each consumer *group* on a topic is a queue of its own
    (a RabbitMQ queue bound to a fanout exchange): every group gets its own
    copy of each message published after the group was declared; inside a
    group, each message goes to one consumer at a time.

    **At least once.** A message stays with its group until a consumer acks
    it. A delivery that is not acked within its *lease*, or whose consumer
    leaves, or that is nacked with ``requeue=True``, goes back to its place
    in the queue and is delivered again with ``redelivered=True`` and a
    ``delivery_count`` one higher, under a new delivery tag. After
    ``max_deliveries`` deliveries it goes to the group's *dead letters*
    (reason ``"delivery_limit"``) instead; ``nack(requeue=False)``
    dead-letters at once (reason ``"rejected"``). Messages with the same
    ``key`` are in flight one at a time per group, in publish order.

    **Time.** Leases run on the broker's clock and are checked at the start
    of every operation, so a backend whose broker runs on a
    :class:`~labsvc.core.clock.FakeClock` shows expiry as soon as the clock
    is moved and any call is made.

    **Errors** are the same classes for every backend:
    :class:`~labsvc.messaging.UnknownDeliveryError` (tag not in flight),
    :class:`~labsvc.messaging.UnknownGroupError`, and
    :class:`~labsvc.core.errors.ConfigurationError` (an invalid argument).
    """

    async def publish(
        self,
        topic: str,
        payload: Any,
        *,
        key: str | int | None = None,
        headers: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> Message:
        """Publish a JSON-able ``payload`` to every group of ``topic``; returns the message as stored.

        ``message_id`` defaults to ``"msg-<n>"``; a topic without groups drops
        the message (counted as unrouted).
        """

    async def declare(self, topic: str, group: str) -> None:
        """Create group ``group`` on ``topic`` (idempotent); it gets messages published from now on."""

    async def pull(
        self,
        topic: str,
        group: str,
        *,
        consumer: str = "http",
        max: int = 1,
        lease: float | None = None,
        wait: float = 0.0,
    ) -> list[RemoteDelivery]:
        """Up to ``max`` deliveries for ``consumer`` of ``group`` (declared if needed), oldest first.

        Each is leased for ``lease`` seconds (the broker's lease if None).
        When nothing is ready, waits up to ``wait`` real seconds for a first
        delivery (a long poll); returns ``[]`` if none comes.
        """

    async def ack(self, tag: int) -> None:
        """The delivery ``tag`` is done; raises UnknownDeliveryError if it is not in flight."""

    async def nack(self, tag: int, *, requeue: bool = True) -> None:
        """Give delivery ``tag`` back (``requeue=True``) or dead-letter it at once (``requeue=False``)."""

    async def leave(self, topic: str, group: str, consumer: str) -> int:
        """``consumer`` leaves ``group``: its unacked deliveries are requeued at once; returns how many."""

    async def dead_letters(self, topic: str, group: str) -> list[dict[str, Any]]:
        """The group's dead letters, oldest first, as JSON-able dicts (``DeadLetter.to_dict()``)."""

    async def stats(self) -> pd.DataFrame:
        """One row per (topic, group): counters and queue depths (the columns of ``Broker.stats``)."""


@dataclass(eq=False)
class RemoteDelivery:
    """A delivery pulled through a :class:`BrokerBackend`; ``await delivery.ack()`` acknowledges it."""

    tag: int
    message: Message
    group: str
    consumer: str
    delivery_count: int
    redelivered: bool
    lease_seconds: float
    _client: BrokerBackend = field(repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], client: BrokerBackend) -> RemoteDelivery:
        """A delivery from its JSON-able shape (``Delivery.to_dict()``), acked through ``client``."""
        return cls(data["tag"], message_from_dict(data["message"]), data["group"], data["consumer"],
                   data["delivery_count"], data["redelivered"], data["lease_seconds"], client)

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def key(self) -> str | int | None:
        return self.message.key

    @property
    def payload(self) -> Any:
        return self.message.payload

    async def ack(self) -> None:
        await self._client.ack(self.tag)

    async def nack(self, requeue: bool = True) -> None:
        await self._client.nack(self.tag, requeue=requeue)

    def to_dict(self) -> dict[str, Any]:
        """The delivery as JSON-able data (the HTTP API's shape)."""
        return {
            "tag": self.tag, "message": self.message.to_dict(), "group": self.group, "consumer": self.consumer,
            "delivery_count": self.delivery_count, "redelivered": self.redelivered,
            "lease_seconds": self.lease_seconds,
        }


def message_from_dict(data: dict[str, Any]) -> Message:
    """A :class:`Message` from its JSON-able shape (``Message.to_dict()``)."""
    return Message(data["id"], data["topic"], data.get("key"), data.get("payload"),
                   data.get("headers") or {}, data.get("published_at", 0.0))


def _number(value: Any, name: str, low: float, high: float | None, example: str, *, strict_low: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float))
    if ok:
        ok = (value > low if strict_low else value >= low) and (high is None or value <= high)
    if not ok:
        bound = f"more than {low:g}" if strict_low else f"at least {low:g}"
        limit = f" and at most {high:g}" if high is not None else ""
        raise ConfigurationError(f"{name}={value!r} must be a number {bound}{limit} (e.g. {example})")
    return float(value)


class InMemoryBrokerClient:
    """The :class:`BrokerBackend` of a :class:`~labsvc.messaging.Broker` in this process.

    Mirrors :class:`~labsvc.messaging.HttpBrokerClient` call for call; the
    broker service's routes use it, so both backends behave alike.

    >>> import asyncio
    >>> from labsvc.messaging import Broker
    >>> bus = InMemoryBrokerClient(Broker())
    >>> async def demo():
    ...     await bus.declare("orders", "billing")
    ...     await bus.publish("orders", {"order": 1}, key="c-1")
    ...     [delivery] = await bus.pull("orders", "billing", consumer="worker-1")
    ...     await delivery.ack()
    ...     return delivery.payload, int((await bus.stats())["acked"].sum())
    >>> asyncio.run(demo())
    ({'order': 1}, 1)
    """

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def publish(
        self,
        topic: str,
        payload: Any,
        *,
        key: str | int | None = None,
        headers: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> Message:
        return await self.broker.publish(topic, payload, key=key, headers=headers, message_id=message_id)

    async def declare(self, topic: str, group: str) -> None:
        self.broker.declare(topic, group)

    async def pull(
        self,
        topic: str,
        group: str,
        *,
        consumer: str = "http",
        max: int = 1,
        lease: float | None = None,
        wait: float = 0.0,
    ) -> list[RemoteDelivery]:
        if isinstance(max, bool) or not isinstance(max, int) or not 1 <= max <= MAX_PULL:
            raise ConfigurationError(f"max={max!r} must be a whole number from 1 to {MAX_PULL}")
        if lease is not None:
            lease = _number(lease, "lease", 0, None, "30", strict_low=True)
        wait = _number(wait, "wait", 0, MAX_WAIT, "0.05")
        member = self.broker.consumer(topic, group, consumer)
        seconds = member.lease if lease is None else lease
        deliveries = []
        while len(deliveries) < max:
            delivery = member.poll(lease=seconds)
            if delivery is None:
                break
            deliveries.append(delivery)
        if not deliveries and wait > 0:
            # Long poll: wait for the first one, then return at once.
            delivery = await member.get(timeout=wait, lease=seconds)
            if delivery is not None:
                deliveries.append(delivery)
        return [RemoteDelivery.from_dict(d.to_dict(), self) for d in deliveries]

    async def ack(self, tag: int) -> None:
        self.broker.ack(int(tag))

    async def nack(self, tag: int, *, requeue: bool = True) -> None:
        self.broker.nack(int(tag), requeue=requeue)

    async def leave(self, topic: str, group: str, consumer: str) -> int:
        active = self.broker._group(topic, group).consumers.get(consumer)
        return active.close() if active is not None else 0

    async def dead_letters(self, topic: str, group: str) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.broker.dead_letters(topic, group)]

    async def stats(self) -> pd.DataFrame:
        return self.broker.stats()

    def __repr__(self) -> str:
        return f"InMemoryBrokerClient({self.broker!r})"
