"""The plots of notebook 08: results of :mod:`labsvc.discovery.lab` in, matplotlib Figures out.

Each function takes what an experiment returned (its tidy DataFrames) and
returns a :class:`~matplotlib.figure.Figure`; notebooks import them from
:mod:`labsvc.discovery.lab`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from labsvc.discovery._lab_balancers import BalancerComparison
    from labsvc.discovery._lab_registry import DiscoveryResult

__all__ = ["plot_discovery", "plot_stale_sweep", "plot_balancers"]


_MARKED = {"crash": "#e76f51", "leave": "#f4a261", "join": "#2a9d8f", "partition": "#6d597a", "heal": "#2a9d8f",
           "evicted": "#264653", "cancelled": "#f4a261", "self_preservation_on": "#6d597a"}


def plot_discovery(result: DiscoveryResult, title: str = "client-side discovery", bucket: float = 10.0) -> Figure:
    """Top: successful requests per instance and failed requests, per ``bucket`` seconds.
    Bottom: catalog instances running, registered, served by the registry's response cache,
    cached by the caller's discovery client and listed by its balancer.
    Vertical lines mark what happened (crash, eviction, ...)."""
    fig = Figure(figsize=(8, 4.6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    r = result.requests.assign(bucket=(result.requests["time"] // bucket) * bucket)
    ok = r[r["ok"]].groupby(["bucket", "instance"]).size().unstack(fill_value=0)
    for name in ok.columns:
        top.plot(ok.index + bucket / 2, ok[name], marker=".", linewidth=1, label=name)
    bad = r[~r["ok"]].groupby("bucket").size()
    if len(bad):
        top.bar(bad.index + bucket / 2, bad.values, width=bucket * 0.9, color="#e76f51", alpha=0.5, label="failed")
    top.set_ylabel(f"requests / {bucket:g} s")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    s = result.samples
    if len(s):
        for column, style in (("running", ":"), ("registered", "-"), ("served", "-."), ("cached", "--"),
                              ("listed", (0, (1, 1)))):
            if column in s:
                bottom.step(s["time"], s[column], where="post", linestyle=style, label=column)
        on = s[s["self_preservation"]]
        if len(on):
            bottom.fill_between(s["time"], 0, s["registered"].max() + 0.5, where=s["self_preservation"], step="post",
                                color="#6d597a", alpha=0.12, label="self-preservation on")
    bottom.set_ylabel("instances")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    times = pd.concat([result.requests["time"], s["time"]]) if len(s) else result.requests["time"]
    if len(times):
        bottom.set_xlim(float(times.min()), float(times.max()))
    for _, e in result.events.iterrows():
        color = _MARKED.get(e["event"])
        if color is not None:
            for ax in (top, bottom):
                ax.axvline(e["time"], color=color, linewidth=0.8, linestyle="--")
            who = e["instance"] if isinstance(e["instance"], str) else ""
            top.annotate(f"{e['event']} {who}".strip(), (e["time"], 1), xycoords=("data", "axes fraction"),
                         rotation=90, va="top", ha="right", fontsize=7, color=color)
    fig.suptitle(title)
    return fig


_STAGE_COLORS = ["#e76f51", "#264653", "#2a9d8f", "#e9c46a", "#8ab17d"]


def plot_stale_sweep(sweep: pd.DataFrame, bound: float, naive: float | None = None,
                     title: str = "how long a crashed instance is handed out") -> Figure:
    """One horizontal bar per seed, split into the stages of :func:`~labsvc.discovery.lab.stale_sweep`,
    with the stacked bound (and ``naive``, the lease alone) as vertical lines."""
    fig = Figure(figsize=(8, 0.28 * len(sweep) + 1.4), layout="constrained")
    ax = fig.subplots()
    stages = [c for c in sweep.columns if c not in ("seed", "window_s")]
    left = pd.Series(0.0, index=sweep.index)
    for k, stage in enumerate(stages):
        ax.barh(range(len(sweep)), sweep[stage], left=left, color=_STAGE_COLORS[k % len(_STAGE_COLORS)], label=stage)
        left = left + sweep[stage].fillna(0)
    ax.axvline(bound, color="black", linewidth=1, label=f"stacked bound {bound:g} s")
    if naive is not None:
        ax.axvline(naive, color="grey", linewidth=1, linestyle="--", label=f"lease alone {naive:g} s")
    ax.set_yticks(range(len(sweep)), [f"seed {s}" for s in sweep["seed"]], fontsize=7)
    ax.set_xlabel("seconds after the crash")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    fig.suptitle(title)
    return fig


def plot_balancers(comparison: BalancerComparison, title: str = "one slow instance, four balancers") -> Figure:
    """Left: each instance's share of requests per balancer (the slow one hatched).
    Right: mean and 90th percentile latency of the user's requests per balancer."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    per = comparison.per_instance
    pivot = per.pivot(index="balancer", columns="instance", values="share").reindex(pd.unique(per["balancer"]))
    width = 0.8 / len(pivot.columns)
    palette = ["#457b9d", "#2a9d8f", "#e9c46a", "#f4a261", "#8ab17d", "#6d597a"]
    for k, inst in enumerate(pivot.columns):
        slow = inst == comparison.slow
        xs = [i + k * width for i in range(len(pivot.index))]
        left.bar(xs, pivot[inst].values * 100, width=width, label=inst + (" (slow)" if slow else ""),
                 color="#e76f51" if slow else palette[k % len(palette)], hatch="//" if slow else None)
    left.set_xticks([i + width * (len(pivot.columns) - 1) / 2 for i in range(len(pivot.index))],
                    [b.replace("_", " ") for b in pivot.index], fontsize=8)
    left.set_ylabel("share of requests (%)")
    left.legend(fontsize=7, ncol=2, frameon=False)
    o = comparison.overall
    xs = range(len(o))
    right.bar([x - 0.2 for x in xs], o["mean_ms"], width=0.4, label="mean", color="#264653")
    right.bar([x + 0.2 for x in xs], o["p90_ms"], width=0.4, label="p90", color="#e9c46a")
    right.set_xticks(list(xs), [b.replace("_", " ") for b in o["balancer"]], fontsize=8, rotation=20)
    right.set_ylabel("user latency (ms)")
    right.legend(fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig
