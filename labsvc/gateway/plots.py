"""Plots of gateway metrics; each takes a DataFrame and returns a Figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from labsvc.core.clock import parse_duration

__all__ = ["plot_admissions", "plot_overhead", "admissions_over_time"]

_COLORS = {"admitted": "#2a9d8f", "throttled": "#e9c46a", "rejected": "#e76f51"}


def admissions_over_time(metrics: pd.DataFrame, bin: float | str = "100ms", *, by: str = "outcome") -> pd.DataFrame:
    """Counts per time bin (rows: bin start in seconds) and ``by`` value (columns).

    >>> df = pd.DataFrame({"time": [0.01, 0.05, 0.12], "outcome": ["admitted", "throttled", "admitted"]})
    >>> admissions_over_time(df, "100ms").to_dict("list")
    {'admitted': [1, 1], 'throttled': [1, 0]}
    """
    width = parse_duration(bin, name="bin")
    if width <= 0:
        raise ValueError("bin must be more than zero, e.g. '100ms'")
    if metrics.empty:
        return pd.DataFrame()
    start = float(metrics["time"].min())
    edges = np.floor((metrics["time"] - start) / width + 1e-9) * width
    table = pd.crosstab(edges.round(9), metrics[by])
    full = np.round(np.arange(0, float(table.index.max()) + width / 2, width), 9)
    table = table.reindex(full, fill_value=0)
    table.index.name = "time"
    table.columns.name = None
    return table


def plot_admissions(metrics: pd.DataFrame, bin: float | str = "100ms", *, title: str = "requests at the gateway",
                    by: str = "outcome") -> Figure:
    """Stacked bars: how many requests were admitted, throttled or rejected in each time bin."""
    table = admissions_over_time(metrics, bin, by=by)
    width = parse_duration(bin, name="bin")
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    bottom = np.zeros(len(table))
    order = [c for c in ("admitted", "throttled", "rejected") if c in table.columns]
    order += [c for c in table.columns if c not in order]
    for column in order:
        values = table[column].to_numpy()
        ax.bar(table.index, values, width=width * 0.9, align="edge", bottom=bottom, label=str(column),
               color=_COLORS.get(column))
        bottom += values
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"requests per {width * 1000:g} ms")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_overhead(table: pd.DataFrame, *, x: str = "added_ms", label: str = "proxy",
                  highlight: str | None = None, title: str = "latency a proxy hop adds") -> Figure:
    """Horizontal bars of ``x`` per ``label`` on a log scale (published figures next to ours)."""
    fig = Figure(figsize=(7, 0.45 * len(table) + 1.2))
    ax = fig.add_subplot()
    colors = ["#e76f51" if highlight is not None and str(v) == highlight else "#457b9d" for v in table[label]]
    ax.barh(table[label].astype(str), table[x], color=colors)
    for y, value in enumerate(table[x]):
        ax.annotate(f"{value:.3g} ms", (value, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("added latency per request (ms, log scale)")
    ax.invert_yaxis()
    ax.set_title(title)
    fig.tight_layout()
    return fig
