"""The explorer: run a workflow over every choice its network can make, within a bound, and check invariants.

A :class:`Workflow` is three things a learner writes (or takes from the course):

- ``build()``: a fresh, not-yet-started :class:`~labsvc.core.network.Network`
  holding the real services;
- ``drive(net)``: the coroutine that starts the workflow (place an order,
  publish three messages); the explorer then lets the network settle for
  ``settle`` simulated seconds so in-flight work drains;
- ``invariants``: named checks ``check(net) -> bool`` (or an async
  function) run after every run ("no order charged twice", "stock never
  negative"); ``state(net)`` (optional) says what a run left behind (the
  services' data), to count distinct outcomes. Reading them is not part of
  the run: the network is no longer steered then.

Each run steers the network (``net.steer``, :mod:`labsvc.core.choice`):
a :class:`~labsvc.core.choice.Scripted` chooser follows a prefix of picks
and then takes the first option. A run's history says how many options
every step had, so the explorer knows the unexplored siblings of each step
and walks the tree of runs systematically, breadth-first (the first
violation found is a shortest one) or depth-first, up to ``max_runs``;
``strategy="random"`` takes seeded random walks instead, for spaces too big
to walk. The same script always replays the same run (:func:`replay`).

Both are coroutines that run on the simulation: ``await explore(...)``
from a notebook cell, ``simtime.run(explore(...))`` from a script.
"""

from __future__ import annotations

import collections
import inspect
import random
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Hashable

import pandas as pd

from labsvc.core.choice import Budget, Choice, Scripted, Seeded
from labsvc.core.errors import ConfigurationError, LabsvcError
from labsvc.core.network import Network
from labsvc.core.simtime import simulated

__all__ = ["Workflow", "Run", "Exploration", "ExplorationError", "explore", "replay"]

Check = Callable[[Network], bool]


class ExplorationError(LabsvcError, RuntimeError):
    """An invariant raised instead of answering, or a run did not settle within the step bound."""


@dataclass
class Workflow:
    """What the explorer runs again and again (see the module docstring)."""

    build: Callable[[], Network]
    drive: Callable[[Network], Awaitable[Any]]
    invariants: dict[str, Check]
    state: Callable[[Network], Hashable] | None = None
    settle: float | str = "60s"
    name: str = "workflow"

    def __post_init__(self) -> None:
        if not self.invariants:
            raise ConfigurationError("a workflow needs at least one invariant to check, e.g. "
                                     "{'no double charge': lambda net: ...}")


@dataclass
class Run:
    """One run: the picks that made it, its choices, call log, final state and the invariants it broke."""

    script: list[int]
    choices: list[Choice]
    calls: pd.DataFrame
    state: Hashable
    violated: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violated

    def steps(self) -> pd.DataFrame:
        """The run's decisions as a table: when, about what, the options and the one taken."""
        return pd.DataFrame([{"step": i + 1, "at_s": c.at, "kind": c.kind, "options": len(c.options),
                              "taken": c.taken} for i, c in enumerate(self.choices)])


@dataclass
class Exploration:
    """What an exploration covered, and the shortest counterexample it found (or None)."""

    runs: int
    distinct_states: int
    exhausted: bool
    counterexample: Run | None
    violations: int
    bound: str

    def summary(self) -> str:
        covered = (f"{self.runs} runs, {self.distinct_states} distinct final states; "
                   + ("the whole bounded space was explored" if self.exhausted else f"stopped at {self.bound}"))
        if self.counterexample is None:
            return f"no invariant was violated: {covered}"
        cx = self.counterexample
        return (f"{', '.join(cx.violated)} violated in {self.violations} run(s); shortest counterexample: "
                f"{len(cx.script)} choice(s), script {cx.script} (replay it with replay(workflow, {cx.script}, ...)); "
                f"{covered}")

    def __repr__(self) -> str:
        return f"<Exploration {self.summary()}>"


async def _one(workflow: Workflow, chooser: Any, budget: Budget, max_steps: int) -> Run:
    net = workflow.build()
    async with net:
        points = net.steer(chooser, budget.fresh())
        await workflow.drive(net)
        await net.run_for(workflow.settle)
        if len(points.history) > max_steps:
            raise ExplorationError(
                f"{workflow.name}: a run took {len(points.history)} choices, over the bound of {max_steps}: the "
                "workflow does not settle (a timer loop that keeps delivering?). Raise max_steps or shorten settle")
        points.active = False  # reading the outcome is not part of the run
        violated = []
        for name, check in workflow.invariants.items():
            try:
                holds = check(net)
                if inspect.isawaitable(holds):
                    holds = await holds
                if not holds:
                    violated.append(name)
            except Exception as exc:  # noqa: BLE001 - named and re-raised with the run's script
                raise ExplorationError(f"invariant {name!r} raised {type(exc).__name__}: {exc} (script "
                                       f"{points.script}); an invariant should return True or False") from exc
        state = workflow.state(net) if workflow.state is not None else None
        if inspect.isawaitable(state):
            state = await state
        return Run(points.script, list(points.history), net.calls, state, violated)


@simulated
async def explore(workflow: Workflow, *, budget: Budget | None = None, strategy: str = "bfs", max_runs: int = 500,
            max_steps: int = 200, seed: int = 0, stop_at_first: bool = False) -> Exploration:
    """Run ``workflow`` over its choices (module docstring) and return what was covered and found.

    ``budget`` bounds the faults of one run (:class:`~labsvc.core.choice.Budget`,
    none by default: only the order of same-instant deliveries varies).
    """
    if strategy not in ("bfs", "dfs", "random"):
        raise ConfigurationError(f"strategy {strategy!r}: use 'bfs' (shortest counterexample first), 'dfs' or 'random'")
    if not isinstance(max_runs, int) or max_runs < 1:
        raise ConfigurationError(f"max_runs={max_runs!r}: give a positive whole number of runs")
    budget = budget or Budget()
    frontier: collections.deque[list[int]] = collections.deque([[]])
    states: set[Hashable] = set()
    best: Run | None = None
    runs = violations = 0
    rng = random.Random(seed)
    while runs < max_runs and (frontier or strategy == "random"):
        if strategy == "random":
            chooser: Any = Seeded(rng.randrange(2**32))
        else:
            chooser = Scripted(frontier.popleft() if strategy == "bfs" else frontier.pop())
        run = await _one(workflow, chooser, budget, max_steps)
        runs += 1
        states.add(run.state)
        if not run.ok:
            violations += 1
            if best is None or len(run.script) < len(best.script):
                best = run
            if stop_at_first:
                break
        if strategy != "random":
            prefix = len(chooser.script)
            widths = [len(c.options) for c in run.choices]
            picks = [c.picked for c in run.choices]
            children = [picks[:step] + [alt] for step in range(prefix, len(widths)) for alt in range(1, widths[step])]
            frontier.extend(children if strategy == "bfs" else reversed(children))
    exhausted = strategy != "random" and not frontier and (best is None or not stop_at_first)
    bound = f"max_runs={max_runs}" if not exhausted else f"budget {budget!r}"
    return Exploration(runs, len(states), exhausted, best, violations, bound)


@simulated
async def replay(workflow: Workflow, script: list[int], *, budget: Budget | None = None, max_steps: int = 200) -> Run:
    """Run ``workflow`` once more with the picks ``script`` (a counterexample's): the same run, every time."""
    return await _one(workflow, Scripted(script), budget or Budget(), max_steps)
