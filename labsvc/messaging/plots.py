"""The plots of notebook 07: results of :mod:`labsvc.messaging.lab` in, matplotlib Figures out.

Each function takes what an experiment returned (its tidy DataFrames) and
returns a :class:`~matplotlib.figure.Figure`; notebooks import them from
:mod:`labsvc.messaging.lab`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from labsvc.core.experiment import shade

if TYPE_CHECKING:
    from labsvc.messaging._lab_flow import FlowResult

__all__ = ["plot_completion", "plot_backlog"]


_STYLE_COLORS = {"sync": "#457b9d", "async": "#2a9d8f"}


def plot_completion(results: dict[str, FlowResult], title: str = "when did each order complete?") -> Figure:
    """Completion latency of every order against when it was placed, one panel per style.

    Orders that never completed are red crosses at the bottom; the outage
    is shaded.
    """
    fig = Figure(figsize=(8, 2.6 * len(results)), layout="constrained")
    axes = fig.subplots(len(results), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (style, r) in zip(axes, results.items()):
        o = r.orders
        done, lost = o[o["completed"]], o[~o["completed"]]
        ax.scatter(done["submitted_at"], done["completion_latency"] * 1000, s=10,
                   color=_STYLE_COLORS.get(style, "#264653"), label="completed")
        if len(lost):
            ax.scatter(lost["submitted_at"], [0] * len(lost), marker="x", s=18, color="#e76f51",
                       label=f"lost ({len(lost)})")
        shade(ax, *r.window, label=f"{r.down} down")
        ax.set_ylabel("completion (ms)")
        ax.set_title(f"{style}: user saw {o['accepted'].mean():.0%} accepted, {o['completed'].mean():.0%} completed",
                     fontsize=10)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    axes[-1].set_xlabel("order placed at (s)")
    fig.suptitle(title)
    return fig


def plot_backlog(result: FlowResult, title: str | None = None) -> Figure:
    """Messages waiting for each consumer group over time, with the outage shaded."""
    fig = Figure(figsize=(8, 2.8), layout="constrained")
    ax = fig.add_subplot()
    b = result.backlog
    for group, rows in b.groupby("group", sort=False):
        ax.step(rows["time"], rows["backlog"], where="post", label=f"waiting for {group}")
    shade(ax, *result.window, label=f"{result.down} down")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("messages")
    ax.set_title(title or f"broker backlog ({result.style} flow)")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return fig
