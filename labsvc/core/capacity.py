"""Capacity: how much work an instance can do at once, and how long each request takes it.

Without a capacity model an in-process handler costs no time on the
network's clock, however many requests arrive together. With one
(``net.capacity("catalog", service_time="5ms", workers=2)``) each instance
has ``workers`` slots: a request takes a free slot for a service time drawn
from ``service_time`` (seeded), or waits in a first-come, first-served
queue until one frees up. So a slow or overloaded instance slows only what
it serves, latency bends upward as utilisation nears 1 (the knee of the
curve), and queueing is something to measure:

- the call log's ``queued`` and ``service`` columns: each request's wait
  for a slot and its service time;
- :meth:`Slots.occupancy`: requests in the instance (waiting or served)
  over time, for queue length, utilisation and Little's law
  (:func:`time_average`).

The model is the classic one of queueing theory (an M/M/c queue when
arrivals are Poisson and service times exponential), so textbook results
hold: one slot at utilisation 0.8 waits on average 0.8 / (mu - lambda).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Callable, Sequence

from labsvc.core.errors import ConfigurationError
from labsvc.core.faults import Latency, LatencyLike, as_latency

__all__ = ["Capacity", "Slots", "time_average"]


@dataclass(frozen=True)
class Capacity:
    """``workers`` slots, each request holding one for a draw of ``service_time``."""

    service_time: Latency
    workers: int = 1

    @classmethod
    def of(cls, service_time: LatencyLike, workers: int = 1) -> "Capacity":
        latency = as_latency(service_time)
        if latency is None:
            raise ConfigurationError("service_time is required, e.g. '5ms' or labsvc.Exponential('5ms')")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigurationError(f"workers={workers!r}: an instance needs at least 1 worker slot (an int)")
        return cls(latency, workers)


class Slots:
    """The worker slots of one instance: a FIFO queue in front of ``workers`` servers.

    ``now`` is the network's clock; every arrival and departure is noted, so
    the number of requests in the instance is known at every moment.
    """

    def __init__(self, workers: int, now: Callable[[], float]) -> None:
        self.workers = workers
        self.now = now
        self.busy = 0
        self.waiting: deque[asyncio.Future] = deque()
        self._changes: list[tuple[float, int]] = []  # (time, requests in the instance after the change)

    @property
    def in_system(self) -> int:
        return self.busy + len(self.waiting)

    def _note(self) -> None:
        self._changes.append((self.now(), self.in_system))

    async def acquire(self) -> None:
        """Take a slot, waiting first-come, first-served while all are busy."""
        if self.busy < self.workers and not self.waiting:
            self.busy += 1
            self._note()
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        self._note()
        try:
            await waiter  # release() hands the slot over: busy stays counted
        except BaseException:  # cancelled while waiting (the caller's timeout)
            if waiter in self.waiting:
                self.waiting.remove(waiter)
                self._note()
            elif waiter.done() and not waiter.cancelled():  # a slot was handed over just then: pass it on
                self.release()
            raise

    def release(self) -> None:
        """Free a slot, handing it to the longest-waiting request if there is one."""
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._note()
                return
        self.busy -= 1
        self._note()

    def occupancy(self) -> list[tuple[float, int]]:
        """``(time, requests in the instance)`` after every arrival and departure, oldest first."""
        return list(self._changes)


def time_average(changes: Sequence[tuple[float, int]], start: float, end: float) -> float:
    """The time-weighted mean of a step function given as ``(time, value)`` changes, over ``[start, end]``."""
    if end <= start:
        raise ConfigurationError(f"the window must have end > start; got [{start}, {end}]")
    total, value, t = 0.0, 0, start
    for when, new in changes:
        if when > start:
            total += value * (min(when, end) - t)
            t = min(when, end)
        if when >= end:
            break
        value = new
    total += value * (end - t)
    return total / (end - start)
