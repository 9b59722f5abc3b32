"""Timeouts: give up on a call that takes longer than a limit.

A timeout is the first line of defence: without one, a hung callee holds the
caller's connection, memory and (in a thread-per-request server) a thread
forever, and the hang spreads upstream. Every remote call should have one.

>>> import asyncio
>>> async def slow():
...     await asyncio.sleep(1)
>>> try:
...     asyncio.run(with_timeout(slow(), 0.01))
... except CallTimeoutError as exc:
...     print("gave up after", exc.seconds, "s")
gave up after 0.01 s

With the real clock (the default) the limit is enforced by
:func:`asyncio.timeout`. With any other clock, for example
:class:`~labsvc.core.clock.FakeClock` in tests, the limit is measured on that
clock: the call fails when the clock passes the deadline while the call is
waiting (a test moves the clock with ``clock.advance``), or when the call
returns after the deadline (for example because it awaited ``clock.sleep``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from labsvc.core.clock import Clock, MonotonicClock, parse_duration
from labsvc.core.errors import ConfigurationError, LabsvcError

from labsvc.resilience._guard import Attempt, Guard

__all__ = ["CallTimeoutError", "timeout", "with_timeout", "Timeout"]

T = TypeVar("T")

# How often, in real seconds, a timeout on an injected clock looks at that
# clock while the call is blocked. Only used with non-real clocks (tests).
_POLL_SECONDS = 0.001


class CallTimeoutError(LabsvcError, TimeoutError):
    """A call did not finish within its time limit.

    It is also a built-in :class:`TimeoutError`, so ``except TimeoutError``
    catches it along with asyncio's own timeouts. ``seconds`` is the limit.
    """

    def __init__(self, seconds: float, what: str = "call") -> None:
        self.seconds = seconds
        super().__init__(
            f"{what} did not finish within {seconds:g} s (timeout={seconds:g}); "
            f"raise the timeout if the callee is legitimately slow, or add a fallback"
        )


def _seconds(value: float | int | str, name: str) -> float:
    """``parse_duration`` that raises :class:`ConfigurationError` (shared by this package)."""
    try:
        return parse_duration(value, name=name)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(str(exc)) from None


def _is_real(clock: Clock) -> bool:
    # asyncio's loop time is also time.monotonic, so the event loop can
    # enforce deadlines on the real clock by itself.
    return isinstance(clock, MonotonicClock)


async def _expire_when_due(cm: asyncio.Timeout, clock: Clock, deadline: float) -> None:
    # A fake clock cannot wake anyone up, so look at it now and then.
    while clock.now() < deadline:
        await asyncio.sleep(_POLL_SECONDS)
    cm.reschedule(asyncio.get_running_loop().time())  # expire now: cancels the body


@asynccontextmanager
async def timeout(seconds: float | str, *, clock: Clock | None = None) -> AsyncIterator[None]:
    """Run the body of an ``async with`` block with a time limit.

    Raises :class:`CallTimeoutError` (naming the limit) when the body takes
    longer than ``seconds`` (a number or a string such as ``"250ms"``).

    >>> async def fetch(client):
    ...     async with timeout("200ms"):
    ...         return await client.get("http://catalog.svc/items")
    """
    limit = _seconds(seconds, "timeout")
    clock = clock if clock is not None else MonotonicClock()
    real = _is_real(clock)
    deadline = clock.now() + limit
    cm = asyncio.timeout(limit if real else None)
    watchdog = None if real else asyncio.create_task(_expire_when_due(cm, clock, deadline))
    try:
        async with cm:
            yield
    except TimeoutError:
        # Only our own expiry becomes CallTimeoutError; a TimeoutError raised
        # by the body itself (an inner, shorter timeout) passes through.
        if cm.expired():
            raise CallTimeoutError(limit) from None
        raise
    finally:
        if watchdog is not None:
            watchdog.cancel()
    # On a fake clock a body can jump past the deadline without ever letting
    # the watchdog run (FakeClock.sleep returns at once): judge it at the end.
    if not real and clock.now() > deadline:
        raise CallTimeoutError(limit)


async def with_timeout(awaitable: Awaitable[T], seconds: float | str, *, clock: Clock | None = None) -> T:
    """Await ``awaitable`` with a time limit; raise :class:`CallTimeoutError` past it.

    >>> async def main(client):
    ...     return await with_timeout(client.get("http://catalog.svc/items"), 0.2)
    """
    try:
        limit = _seconds(seconds, "timeout")
    except ConfigurationError:
        if inspect.iscoroutine(awaitable):
            awaitable.close()  # avoid a "coroutine was never awaited" warning
        raise
    async with timeout(limit, clock=clock):
        return await awaitable


class Timeout(Guard):
    """A reusable time limit with counters, a :class:`~labsvc.resilience.Guard` like the other patterns.

    resilience4j calls it a TimeLimiter. ``await limit.call(fn, *args)``
    raises :class:`CallTimeoutError` when the call takes longer than
    ``seconds``; in a :func:`~labsvc.resilience.stack` it limits each call
    that reaches it (inside a retry: each attempt).

    >>> limit = Timeout("200ms")
    >>> async def main(client):
    ...     return await limit.call(client.get, "http://catalog.svc/items")

    ``calls`` and ``timeouts`` count what happened.
    """

    def __init__(self, seconds: float | str, *, clock: Clock | None = None) -> None:
        self.seconds = _seconds(seconds, "timeout")
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.calls = 0
        self.timeouts = 0

    async def _execute(self, attempt: Attempt) -> Any:
        """Make the call within the limit; raise :class:`CallTimeoutError` past it."""
        self.calls += 1
        try:
            async with timeout(self.seconds, clock=self.clock):
                return await attempt()
        except CallTimeoutError:
            self.timeouts += 1
            raise

    def __repr__(self) -> str:
        return f"Timeout({self.seconds:g}s, calls={self.calls}, timeouts={self.timeouts})"
