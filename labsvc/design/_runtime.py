"""Reading a run's call log: one row per request, a summary, and plots.

:func:`request_table` and :func:`summarize_requests` turn a network's call
log into the numbers behind :data:`RUNTIME_METRICS`; the ``plot_*`` functions
draw the tables that :func:`labsvc.design.topology.compare_runtime` returns.
Everything here is re-exported by :mod:`labsvc.design.topology`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import pandas as pd
from matplotlib.figure import Figure

from labsvc.design.metrics import METRICS
from labsvc.core.errors import ConfigurationError

#: The columns :func:`runtime_metrics` returns: ``{column: (meaning, better)}``.
RUNTIME_METRICS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "services": ("number of services deployed", ""),
    "requests": ("requests measured (one trace each)", ""),
    "calls_per_request": ("mean hops per request in the call log, the entry call included", "lower"),
    "predicted_calls_per_request": ("mean hops per request the call plan predicts for the same requests", "lower"),
    "services_per_request": ("mean distinct services one request reaches", "lower"),
    "max_calls": ("most hops any one request made", "lower"),
    "p50_ms": ("median latency of the entry call (ms)", "lower"),
    "p95_ms": ("95th percentile latency of the entry call (ms)", "lower"),
    "p99_ms": ("99th percentile latency of the entry call (ms)", "lower"),
    "availability": ("share of requests answered 2xx/3xx", "higher"),
})

_WORKLOAD_CALLER = "users"


# -- measuring ------------------------------------------------------------------


def request_table(calls: pd.DataFrame, caller: str = _WORKLOAD_CALLER) -> pd.DataFrame:
    """One row per request ``caller`` sent, from a call log (``net.calls``).

    Columns: ``trace_id``; ``entry`` (the module the request entered);
    ``hops`` (rows of the call log with the request's trace id, the entry
    call included); ``services`` (distinct services those hops reached);
    ``latency`` (seconds, the duration of the entry call); ``status`` and
    ``ok`` (a 2xx/3xx answer to the entry call); ``start``.
    """
    needed = {"caller", "callee", "path", "status", "duration", "start", "trace_id"}
    missing = needed - set(calls.columns)
    if missing:
        raise ConfigurationError(f"expected a call log (net.calls); missing columns {sorted(missing)}")
    roots = calls[calls["caller"] == caller]
    per_trace = calls.groupby("trace_id").agg(hops=("callee", "size"), services=("callee", "nunique"))
    out = pd.DataFrame({
        "trace_id": roots["trace_id"].to_numpy(),
        "entry": roots["path"].str.rsplit("/", n=1).str[-1].to_numpy(),
        "latency": roots["duration"].to_numpy(),
        "status": roots["status"].to_numpy(),
        "start": roots["start"].to_numpy(),
    })
    out = out.join(per_trace, on="trace_id")
    out["ok"] = (out["status"] >= 200) & (out["status"] < 400)
    return out[["trace_id", "entry", "hops", "services", "latency", "status", "ok", "start"]]


def summarize_requests(requests: pd.DataFrame) -> pd.Series:
    """Hops, reach, latency percentiles (ms) and availability of a :func:`request_table`."""
    n = len(requests)
    if n == 0:
        raise ConfigurationError("no requests in the table: send traffic first (topology.run(...))")
    lat = requests["latency"] * 1000
    return pd.Series({
        "requests": float(n),
        "calls_per_request": float(requests["hops"].mean()),
        "services_per_request": float(requests["services"].mean()),
        "max_calls": float(requests["hops"].max()),
        "p50_ms": float(lat.quantile(0.50)),
        "p95_ms": float(lat.quantile(0.95)),
        "p99_ms": float(lat.quantile(0.99)),
        "availability": float(requests["ok"].mean()),
    })


# -- plots ----------------------------------------------------------------------

_PALETTE = ["#457b9d", "#e76f51", "#2a9d8f", "#e9c46a", "#8d6cab", "#f4a261", "#6a994e", "#bc4749"]


def plot_runtime(frame: pd.DataFrame, metrics: Sequence[str] = ("calls_per_request", "p95_ms", "availability"),
                 figsize: tuple[float, float] | None = None) -> Figure:
    """One bar chart per runtime metric, one bar per decomposition (the output of :func:`compare_runtime`)."""
    chosen = [m for m in metrics if m in frame.columns]
    if not chosen:
        raise ConfigurationError(f"none of {list(metrics)} is a column; columns are {list(frame.columns)}")
    fig = Figure(figsize=figsize or (3.3 * len(chosen), 3.2))
    names = [str(n) for n in frame.index]
    colours = [_PALETTE[i % len(_PALETTE)] for i in range(len(names))]
    for i, metric in enumerate(chosen):
        ax = fig.add_subplot(1, len(chosen), i + 1)
        ax.bar(range(len(names)), frame[metric].astype(float).fillna(0.0), color=colours)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        better = RUNTIME_METRICS.get(metric, ("", ""))[1]
        arrow = {"higher": " (↑ better)", "lower": " (↓ better)"}.get(better, "")
        ax.set_title(metric + arrow, fontsize=9)
    fig.tight_layout()
    return fig


def plot_granularity(frame: pd.DataFrame, metrics: Sequence[str] = ("calls_per_request", "p95_ms"),
                     x: str = "services", figsize: tuple[float, float] | None = None) -> Figure:
    """Runtime metrics against the number of services: one panel per metric, one labelled point per row.

    Made for a sweep of decompositions from coarse to fine (the output of
    :func:`compare_runtime`); points are joined in order of ``x``.
    """
    chosen = [m for m in metrics if m in frame.columns]
    if x not in frame.columns or not chosen:
        raise ConfigurationError(f"need column {x!r} and one of {list(metrics)}; columns are {list(frame.columns)}")
    data = frame.sort_values(x, kind="stable")
    fig = Figure(figsize=figsize or (4.6 * len(chosen), 3.4))
    for i, metric in enumerate(chosen):
        ax = fig.add_subplot(1, len(chosen), i + 1)
        ax.plot(data[x], data[metric], marker="o", color=_PALETTE[i % len(_PALETTE)])
        for name, row in data.iterrows():
            ax.annotate(str(name), (row[x], row[metric]), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xlabel(f"{x} (coarse → fine)")
        ax.set_ylabel(metric)
        meaning = RUNTIME_METRICS.get(metric) or METRICS.get(metric) or (metric, "")
        ax.set_title(meaning[0], fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_chattiness_vs_coupling(static: pd.DataFrame, runtime: pd.DataFrame, x: str = "icp",
                                y: str = "calls_per_request", ax=None,
                                figsize: tuple[float, float] = (5.5, 4)) -> Figure:
    """Scatter of a static metric (from :func:`labsvc.design.compare`) against a runtime one.

    One labelled point per decomposition found in both tables.
    """
    for table, column, what in ((static, x, "static"), (runtime, y, "runtime")):
        if column not in table.columns:
            raise ConfigurationError(f"the {what} table has no column {column!r}; columns are {list(table.columns)}")
    both = static[[x]].join(runtime[[y]], how="inner")
    if both.empty:
        raise ConfigurationError("the two tables share no decomposition (their indexes differ)")
    if ax is None:
        fig = Figure(figsize=figsize)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for i, (name, row) in enumerate(both.iterrows()):
        ax.scatter(row[x], row[y], s=60, color=_PALETTE[i % len(_PALETTE)], zorder=3)
        ax.annotate(str(name), (row[x], row[y]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel(f"{x} (static, from the dependency graph)")
    ax.set_ylabel(f"{y} (run time, from the call log)")
    ax.set_title("runtime chattiness vs static coupling")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
