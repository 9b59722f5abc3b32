"""The idempotent consumer: at-least-once delivery, exactly-once effect.

A broker that never loses a message must sometimes deliver one twice (the
consumer did the work and its acknowledgement was lost, or it crashed before
acknowledging). The consumer makes that harmless by remembering which
message ids it has already applied and skipping the effect when one comes
back. It remembers them in memory: that covers a lost ack, not a crash of
the process (see :class:`~labsvc.messaging.DurableIdempotentConsumer`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections import OrderedDict
from typing import Any, Callable

from labsvc.core.errors import ConfigurationError
from labsvc.messaging._message import Message

__all__ = ["IdempotentConsumer"]


def _message_of(item: Any) -> Message:
    # Accept a Delivery, a RemoteDelivery (both have .message) or a Message.
    message = getattr(item, "message", item)
    if not isinstance(getattr(message, "id", None), str):
        raise ConfigurationError(f"expected a Delivery or a Message with an id, got {type(item).__name__}")
    return message


class IdempotentConsumer:
    """Apply each message's effect once, however often the message arrives.

    ``effect(message)`` is what processing means (charge the card, reserve
    stock); it can be passed here or per call. The ids of applied messages
    are remembered; ``max_remembered`` bounds that memory (oldest forgotten
    first), at the price that a duplicate arriving after its id was
    forgotten is applied again (``forgotten`` counts the ids dropped).

    An id is remembered only after its effect returned, so an effect that
    raises is retried on redelivery. The ids live in this object's memory:
    a process that applied the effect and crashed before its ack forgets
    them, and applies the effect again when the message comes back. A
    service that must survive that keeps the ids in an inbox table committed
    with the effect: :class:`~labsvc.messaging.DurableIdempotentConsumer`.

    >>> from labsvc.messaging import Broker
    >>> broker = Broker()
    >>> consumer = broker.subscribe("payments", "ledger")
    >>> _ = broker.publish_nowait("payments", {"amount": 5}, message_id="pay-1")
    >>> _ = broker.publish_nowait("payments", {"amount": 5}, message_id="pay-1")  # a retried publish
    >>> total = []
    >>> ledger = IdempotentConsumer(lambda m: total.append(m.payload["amount"]))
    >>> for _ in range(2):
    ...     ledger.handle(consumer.poll())
    True
    False
    >>> total, ledger.applied, ledger.duplicates
    ([5], 1, 1)
    """

    def __init__(self, effect: Callable[[Message], Any] | None = None, *, max_remembered: int | None = None) -> None:
        if max_remembered is not None and (
            isinstance(max_remembered, bool) or not isinstance(max_remembered, int) or max_remembered < 1
        ):
            raise ConfigurationError(f"max_remembered={max_remembered!r} must be a whole number of at least 1, or None")
        self.effect = effect
        self.max_remembered = max_remembered
        self.applied = 0
        self.duplicates = 0
        self.forgotten = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._running: dict[str, asyncio.Future] = {}

    def seen(self, message_id: str) -> bool:
        """True if the effect of ``message_id`` was applied (and is still remembered)."""
        return message_id in self._seen

    __contains__ = seen

    def __len__(self) -> int:
        return len(self._seen)

    def process(self, item: Any, effect: Callable[[Message], Any] | None = None) -> bool:
        """Apply the effect unless this message's id was applied before.

        Returns True if the effect ran, False for a duplicate. Does not ack:
        acknowledge afterwards (or use :meth:`handle`). ``effect`` must be a
        plain function here; use :meth:`aprocess` for a coroutine.
        """
        message = _message_of(item)
        if message.id in self._seen:
            self.duplicates += 1
            return False
        result = self._effect(effect)(message)
        if inspect.isawaitable(result):
            close = getattr(result, "close", None)
            if close is not None:
                close()  # avoid "coroutine was never awaited"
            raise ConfigurationError("the effect is a coroutine function: use 'await consumer.aprocess(...)'")
        self._remember(message.id)
        return True

    async def aprocess(self, item: Any, effect: Callable[[Message], Any] | None = None) -> bool:
        """Like :meth:`process`, for an effect that may be a coroutine function.

        A second delivery of a message whose effect is still running (its
        lease expired mid-way and another task got it) waits for the first
        to finish instead of applying the effect a second time.
        """
        message = _message_of(item)
        while message.id in self._running:
            await asyncio.shield(self._running[message.id])
        if message.id in self._seen:
            self.duplicates += 1
            return False
        done = asyncio.get_running_loop().create_future()
        self._running[message.id] = done
        try:
            result = self._effect(effect)(message)
            if inspect.isawaitable(result):
                await result
            self._remember(message.id)
        finally:
            del self._running[message.id]
            done.set_result(None)
        return True

    def handle(self, delivery: Any, effect: Callable[[Message], Any] | None = None) -> bool:
        """:meth:`process` a broker :class:`Delivery`, then ack it (duplicates too).

        If the effect raises, nothing is acked and the exception propagates,
        so the delivery comes back later.
        """
        applied = self.process(delivery, effect)
        delivery.ack()
        return applied

    async def ahandle(self, delivery: Any, effect: Callable[[Message], Any] | None = None) -> bool:
        """:meth:`aprocess` then ack; awaits the ack of a remote (HTTP) delivery."""
        applied = await self.aprocess(delivery, effect)
        result = delivery.ack()
        if inspect.isawaitable(result):
            await result
        return applied

    def _effect(self, effect: Callable[[Message], Any] | None) -> Callable[[Message], Any]:
        chosen = effect if effect is not None else self.effect
        if chosen is None:
            # No effect at all: the consumer only deduplicates.
            return lambda message: None
        return chosen

    def _remember(self, message_id: str) -> None:
        self.applied += 1
        self._seen[message_id] = None
        if self.max_remembered is not None and len(self._seen) > self.max_remembered:
            self._seen.popitem(last=False)
            self.forgotten += 1

    def __repr__(self) -> str:
        return f"IdempotentConsumer(applied={self.applied}, duplicates={self.duplicates}, remembered={len(self)})"
