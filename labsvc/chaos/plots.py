"""Plots of chaos experiments; each takes a report (or reports) and returns a Figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from labsvc.core.plots import COLORS

__all__ = ["plot_report", "plot_verdicts"]

_PHASE_COLORS = {"before": "#e9f5f3", "during": "#fdeee9", "rollback": "#fff6dd", "recovery": "#eaf1f7"}


def plot_report(report, bin_seconds: float = 0.25) -> Figure:
    """Two panels over the experiment's time axis: availability per time bin, and each request's latency."""
    fig = Figure(figsize=(8, 4.6))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
    traffic = report.traffic
    for _, ph in report.phases.iterrows():
        for ax in (top, bottom):
            ax.axvspan(ph["start"], ph["end"], color=_PHASE_COLORS.get(ph["phase"], "#f0f0f0"), zorder=0)
        top.text((ph["start"] + ph["end"]) / 2, 1.04, ph["phase"], ha="center", va="bottom", fontsize=8,
                 transform=top.get_xaxis_transform())
    if len(traffic):
        bins = np.floor(traffic["sent"] / bin_seconds) * bin_seconds
        share = traffic.groupby(bins)["ok"].mean()
        top.step(share.index + bin_seconds / 2, share.values * 100, where="mid", color=COLORS["a"])
        ok, bad = traffic[traffic["ok"]], traffic[~traffic["ok"]]
        bottom.scatter(ok["sent"], ok["latency"] * 1000, s=5, color=COLORS["ok"], label="ok")
        if len(bad):
            bottom.scatter(bad["sent"], bad["latency"] * 1000, s=9, color=COLORS["error"], marker="x", label="failed")
        bottom.legend(loc="upper right", fontsize=8)
    for _, act in report.activities.iterrows():
        color = COLORS["error"] if act["status"] == "failed" else "#555555"
        for ax in (top, bottom):
            ax.axvline(act["start"], color=color, linestyle=":", linewidth=1)
        bottom.annotate(act["name"], (act["start"], 1.0), xycoords=("data", "axes fraction"), rotation=90,
                        fontsize=7, va="top", ha="right", color=color)
    top.set_ylim(-5, 105)
    top.set_ylabel("availability (%)")
    bottom.set_ylabel("latency (ms)")
    bottom.set_xlabel("time since the experiment started (s)")
    fig.suptitle(f"{report.experiment.title}: {report.verdict}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_verdicts(reports: dict[str, object] | list, metric: str = "availability_during") -> Figure:
    """One bar per experiment (or per design): ``metric`` from each report's summary, coloured by verdict."""
    items = list(reports.items()) if isinstance(reports, dict) else [(r.experiment.title, r) for r in reports]
    table = pd.DataFrame([{"name": name, "value": r.summary().get(metric, np.nan), "held": r.held}
                          for name, r in items])
    fig = Figure(figsize=(7, 0.5 + 0.45 * len(table)))
    ax = fig.add_subplot()
    colors = [COLORS["ok"] if held else COLORS["error"] for held in table["held"]]
    scale = 100 if metric.startswith("availability") else 1
    ax.barh(table["name"], table["value"] * scale, color=colors)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} (%)" if scale == 100 else metric)
    ax.set_title("green: hypothesis held · red: it did not")
    fig.tight_layout()
    return fig
