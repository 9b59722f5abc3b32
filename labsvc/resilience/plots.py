"""Plots of resilience experiments; each takes a DataFrame and returns a Figure.

The numbers always come first (``breaker.events``); these functions only
draw them, so a learner can look at the same data in a table.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

__all__ = ["plot_state_timeline"]

# Bottom to top: from "everything passes" to "everything is rejected".
_LEVELS = ["DISABLED", "CLOSED", "HALF_OPEN", "OPEN", "FORCED_OPEN"]


def plot_state_timeline(events: pd.DataFrame, *, end: float | None = None, title: str | None = None) -> Figure:
    """Draw a circuit breaker's state over time as a step line.

    ``events`` is ``breaker.events`` or ``breaker.transitions``; rejected
    calls (kind ``not_permitted``), when present, are marked with ticks.
    ``end`` extends the last state to that time (default: the last event).

    >>> from labsvc.resilience import CircuitBreaker
    >>> breaker = CircuitBreaker("catalog")
    >>> breaker.transition_to_open_state()
    >>> fig = plot_state_timeline(breaker.events)
    >>> len(fig.axes)
    1
    """
    # A Figure made directly (not through pyplot) needs no GUI backend and
    # keeps no global state, so calling this in a loop leaks nothing.
    fig = Figure(figsize=(8, 2.8), layout="constrained")
    ax = fig.add_subplot()
    level = {s: i for i, s in enumerate(_LEVELS)}
    kinds = events["kind"] if "kind" in events else pd.Series("state_transition", index=events.index)
    changes = events[kinds == "state_transition"]

    start = float(events["time"].min()) if len(events) else 0.0
    first = changes["from_state"].iloc[0] if len(changes) else "CLOSED"
    times, states = [start], [first]
    for t, to in zip(changes["time"], changes["to_state"]):
        times.append(float(t))
        states.append(to)
    last = float(events["time"].max()) if len(events) else start
    times.append(max(last, end if end is not None else last))
    states.append(states[-1])
    ax.step(times, [level[s] for s in states], where="post", color="tab:blue", label="state")

    rejected = events[kinds == "not_permitted"]
    if len(rejected):
        ax.plot(rejected["time"], [level[s] for s in rejected["state"]], "|", color="tab:red",
                markersize=12, label="rejected call")
        ax.legend(loc="upper left", frameon=False)
    ax.set_yticks(range(len(_LEVELS)), _LEVELS)
    ax.set_ylim(-0.5, len(_LEVELS) - 0.5)
    ax.set_xlabel("time (s)")
    ax.set_title(title or "circuit breaker state")
    ax.grid(axis="x", alpha=0.3)
    return fig
