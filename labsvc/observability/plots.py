"""Plots of what was observed: a trace waterfall, a RED dashboard, burn rates. Each returns a Figure."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from labsvc.core.errors import ConfigurationError
from labsvc.core.plots import COLORS
from labsvc.observability._trees import waterfall_order

__all__ = ["plot_waterfall", "plot_red", "plot_burn_rates", "plot_quantiles"]

_PALETTE = ["#457b9d", "#2a9d8f", "#e9c46a", "#f4a261", "#8d99ae", "#6d597a", "#264653", "#b5838d"]


def plot_waterfall(spans: pd.DataFrame, trace_id: str, *, title: str | None = None) -> Figure:
    """One trace as a waterfall: a bar per span, children under their parent, coloured by service.

    Client spans (the caller's view of a hop) are drawn hatched and lighter;
    the gap between a client span and the server span inside it is time
    spent on the way (here: injected network latency).
    """
    rows = waterfall_order(spans, trace_id)
    t0 = rows["start"].min()
    services = list(dict.fromkeys(rows["service"]))
    color = {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(services)}
    fig = Figure(figsize=(9, 0.32 * len(rows) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    for y, (_, r) in enumerate(rows.iterrows()):
        client = r["kind"] == "client"
        ax.barh(y, (r["end"] - r["start"]) * 1000, left=(r["start"] - t0) * 1000, height=0.7,
                color=color[r["service"]], alpha=0.45 if client else 0.95, hatch="//" if client else None,
                edgecolor=COLORS["error"] if r["status"] == "error" else color[r["service"]])
        text = f"{r['service']} → {r['server.address']}" if client else f"{r['service']}: {r['name']}"
        ax.text((r["start"] - t0) * 1000, y, text + "  ", va="center", ha="right", fontsize=7)
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlabel("ms since the trace started")
    end = (rows["end"].max() - t0) * 1000
    ax.set_xlim(-end * 0.9, end * 1.05)  # room on the left for the labels
    ax.set_xticks([t for t in ax.get_xticks() if 0 <= t <= end * 1.05])  # the left part holds labels, not time
    ax.axvline(0, color="#999", linewidth=0.5)
    ax.set_title(title or f"trace {trace_id[:8]}…: {len(rows)} spans, {len(services)} services")
    return fig


def plot_red(red: pd.DataFrame, *, routes: list[tuple[str, str]] | None = None,
             incident: tuple[float, float] | None = None, q_column: str = "p95") -> Figure:
    """A RED dashboard: rate, error ratio and a latency quantile over time, a line per service and route."""
    fig = Figure(figsize=(9, 6.5), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    keys = routes or list(dict.fromkeys(zip(red["service"], red["route"])))
    for k, (service, route) in enumerate(keys):
        part = red[(red["service"] == service) & (red["route"] == route)]
        c = _PALETTE[k % len(_PALETTE)]
        label = f"{service} {route}"
        axes[0].plot(part["time"], part["rate"], color=c, label=label)
        axes[1].plot(part["time"], part["error_ratio"] * 100, color=c)
        axes[2].plot(part["time"], part[q_column] * 1000, color=c)
    for ax, ylabel in zip(axes, ("requests / s", "errors (% 5xx)", f"{q_column} (ms, from buckets)")):
        ax.set_ylabel(ylabel)
        if incident is not None:
            ax.axvspan(*incident, color=COLORS["error"], alpha=0.12)
    axes[0].legend(fontsize=7, ncol=2, loc="upper left")
    axes[0].set_title("RED: rate, errors, duration" + (" (red band: the incident)" if incident else ""))
    axes[2].set_xlabel("time (s)")
    return fig


_TIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}


def plot_burn_rates(alerts: pd.DataFrame, *, incident: tuple[float, float] | None = None,
                    title: str = "burn rate", unit: str = "s") -> Figure:
    """Each rule's long- and short-window burn rate over time, its threshold, and when it fired.

    ``alerts`` (from :func:`~labsvc.observability.evaluate`) and ``incident``
    are in seconds; ``unit`` ("s", "min" or "h") is the time axis's unit.
    """
    if unit not in _TIME_UNITS:
        raise ConfigurationError(f"unit={unit!r}: use one of {list(_TIME_UNITS)}")
    scale = _TIME_UNITS[unit]
    alerts = alerts.assign(time=alerts["time"] / scale)
    incident = None if incident is None else (incident[0] / scale, incident[1] / scale)
    rules = list(dict.fromkeys(alerts["rule"]))
    fig = Figure(figsize=(9, 2.4 * len(rules) + 0.6), layout="constrained")
    axes = fig.subplots(len(rules), 1, sharex=True, squeeze=False)[:, 0]
    for ax, rule in zip(axes, rules):
        part = alerts[alerts["rule"] == rule]
        ax.plot(part["time"], part["long_burn"], color=COLORS["a"], label="long window")
        ax.plot(part["time"], part["short_burn"], color=COLORS["p99"], label="short window")
        ax.axhline(part["factor"].iloc[0], color=COLORS["error"], linestyle="--", linewidth=1, label="threshold")
        firing = part[part["firing"]]
        if len(firing):
            ax.scatter(firing["time"], [part["factor"].iloc[0]] * len(firing), marker="|", s=200,
                       color=COLORS["error"], label="alert firing")
        if incident is not None:
            ax.axvspan(*incident, color=COLORS["error"], alpha=0.1)
        ax.set_ylabel("burn rate")
        ax.set_title(f"{title}: {rule}", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel(f"time ({unit})")
    return fig


def plot_quantiles(observed: list[float], bounds: list[float], *, estimate: float, exact: float,
                   title: str = "p95: buckets vs exact") -> Figure:
    """The observations as a histogram over the bucket bounds, with the bucket estimate and the exact quantile."""
    fig = Figure(figsize=(8, 3), layout="constrained")
    ax = fig.add_subplot()
    ms = [v * 1000 for v in observed]
    ax.hist(ms, bins=60, color=COLORS["a"], alpha=0.6, label="observations")
    for b in bounds:
        if b * 1000 <= max(ms) * 1.2:
            ax.axvline(b * 1000, color="#999", linewidth=0.7, linestyle=":")
    ax.axvline(exact * 1000, color=COLORS["p50"], linewidth=2, label=f"exact p95 = {exact * 1000:.2f} ms")
    ax.axvline(estimate * 1000, color=COLORS["error"], linewidth=2, linestyle="--",
               label=f"histogram_quantile = {estimate * 1000:.2f} ms")
    ax.set_xlabel("duration (ms); dotted lines: bucket bounds (le)")
    ax.set_ylabel("requests")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig
