"""Choice points: where a simulated network may go one way or another, one place decides.

On simulated time (:mod:`labsvc.core.simtime`) everything is deterministic
but one thing: when several deliveries reach their callees at the same
simulated instant, which goes first? By default the answer is asyncio's:
the order they became ready in (first come, first served), with no cost.

A network that is **steered** (``net.steer(chooser)``) turns every delivery into a
choice point instead. Each delivery waits at its callee's door; when the
simulation has nothing else to do at this instant (every task is waiting
on a timer or on a door), the :class:`ChoicePoints` of the loop asks its
*chooser* which waiting delivery goes in, lets that one run until the
simulation is quiet again, and asks again. Time moves only when no
delivery waits. So a chooser sees every interleaving a network could
produce at one instant, one delivery at a time, as a model checker does.

With a fault :class:`Budget`, the chooser also decides what happens to
the delivery it let in: plain delivery, or (while the budget lasts) a
duplicate, a lost reply or a crash of the callee right after it did the
work. Other code that may decide something asks the same chooser through
:meth:`ChoicePoints.pick`, so one list of choices (the
:attr:`~ChoicePoints.history`) replays a whole run.

Choosers:

- :class:`Arrival`: always the first option (the order things arrived);
- :class:`Seeded`: a seeded random draw (the same seed, the same run);
- :class:`Scripted`: a given list of indices, then another chooser: this is
  how a run is replayed, and how an explorer walks the tree of choices
  (``Scripted([0, 2, 1])``, then look at :attr:`ChoicePoints.history` for
  how many options each step had).

A chooser is any callable ``chooser(options) -> int`` taking the option
labels (a tuple of strings) and returning an index into them.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol, Sequence

import httpx

from labsvc.core.errors import ConfigurationError, NetworkStateError

__all__ = ["Chooser", "Arrival", "Seeded", "Scripted", "Choice", "ChoicePoints", "choice_points", "Budget", "FAULTS"]


class Chooser(Protocol):
    """Anything that picks one of several options by index."""

    def __call__(self, options: tuple[str, ...]) -> int: ...  # pragma: no cover - a protocol


class Arrival:
    """Pick the first option: deliveries go in the order they arrived."""

    def __call__(self, options: tuple[str, ...]) -> int:
        return 0

    def __repr__(self) -> str:
        return "Arrival()"


class Seeded:
    """Pick at random from a generator seeded with ``seed``: the same seed gives the same run."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    def __call__(self, options: tuple[str, ...]) -> int:
        return self.rng.randrange(len(options))

    def __repr__(self) -> str:
        return f"Seeded({self.seed})"


class Scripted:
    """Pick the given indices in turn, then ask ``then`` (default :class:`Arrival`).

    An index larger than the options at its step is an error that names
    the step and its options: a script written for another run.
    """

    def __init__(self, script: Sequence[int], then: Chooser | None = None) -> None:
        self.script = list(script)
        self.then: Chooser = then or Arrival()
        self.step = 0

    def __call__(self, options: tuple[str, ...]) -> int:
        if self.step < len(self.script):
            index = self.script[self.step]
            self.step += 1
            if not 0 <= index < len(options):
                raise ConfigurationError(
                    f"scripted choice {self.step} is {index}, but that step had {len(options)} option(s): "
                    f"{list(options)}; the script was recorded on another run")
            return index
        return self.then(options)

    def __repr__(self) -> str:
        return f"Scripted({self.script!r}, then={self.then!r})"


#: What may happen to a delivery once it is let in (besides plain delivery), when a budget allows it:
#: the callee handles it twice (an at-least-once redelivery); it handles it but the reply never reaches the
#: caller (a lost acknowledgement); it handles it, then crashes before answering and restarts (losing its
#: memory, keeping its database files).
FAULTS = ("duplicate", "lose-reply", "crash-after")


class Budget:
    """How many faults of each kind (:data:`FAULTS`) one run may take; ``Budget()`` allows none.

    >>> Budget(duplicate=1, crash_after=2)
    Budget(duplicate=1, crash-after=2)
    """

    LIMIT = 20

    def __init__(self, *, duplicate: int = 0, lose_reply: int = 0, crash_after: int = 0) -> None:
        self.limits = {"duplicate": duplicate, "lose-reply": lose_reply, "crash-after": crash_after}
        for kind, n in self.limits.items():
            if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= self.LIMIT:
                raise ConfigurationError(
                    f"fault budget {kind}={n!r}: give a whole number from 0 to {self.LIMIT}; an unbounded budget "
                    "makes the space of runs infinite, so no exploration could finish")
        self.used = dict.fromkeys(self.limits, 0)

    def fresh(self) -> "Budget":
        """The same limits, none used (one per run)."""
        return Budget(**{k.replace("-", "_"): v for k, v in self.limits.items()})

    def available(self) -> tuple[str, ...]:
        return tuple(k for k in FAULTS if self.used[k] < self.limits[k])

    def spend(self, kind: str) -> None:
        self.used[kind] += 1

    def __repr__(self) -> str:
        return "Budget(" + ", ".join(f"{k}={v}" for k, v in self.limits.items() if v) + ")"


