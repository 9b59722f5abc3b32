"""The balancer interface the network calls, and its default: round robin.

A service's balancer picks which instance gets the next call to
``http://<service>.svc``. The network tells it when a call starts and ends.
The other strategies (random, least outstanding, power of two choices,
EWMA) are the discovery chapter's lesson: :mod:`labsvc.discovery.balancing`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["Balancer", "RoundRobin"]


@runtime_checkable
class Balancer(Protocol):
    """The interface every balancer implements."""

    def choose(self, candidates: Sequence[str], rng: random.Random) -> str:
        """Pick one instance name from ``candidates`` (never empty)."""

    def on_start(self, instance: str) -> None:
        """A call to ``instance`` was sent."""

    def on_end(self, instance: str, duration: float, ok: bool) -> None:
        """A call to ``instance`` finished after ``duration`` seconds."""


class RoundRobin:
    """Each instance in turn, the way a DNS round robin or Ribbon's default does."""

    name = "round robin"

    def __init__(self) -> None:
        self._next = 0

    def choose(self, candidates: Sequence[str], rng: random.Random) -> str:
        choice = candidates[self._next % len(candidates)]
        self._next += 1
        return choice

    def on_start(self, instance: str) -> None:
        pass

    def on_end(self, instance: str, duration: float, ok: bool) -> None:
        pass

    def __repr__(self) -> str:
        return "RoundRobin()"
