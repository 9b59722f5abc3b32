"""Plots of resilience patterns and of notebook 10's experiments; each returns a Figure.

The numbers always come first (``breaker.events``, an experiment's result);
these functions only draw them, so a learner can look at the same data in a
table. The experiments are in :mod:`labsvc.resilience.lab`, which
re-exports these plots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

if TYPE_CHECKING:
    from labsvc.resilience._lab_breaker import BreakerResult
    from labsvc.resilience._lab_failover import FailoverResult

__all__ = ["plot_state_timeline", "plot_breaker", "plot_failover", "plot_retry_storm", "plot_fanout"]

def _plain_log_ticks(axis) -> None:
    """Label a log axis 1, 10, 100 rather than 10^0, 10^1, 10^2.

    The default labels are typeset as math, which loads matplotlib's math fonts
    the first time a plot needs them (and warns on a system whose font cache
    lacks them); plain numbers read as well and print nothing.
    """
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


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


def plot_breaker(result: BreakerResult, title: str = "circuit breaker state while reviews hangs") -> Figure:
    """The breaker's state timeline (:func:`plot_state_timeline`) with the outage shaded."""
    from labsvc.core.experiment import shade  # the network and FastAPI, only once an experiment is drawn

    end = float(result.requests["time"].max()) if len(result.requests) else None
    fig = plot_state_timeline(result.events, end=end, title=title)
    shade(fig.axes[0], *result.window, label="reviews failing")
    fig.axes[0].legend(loc="upper left", frameon=False, fontsize=8)
    return fig


def plot_failover(results: dict[str, FailoverResult], bucket: float = 0.1,
                  title: str = "one of three instances dies") -> Figure:
    """One panel per strategy: requests answered by each instance, and failed ones, per time bucket."""
    from labsvc.core.experiment import shade  # the network and FastAPI, only once an experiment is drawn

    fig = Figure(figsize=(8, 2.1 * len(results)), layout="constrained")
    axes = fig.subplots(len(results), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (strategy, res) in zip(axes, results.items()):
        r = res.requests.assign(bucket=(res.requests["time"] // bucket) * bucket)
        ok = r[r["ok"]].groupby(["bucket", "served_by"]).size().unstack(fill_value=0)
        for inst in ok.columns:
            ax.plot(ok.index + bucket / 2, ok[inst], marker=".", linewidth=1, label=inst)
        bad = r[~r["ok"]].groupby("bucket").size()
        if len(bad):
            ax.bar(bad.index + bucket / 2, bad.values, width=bucket * 0.9, color="#e76f51", alpha=0.6, label="failed")
        shade(ax, *res.window, label=f"{res.dead} down", color="#999999")
        ax.set_xlim(0, float(r["time"].max()))
        ax.set_title(f"{strategy}: {int((~r['ok']).sum())} failed requests", fontsize=10)
        ax.set_ylabel(f"per {bucket:g} s")
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title)
    return fig


def plot_retry_storm(table: pd.DataFrame, title: str = "calls per user request at each layer (c is failing)") -> Figure:
    """Grouped bars (log scale): calls each layer received per user request, one colour per policy."""
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax = fig.add_subplot()
    policies = list(pd.unique(table["policy"]))
    width = 0.8 / len(policies)
    palette = ["#8d99ae", "#e76f51", "#e9c46a", "#2a9d8f"]
    for k, p in enumerate(policies):
        rows = table[table["policy"] == p]
        xs = [i + k * width for i in range(len(rows))]
        bars = ax.bar(xs, rows["per_request"], width=width, label=p, color=palette[k % len(palette)])
        ax.bar_label(bars, labels=[f"{v:.2g}" for v in rows["per_request"]], fontsize=7)
    layers = list(pd.unique(table["layer"]))
    ax.set_xticks([i + width * (len(policies) - 1) / 2 for i in range(len(layers))], layers)
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    ax.set_ylabel("calls per user request")
    ax.set_xlabel("layer (users -> a -> b -> c)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(title)
    return fig


def plot_fanout(model: pd.DataFrame, measured: pd.DataFrame | None = None,
                title: str = "the tail grows with fan-out") -> Figure:
    """Left: p50 and p99 against fan-out. Right: share of slow requests, formula against measurement."""
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(model["fanout"], model["p50_ms"], marker="o", label="p50 (model)", color="#264653")
    left.plot(model["fanout"], model["p99_ms"], marker="o", label="p99 (model)", color="#e9c46a")
    right.plot(model["fanout"], model["predicted_slow_share"] * 100, label="1 - (1 - p)^n", color="#457b9d")
    if measured is not None and len(measured):
        left.scatter(measured["fanout"], measured["p99_ms"], marker="x", s=60, color="#e76f51", zorder=3,
                     label="p99 (network run)")
        right.scatter(measured["fanout"], measured["slow_share"] * 100, marker="x", s=60, color="#e76f51",
                      zorder=3, label="network run")
    for ax in (left, right):
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_xlabel("backends per request (n)")
        ax.legend(fontsize=8, frameon=False)
    left.set_ylabel("request latency (ms)")
    right.set_ylabel("requests hitting a slow backend (%)")
    fig.suptitle(title)
    return fig