@dataclass(frozen=True)
class Choice:
    """One decision: when (seconds since the network started), what it was about, the options, and the one taken."""

    at: float
    kind: str
    options: tuple[str, ...]
    picked: int

    @property
    def taken(self) -> str:
        return self.options[self.picked]


class ChoicePoints:
    """The one place that decides the order of same-instant deliveries (and any other choice) on a loop.

    ``history`` lists every decision with more than one option, in order:
    ``[c.picked for c in history]`` replays the run with :class:`Scripted`.
    """

    def __init__(self, chooser: Chooser | None = None, clock: Callable[[], float] | None = None,
                 budget: Budget | None = None) -> None:
        self.chooser: Chooser = chooser or Arrival()
        self.clock = clock or (lambda: 0.0)
        self.budget = budget or Budget()
        self.waiting: list[tuple[str, asyncio.Future]] = []
        self.history: list[Choice] = []
        self.active = True  # False: deliveries pass the door at once (reading the outcome of a run)

    def _choose(self, kind: str, options: tuple[str, ...]) -> int:
        if len(options) == 1:
            return 0
        index = self.chooser(options)
        if not isinstance(index, int) or not 0 <= index < len(options):
            raise ConfigurationError(f"chooser {self.chooser!r} returned {index!r} for {len(options)} options "
                                     f"{list(options)}; return an index from 0 to {len(options) - 1}")
        self.history.append(Choice(self.clock(), kind, options, index))
        return index

    def pick(self, kind: str, options: Sequence[str]) -> int:
        """Ask the chooser now: which of ``options`` (labels) happens? Returns its index."""
        options = tuple(options)
        if not options:
            raise ConfigurationError(f"choice {kind!r} has no options; give at least one")
        return self._choose(kind, options)

    async def door(self, label: str) -> str:
        """Wait here until the chooser lets this delivery in (see the module docstring).

        Returns what happens to it: ``"deliver"``, or a fault of :data:`FAULTS`
        that the chooser picked while the budget allowed it.
        """
        if not self.active:
            return "deliver"
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((label, future))
        try:
            return await future
        finally:
            if not future.done():  # cancelled while waiting: leave the queue
                self.waiting = [w for w in self.waiting if w[1] is not future]

    def release(self) -> bool:
        """Let one waiting delivery in (the chooser's pick); False when none waits.

        The loop calls this when it is quiet at the current instant, before
        it would move the clock.
        """
        self.waiting = [w for w in self.waiting if not w[1].done()]
        if not self.waiting:
            return False
        index = self._choose("deliver", tuple(label for label, _ in self.waiting))
        label, future = self.waiting.pop(index)
        actions = ("deliver",) + self.budget.available()
        action = actions[self._choose(f"fault {label}", actions)]
        if action != "deliver":
            self.budget.spend(action)
        future.set_result(action)
        return True

    async def act(self, action: str, network: Any, instance_name: str, resend: Callable[[], Awaitable[Any]],
                  first: Any) -> Any:
        """Do to a handled delivery what :meth:`door` decided; returns the reply the caller gets."""
        if action == "duplicate":
            return await resend()
        if action == "lose-reply":
            lost = httpx.ReadError(f"the reply from {instance_name} was lost on its way back (a fault the "
                                   "chooser picked: the callee did the work, the caller cannot know)")
            lost.labsvc_fault = "lost-reply"  # type: ignore[attr-defined]  # the call log's fault column
            raise lost
        if action == "crash-after":  # the work is done (and committed); the process dies before it answers
            await network.crash(instance_name)
            await network.restart(instance_name)
            crashed = httpx.RemoteProtocolError(f"{instance_name} crashed before it answered (a fault the chooser "
                                                "picked: the work was done, the reply never sent); it restarted")
            crashed.labsvc_fault = "crash"  # type: ignore[attr-defined]
            raise crashed
        return first

    @property
    def script(self) -> list[int]:
        """The picks so far, without the trailing first options: ``Scripted(points.script)`` replays this run."""
        picks = [c.picked for c in self.history]
        while picks and picks[-1] == 0:
            picks.pop()
        return picks


def choice_points(loop: asyncio.AbstractEventLoop | None, chooser: Chooser | None, network: Any,
                  budget: Budget | None = None) -> ChoicePoints:
    """The choice points of ``loop`` (made on first use), now deciding with ``chooser`` when one is given.

    What :meth:`Network.steer <labsvc.core.network.Network.steer>` calls:
    the network must be simulated and started (its loop is the simulation's).
    A chooser given starts new points (a new history); ``net.steer()`` after
    a steer keeps the points and their chooser. Steering ends when the
    network stops.
    """
    if not network.simulated:
        raise ConfigurationError(f"network {network.name!r} runs on real time, where the operating system orders "
                                 "deliveries; choice points need simulated time: Network(..., time='simulated')")
    if loop is None:
        raise NetworkStateError(f"start network {network.name!r} before steering it (async with net: ... net.steer(...))")
    points = getattr(loop, "choices", None)
    if points is None or chooser is not None or budget is not None:  # a new chooser starts a new history
        points = loop.choices = ChoicePoints(chooser, network.now, budget)  # type: ignore[attr-defined]
    return points
