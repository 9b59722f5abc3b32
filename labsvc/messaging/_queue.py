"""One consumer group's queue: publish order, per-key lines, in-flight deliveries."""

from __future__ import annotations

import heapq
import json
from collections import deque
from typing import TYPE_CHECKING, Any

from labsvc.messaging._message import DeadLetter, Delivery, Message

if TYPE_CHECKING:
    from labsvc.messaging._consumer import Consumer

__all__ = ["COUNTERS", "STATS_COLUMNS", "Pending", "Group"]

#: The per-group counters reported by ``Broker.stats``.
COUNTERS = ("published", "delivered", "redelivered", "acked", "nacked", "expired", "requeued", "dead_lettered")
#: The columns of ``Broker.stats``: one row per (topic, group), its counters and its queue now.
STATS_COLUMNS = ("topic", "group", *COUNTERS, "ready", "in_flight", "dead_letters", "consumers")


class Pending:
    """A message waiting in (or handed out from) one group's queue."""

    __slots__ = ("seq", "id", "topic", "key", "body", "headers", "published_at", "deliveries")

    def __init__(self, seq: int, id: str, topic: str, key: Any, body: str, headers: str, published_at: float) -> None:
        self.seq, self.id, self.topic, self.key = seq, id, topic, key
        self.body, self.headers, self.published_at = body, headers, published_at
        self.deliveries = 0

    def __lt__(self, other: Pending) -> bool:  # heap order = publish order
        return self.seq < other.seq

    def message(self) -> Message:
        return Message(self.id, self.topic, self.key, json.loads(self.body),
                       json.loads(self.headers), self.published_at)


class Group:
    """One consumer group's queue.

    Ready messages sit in a heap ordered by publish sequence, so a message
    that is requeued goes back to its original place. Keyed messages wait in
    a per-key line, and only the head of a line whose key is not in flight
    is in the heap: that is what keeps one key's messages in publish order
    even across consumers and redeliveries.
    """

    def __init__(self, topic: str, name: str) -> None:
        self.topic, self.name = topic, name
        self.heap: list[Pending] = []
        self.lines: dict[Any, deque[Pending]] = {}
        self.busy_keys: set[Any] = set()
        self.in_flight: dict[int, tuple[Delivery, Pending, Consumer]] = {}
        self.consumers: dict[str, Consumer] = {}
        self.dead: list[DeadLetter] = []
        self.waiters: list[Any] = []  # futures of consumers waiting in get()
        self.ready = 0
        self.counts = dict.fromkeys(COUNTERS, 0)

    def enqueue(self, p: Pending) -> None:
        self.ready += 1
        if p.key is None:
            heapq.heappush(self.heap, p)
            return
        line = self.lines.setdefault(p.key, deque())
        line.append(p)
        if len(line) == 1 and p.key not in self.busy_keys:
            heapq.heappush(self.heap, p)

    def take(self) -> Pending | None:
        if not self.heap:
            return None
        p = heapq.heappop(self.heap)
        self.ready -= 1
        if p.key is not None:
            line = self.lines[p.key]
            line.popleft()  # p was the head of its line
            if not line:
                del self.lines[p.key]
            self.busy_keys.add(p.key)
        return p

    def requeue(self, p: Pending) -> None:
        self.ready += 1
        if p.key is not None:
            # p is older than everything left in its line: it goes first.
            self.busy_keys.discard(p.key)
            self.lines.setdefault(p.key, deque()).appendleft(p)
        heapq.heappush(self.heap, p)

    def release(self, key: Any) -> None:
        """The in-flight message of ``key`` is done: its line may move on."""
        if key is None:
            return
        self.busy_keys.discard(key)
        line = self.lines.get(key)
        if line:
            heapq.heappush(self.heap, line[0])

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
