"""The consumer side of the broker: poll, await, iterate, close (or crash)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from labsvc.core.clock import MonotonicClock, parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.messaging._message import ConsumerClosedError, Delivery

if TYPE_CHECKING:
    from labsvc.messaging._broker import Broker

__all__ = ["Consumer"]


class Consumer:
    """One member of a consumer group; get one from :meth:`Broker.subscribe`.

    Pull a delivery with :meth:`poll` (never waits), ``await`` :meth:`get`,
    or iterate with ``async for``. Acknowledge each delivery when its effect
    is done. Closing the consumer, by :meth:`close` or by leaving an
    ``async with`` / ``with`` block (an exception in it is a crash), gives
    every unacknowledged delivery back to the group, where another consumer
    gets it with ``redelivered=True``.

    >>> import asyncio
    >>> from labsvc.messaging import Broker
    >>> broker = Broker()
    >>> consumer = broker.subscribe("orders", "shipping")
    >>> _ = broker.publish_nowait("orders", {"order": 1})
    >>> async def handle():
    ...     async for delivery in consumer:
    ...         delivery.ack()
    ...         consumer.close()          # stops the loop
    ...     return broker.stats()["acked"].sum()
    >>> int(asyncio.run(handle()))
    1
    """

    def __init__(self, broker: Broker, topic: str, group: str, name: str, *, lease: float, prefetch: int | None) -> None:
        self.broker = broker
        self.topic = topic
        self.group = group
        self.name = name
        self.lease = lease
        self.prefetch = prefetch
        self.closed = False
        self._in_flight: dict[int, Delivery] = {}

    @property
    def in_flight(self) -> list[Delivery]:
        """Deliveries this consumer holds and has not acked or nacked yet."""
        self.broker.expire_leases()
        return list(self._in_flight.values())

    def poll(self, *, lease: float | str | None = None) -> Delivery | None:
        """The next delivery for this consumer, or None if nothing is ready now.

        ``lease`` overrides the consumer's lease for this one delivery.
        """
        self._check_open()
        if lease is None:
            seconds = self.lease
        else:
            try:
                seconds = parse_duration(lease, name="lease")
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(str(exc)) from None
            if seconds <= 0:
                raise ConfigurationError(f"lease={lease!r} must be more than zero, e.g. '30s'")
        return self.broker._deliver(self, seconds)

    async def get(self, timeout: float | str | None = None, *, lease: float | str | None = None) -> Delivery | None:
        """Wait for the next delivery; None if ``timeout`` passes first.

        ``timeout`` is real time spent waiting (like an HTTP long poll);
        None waits until a message arrives or the consumer is closed, which
        raises :class:`ConsumerClosedError`. With the real clock the wait
        also wakes when another consumer's lease runs out; with a fake
        clock, move time and call ``broker.tick()`` instead. ``lease``
        overrides the consumer's lease, as in :meth:`poll`.
        """
        self._check_open()
        loop = asyncio.get_running_loop()
        try:
            deadline = None if timeout is None else loop.time() + parse_duration(timeout, name="timeout")
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(str(exc)) from None
        g = self.broker._topics[self.topic][self.group]
        while True:
            delivery = self.poll(lease=lease)
            if delivery is not None:
                return delivery
            wait = None if deadline is None else deadline - loop.time()
            if wait is not None and wait <= 0:
                return None
            if isinstance(self.broker.clock, MonotonicClock):
                # The same time scale as the loop's, so a lease that runs out
                # while we wait is worth waking for.
                expiry = self.broker._next_lease_expiry()
                if expiry is not None:
                    until = max(0.0, expiry - self.broker.clock.now())
                    wait = until if wait is None else min(wait, until)
            waiter = loop.create_future()
            g.waiters.append(waiter)
            try:
                await asyncio.wait({waiter}, timeout=wait)
            finally:
                if not waiter.done():
                    waiter.cancel()
                    if waiter in g.waiters:
                        g.waiters.remove(waiter)
            self._check_open()

    def __aiter__(self) -> Consumer:
        return self

    async def __anext__(self) -> Delivery:
        """The next delivery; the loop ends when the consumer is closed."""
        try:
            delivery = await self.get()
        except ConsumerClosedError:
            raise StopAsyncIteration from None
        assert delivery is not None  # get() without a timeout only returns deliveries
        return delivery

    def close(self) -> int:
        """Leave the group; unacknowledged deliveries are requeued. Returns how many.

        This is also what a crash looks like to the broker. Closing twice is
        harmless.
        """
        if self.closed:
            return 0
        self.closed = True
        return self.broker._close_consumer(self)

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> Consumer:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def _check_open(self) -> None:
        if self.closed:
            raise ConsumerClosedError(
                f"consumer {self.name!r} of group {self.group!r} on topic {self.topic!r} is closed; "
                f"subscribe again with broker.subscribe({self.topic!r}, {self.group!r})"
            )

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"in_flight={len(self._in_flight)}"
        return f"Consumer({self.topic!r}, {self.group!r}, {self.name!r}, {state})"
