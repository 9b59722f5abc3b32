"""Plots for the core experiments. Each takes a DataFrame and returns a Figure.

Figures are made with :class:`matplotlib.figure.Figure` directly (not
pyplot), so plotting never opens a window or leaks figures between cells;
Jupyter displays a returned Figure inline.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

__all__ = ["plot_latency", "plot_calls", "plot_bars", "plot_availability", "COLORS"]

COLORS = {"ok": "#2a9d8f", "error": "#e76f51", "p50": "#264653", "p99": "#e9c46a", "a": "#457b9d", "b": "#e76f51"}


def plot_latency(df: pd.DataFrame, title: str = "latency", ax=None) -> Figure:
    """Each request's latency against the time it was due; failures in red."""
    fig = Figure(figsize=(7, 3.2)) if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    ok = df[df["ok"]]
    bad = df[~df["ok"]]
    ax.scatter(ok["due"], ok["latency"] * 1000, s=6, color=COLORS["ok"], label="ok")
    if len(bad):
        ax.scatter(bad["due"], bad["latency"] * 1000, s=10, color=COLORS["error"], marker="x", label="failed")
    for p, color in ((50, COLORS["p50"]), (99, COLORS["p99"])):
        if len(df):
            value = df["latency"].quantile(p / 100) * 1000
            ax.axhline(value, color=color, linestyle="--", linewidth=1, label=f"p{p} = {value:.1f} ms")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_calls(calls: pd.DataFrame, title: str = "calls between services") -> Figure:
    """A bar per caller -> callee pair: how many hops each edge carried."""
    fig = Figure(figsize=(6, 3))
    ax = fig.add_subplot()
    counts = calls.groupby(["caller", "callee"]).size().sort_values()
    labels = [f"{a} → {b}" for a, b in counts.index]
    ax.barh(labels, counts.values, color=COLORS["a"])
    ax.set_xlabel("calls")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_bars(table: pd.DataFrame, x: str, y: str, hue: str, *, title: str = "", ylabel: str | None = None,
              percent: bool = False) -> Figure:
    """Grouped bars of ``y`` per ``x``, one colour per ``hue`` (e.g. one per design)."""
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    pivot = table.pivot(index=x, columns=hue, values=y).reindex(pd.unique(table[x]))
    width = 0.8 / max(1, len(pivot.columns))
    palette = ["#457b9d", "#e76f51", "#2a9d8f", "#e9c46a"]
    scale = 100 if percent else 1
    for k, column in enumerate(pivot.columns):
        xs = [i + k * width for i in range(len(pivot.index))]
        ax.bar(xs, pivot[column].values * scale, width=width, label=str(column), color=palette[k % len(palette)])
    ax.set_xticks([i + width * (len(pivot.columns) - 1) / 2 for i in range(len(pivot.index))])
    ax.set_xticklabels(pivot.index, rotation=0)
    ax.set_ylabel(ylabel or (f"{y} (%)" if percent else y))
    if percent:
        ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_availability(table: pd.DataFrame, x: str = "feature", y: str = "availability", hue: str = "design",
                      title: str = "availability") -> Figure:
    """Grouped bars of availability (a share in [0, 1]) in percent."""
    return plot_bars(table, x, y, hue, title=title, percent=True)
