"""Bulkheads: cap how many calls to one callee are in flight at once.

Named after the walls that keep one flooded compartment from sinking a ship:
if calls to a slow payment service can take at most 10 of the caller's
slots, the other slots keep serving catalog and order requests. A call that
finds every slot taken waits up to ``max_wait_duration`` for one, then is
rejected with :class:`BulkheadFull` (with the default wait of 0 it is
rejected at once, which is resilience4j's default too).

>>> bulkhead = Bulkhead("payments", max_concurrent_calls=10)
>>> async def charge(client, amount):
...     async with bulkhead:
...         return await client.post("http://payment.svc/charges", json={"amount": amount})
"""

from __future__ import annotations

import asyncio
from typing import Any

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError, LabsvcError

from labsvc.resilience._guard import Attempt, Guard
from labsvc.resilience.timeout import CallTimeoutError, _seconds, timeout

__all__ = ["Bulkhead", "BulkheadFull", "DEFAULT_MAX_CONCURRENT_CALLS", "DEFAULT_MAX_WAIT_DURATION"]

# resilience4j's SemaphoreBulkhead defaults.
DEFAULT_MAX_CONCURRENT_CALLS = 25
DEFAULT_MAX_WAIT_DURATION = 0.0


class BulkheadFull(LabsvcError, RuntimeError):
    """Every slot of the bulkhead was taken and none freed within the wait."""

    def __init__(self, name: str, max_concurrent_calls: int, max_wait_duration: float) -> None:
        self.name = name
        super().__init__(
            f"bulkhead {name!r} is full: {max_concurrent_calls} calls in flight "
            f"(max_concurrent_calls={max_concurrent_calls}) and no slot freed within "
            f"max_wait_duration={max_wait_duration:g} s; raise either, or add a fallback"
        )


class Bulkhead(Guard):
    """A limit of ``max_concurrent_calls`` calls in flight, with an optional wait.

    Use ``async with bulkhead:``, :meth:`call` or :meth:`decorate`.
    ``admitted``, ``rejected``, ``in_flight``, ``waiting`` and
    ``max_in_flight`` count what happened; :meth:`stats` returns them together.
    """

    def __init__(
        self,
        name: str = "bulkhead",
        max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS,
        max_wait_duration: float | str = DEFAULT_MAX_WAIT_DURATION,
        *,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(max_concurrent_calls, bool) or not isinstance(max_concurrent_calls, int) \
                or max_concurrent_calls < 1:
            raise ConfigurationError(
                f"max_concurrent_calls={max_concurrent_calls!r} must be a whole number of at least 1, e.g. 25"
            )
        self.name = name
        self.max_concurrent_calls = max_concurrent_calls
        self.max_wait_duration = _seconds(max_wait_duration, "max_wait_duration")
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self._slots = asyncio.Semaphore(max_concurrent_calls)
        self.admitted = self.rejected = self.in_flight = self.waiting = self.max_in_flight = 0

    async def acquire(self) -> None:
        """Take a slot, waiting up to ``max_wait_duration``; raise :class:`BulkheadFull` if none."""
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: returns without waiting
        elif self.max_wait_duration == 0:
            self._reject()
        else:
            self.waiting += 1
            got_slot = False
            try:
                async with timeout(self.max_wait_duration, clock=self.clock):
                    await self._slots.acquire()
                    got_slot = True
            except CallTimeoutError:
                # On a fake clock the limit can be judged after the slot came;
                # a slot we hold is kept rather than leaked.
                if not got_slot:
                    self._reject()
            finally:
                self.waiting -= 1
        self.admitted += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _reject(self) -> None:
        self.rejected += 1
        raise BulkheadFull(self.name, self.max_concurrent_calls, self.max_wait_duration)

    def release(self) -> None:
        """Give a slot back (call once for each successful :meth:`acquire`)."""
        self.in_flight -= 1
        self._slots.release()

    async def __aenter__(self) -> Bulkhead:
        await self.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    async def _execute(self, attempt: Attempt) -> Any:
        """Make the call inside a slot (:class:`BulkheadFull` when none frees in time)."""
        async with self:
            return await attempt()

    @property
    def available(self) -> int:
        """Free slots right now."""
        return self.max_concurrent_calls - self.in_flight

    def stats(self) -> dict[str, int]:
        """The counters in one dict (e.g. for a DataFrame row per experiment)."""
        return {
            "admitted": self.admitted,
            "rejected": self.rejected,
            "in_flight": self.in_flight,
            "waiting": self.waiting,
            "max_in_flight": self.max_in_flight,
        }

    def __repr__(self) -> str:
        return (f"Bulkhead({self.name!r}, max_concurrent_calls={self.max_concurrent_calls}, "
                f"in_flight={self.in_flight}, admitted={self.admitted}, rejected={self.rejected})")
