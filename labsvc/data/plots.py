"""Plots for the data patterns. Each takes a DataFrame and returns a matplotlib Figure."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from labsvc.core.plots import COLORS

__all__ = ["plot_read_model_lag", "plot_saga_outcomes", "plot_composition", "plot_saga_styles"]

_OUTCOME_COLORS = {
    "approved": "#2a9d8f", "out_of_stock": "#e9c46a", "payment_declined": "#f4a261",
    "payment_unavailable": "#e76f51", "inventory_unavailable": "#9d4edd", "interrupted": "#6c757d",
    "unfinished": "#000000",
}


def plot_read_model_lag(lag: pd.DataFrame, *, load_ended: float | None = None,
                        title: str = "read-model lag") -> Figure:
    """The lag of every event: its distribution (left) and against its commit time (right).

    ``lag`` is :meth:`CqrsShop.lag`'s DataFrame (``lag_ms`` and ``t``);
    ``load_ended`` (seconds since the load started) draws where the load stopped.
    """
    fig = Figure(figsize=(10, 3.4))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    ms = lag["lag_ms"]
    if len(ms):
        left.hist(ms, bins=40, color=COLORS["a"])
        for p, color in ((50, COLORS["p50"]), (99, COLORS["p99"])):
            value = float(ms.quantile(p / 100))
            left.axvline(value, color=color, linestyle="--", linewidth=1.2, label=f"p{p} = {value:.1f} ms")
        left.legend(fontsize=8)
    left.set_xlabel("lag (ms): visible in the read model − committed")
    left.set_ylabel("events")
    left.set_title("distribution")
    for kind, color in (("OrderPlaced", COLORS["a"]), ("OrderShipped", COLORS["ok"]), ("OrderCancelled", COLORS["b"])):
        part = lag[lag["type"] == kind]
        if len(part):
            right.scatter(part["t"], part["lag_ms"], s=6, color=color, label=kind)
    if load_ended is not None:
        right.axvline(load_ended, color="#555555", linestyle=":", linewidth=1.2, label="load stops")
    right.set_xlabel("committed at (s since the load started)")
    right.set_ylabel("lag (ms)")
    right.set_title("over time")
    right.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_saga_outcomes(outcomes: pd.DataFrame, *, title: str = "how the orders ended") -> Figure:
    """Stacked bars: orders per outcome, one bar per scenario.

    ``outcomes`` has columns ``scenario``, ``outcome`` and ``orders`` (the
    concatenated :attr:`SagaResult.outcomes` of several runs).
    """
    pivot = outcomes.pivot_table(index="scenario", columns="outcome", values="orders", aggfunc="sum", fill_value=0)
    pivot = pivot.reindex(pd.unique(outcomes["scenario"]))
    columns = [c for c in _OUTCOME_COLORS if c in pivot.columns] + [c for c in pivot.columns if c not in _OUTCOME_COLORS]
    fig = Figure(figsize=(8, 0.5 * len(pivot) + 1.6))
    ax = fig.add_subplot()
    left = pd.Series(0, index=pivot.index, dtype=float)
    for c in columns:
        ax.barh(list(pivot.index), pivot[c].values, left=left.values, color=_OUTCOME_COLORS.get(c, "#adb5bd"), label=c)
        left += pivot[c]
    ax.invert_yaxis()
    ax.set_xlabel("orders")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def plot_composition(table: pd.DataFrame, *, title: str = "one composed query") -> Figure:
    """Hops and median latency per composition strategy (rows with delivery up)."""
    up = table[table["delivery"] == "up"] if "delivery" in table else table
    fig = Figure(figsize=(9, 3))
    hops, latency = fig.subplots(1, 2)
    hops.bar(up["strategy"], up["hops"], color=COLORS["a"])
    hops.set_ylabel("hops per query")
    latency.bar(up["strategy"], up["p50_ms"], color=COLORS["b"])
    latency.set_ylabel("p50 latency (ms)")
    for ax in (hops, latency):
        for i, v in enumerate(ax.containers[0].datavalues):
            ax.annotate(f"{v:.0f}", (i, v), ha="center", va="bottom", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_saga_styles(summary: pd.DataFrame, *, title: str = "the saga both ways") -> Figure:
    """Per scenario, one bar per style: how the orders ended (left) and the median time to a final state (right).

    ``summary`` is the concatenated :attr:`SagaStylesResult.summary` of
    several runs (columns ``scenario``, ``style``, ``approved``,
    ``cancelled``, ``stuck``, ``median_ms_to_final``).
    """
    rows = summary.reset_index(drop=True)
    short = {"orchestrated": "orch.", "choreographed": "choreo."}
    labels = [f"{r.scenario} · {short.get(r.style, r.style)}" for r in rows.itertuples()]
    fig = Figure(figsize=(11, 0.35 * len(rows) + 2.0))
    ends, speed = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1.4, 1]})
    left = pd.Series(0.0, index=rows.index)
    for col, color in (("approved", _OUTCOME_COLORS["approved"]), ("cancelled", _OUTCOME_COLORS["payment_unavailable"]),
                       ("stuck", _OUTCOME_COLORS["unfinished"])):
        ends.barh(labels, rows[col].values, left=left.values, color=color, label=col)
        left += rows[col]
    ends.invert_yaxis()
    ends.set_xlabel("orders")
    ends.set_title("how the orders ended")
    ends.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16 - 1.2 / (len(rows) + 4)), ncol=3)
    style_colors = {"orchestrated": COLORS["a"], "choreographed": "#9d4edd"}
    speed.barh(labels, rows["median_ms_to_final"].fillna(0).values,
               color=[style_colors.get(s, "#adb5bd") for s in rows["style"]])
    speed.legend(handles=[Patch(color=c, label=s) for s, c in style_colors.items()], fontsize=8,
                 loc="upper center", bbox_to_anchor=(0.5, -0.16 - 1.2 / (len(rows) + 4)), ncol=2)
    speed.set_xlabel("median ms from order to final state")
    speed.set_title("time to a final state")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
