"""What travels through the broker: messages, deliveries, dead letters, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labsvc.core.errors import LabsvcError

if TYPE_CHECKING:
    from labsvc.messaging._broker import Broker

__all__ = [
    "Message",
    "Delivery",
    "DeadLetter",
    "UnknownDeliveryError",
    "UnknownGroupError",
    "ConsumerClosedError",
]


class UnknownDeliveryError(LabsvcError, LookupError):
    """A delivery tag is not in flight: already acked or nacked, or its lease
    expired (or its consumer closed) and the message went back to the queue."""


class UnknownGroupError(LabsvcError, LookupError):
    """No consumer group of that name exists on that topic."""


class ConsumerClosedError(LabsvcError, RuntimeError):
    """The consumer was closed; subscribe again to get a new one."""


@dataclass(frozen=True)
class Message:
    """A published message, as a consumer sees it.

    ``payload`` and ``headers`` are fresh copies on every delivery (as if
    they had crossed a wire), so a consumer that changes them and crashes
    does not change what the next consumer gets.
    """

    id: str
    topic: str
    key: str | int | None
    payload: Any
    headers: dict[str, Any]
    published_at: float

    def to_dict(self) -> dict[str, Any]:
        """The message as JSON-able data (the HTTP API's shape)."""
        return {
            "id": self.id, "topic": self.topic, "key": self.key, "payload": self.payload,
            "headers": self.headers, "published_at": self.published_at,
        }


@dataclass(eq=False)
class Delivery:
    """One hand-over of a message to a consumer, under a lease.

    Acknowledge it with :meth:`ack` once its effect is done, or give it back
    with :meth:`nack`. If neither happens before ``lease_expires_at`` (on
    the broker's clock), or the consumer closes, the message is delivered
    again with ``redelivered=True`` and a higher ``delivery_count``.

    >>> from labsvc.messaging import Broker
    >>> broker = Broker()
    >>> consumer = broker.subscribe("orders", "billing")
    >>> _ = broker.publish_nowait("orders", {"order": 1})
    >>> delivery = consumer.poll()
    >>> delivery.payload, delivery.delivery_count, delivery.redelivered
    ({'order': 1}, 1, False)
    >>> delivery.ack()
    """

    tag: int
    message: Message
    group: str
    consumer: str
    delivery_count: int
    delivered_at: float
    lease_expires_at: float
    _broker: Broker = field(repr=False)

    @property
    def redelivered(self) -> bool:
        """True when this message was handed out before (RabbitMQ's flag)."""
        return self.delivery_count > 1

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def topic(self) -> str:
        return self.message.topic

    @property
    def key(self) -> str | int | None:
        return self.message.key

    @property
    def payload(self) -> Any:
        return self.message.payload

    @property
    def headers(self) -> dict[str, Any]:
        return self.message.headers

    def ack(self) -> None:
        """Done: the broker forgets the message for this group."""
        self._broker.ack(self.tag)

    def nack(self, requeue: bool = True) -> None:
        """Failed: back to the queue (``requeue=True``) or to the dead letters."""
        self._broker.nack(self.tag, requeue=requeue)

    def to_dict(self) -> dict[str, Any]:
        """The delivery as JSON-able data (the HTTP API's shape)."""
        return {
            "tag": self.tag, "message": self.message.to_dict(), "group": self.group,
            "consumer": self.consumer, "delivery_count": self.delivery_count,
            "redelivered": self.redelivered, "lease_seconds": self.lease_expires_at - self.delivered_at,
        }


@dataclass(frozen=True)
class DeadLetter:
    """A message a group gave up on, and why.

    ``reason`` is ``"rejected"`` (nacked without requeue) or
    ``"delivery_limit"`` (delivered ``max_deliveries`` times).
    """

    message: Message
    group: str
    reason: str
    delivery_count: int
    dead_lettered_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message.to_dict(), "group": self.group, "reason": self.reason,
            "delivery_count": self.delivery_count, "dead_lettered_at": self.dead_lettered_at,
        }
