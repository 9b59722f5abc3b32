"""Figures of the deployment experiments (notebook 13): each takes a result of :mod:`labsvc.platform.lab`.

- :func:`plot_healing`: ready instances against time, crashes and restarts marked
  (a :class:`~labsvc.platform.lab.HealResult`);
- :func:`plot_crashloops`: one crash-looping instance under Kubernetes' and
  Cloud Foundry's restart back-off (a :class:`~labsvc.platform.lab.CrashLoopResult`);
- :func:`plot_autoscaling`: offered load and ready instances on one time axis
  (an :class:`~labsvc.platform.lab.AutoscaleResult`);
- :func:`plot_autoscalers`: the HPA and the App Autoscaler's rules on the same
  load ramp (an ``AutoscaleResult`` and an ``AppAutoscalerRun``);
- :func:`plot_rollouts`: failed requests per time bucket during each rollout
  (:class:`~labsvc.platform.lab.RolloutRun` per strategy).

The numbers behind each figure are the result's DataFrames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.platform._cf_autoscaler import AppAutoscalerRun
    from labsvc.platform.lab import AutoscaleResult, CrashLoopResult, HealResult, RolloutRun

__all__ = ["plot_healing", "plot_crashloops", "plot_autoscaling", "plot_autoscalers", "plot_rollouts"]


def plot_healing(result: HealResult) -> Figure:
    """Ready instances against time, with the crashes and restarts marked."""
    fig = Figure(figsize=(8, 2.8), layout="constrained")
    ax = fig.subplots()
    t = result.timeline
    ax.step(t["time"], t["desired"], where="post", linestyle="--", color="#888888", label="desired")
    ax.step(t["time"], t["ready"], where="post", color="#2a9d8f", label="ready")
    ev = result.events
    for _, row in ev[ev.reason == "Restarted"].iterrows():
        ax.axvline(row["time"], color="#e9c46a", linewidth=0.8)
    ax.set_xlabel("time (s, simulated)")
    ax.set_ylabel("instances")
    ax.set_title(f"every instance crashes at {result.crash_at:g} s, web-1 again at {result.crash_again:g} s; "
                 f"restarts (yellow) follow the back-off")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_crashloops(result: CrashLoopResult) -> Figure:
    """When the crash-looping instance ran, per platform, with each restart's wait written above it."""
    platforms = list(result.summary["platform"])
    fig = Figure(figsize=(9, 1.2 + 1.1 * len(platforms)), layout="constrained")
    axes = fig.subplots(len(platforms), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, platforms):
        t = result.timeline[result.timeline["platform"] == name]
        ax.fill_between(t["time"] / 60, t["running"], step="post", color="#2a9d8f", alpha=0.8)
        for _, r in result.restarts[result.restarts["platform"] == name].iterrows():
            if r["wait"] >= 60:
                ax.annotate(f"{r['wait'] / 60:g} min", (r["crashed_at"] / 60, 1.05), fontsize=7)
        row = result.summary[result.summary["platform"] == name].iloc[0]
        ax.set_ylim(0, 1.5)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
        ax.set_title(f"{name}: {row['restarts']} restarts, running {row['seconds_running']:g} s of "
                     f"{result.minutes:g} min", fontsize=9, loc="left")
    axes[-1].set_xlabel(f"minutes (simulated); the process dies {result.crash_after:g} s after every start")
    return fig


def _offered_load(load, bucket: float) -> tuple:
    """A figure with the offered load as bars (requests per second per ``bucket`` seconds), and a twin axis."""
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    per_s = load.assign(b=(load["due"] // bucket) * bucket).groupby("b").size() / bucket
    ax.bar(per_s.index + bucket / 2, per_s.values, width=bucket * 0.9, color="#a8dadc",
           label="requests per second (offered)")
    ax.set_xlabel("time (s, simulated)")
    ax.set_ylabel("requests per second")
    return fig, ax, ax.twinx()


def plot_autoscaling(result: AutoscaleResult, bucket: float = 10.0) -> Figure:
    """Offered load (requests per second, per ``bucket`` seconds) and ready instances on one time axis."""
    fig, ax, ax2 = _offered_load(result.load, bucket)
    t = result.timeline
    ax2.step(t["time"], t["ready"], where="post", color="#e76f51", label="ready instances")
    ax2.step(t["time"], t["desired"], where="post", color="#264653", linestyle="--", label="desired")
    ax2.set_ylabel("instances")
    ax2.set_ylim(0, max(t["desired"].max(), 1) + 1)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8)
    ax.set_title(f"HPA: target {result.target:g} requests/s per instance, 15 s sync; scale-down waits 300 s")
    return fig


def plot_autoscalers(hpa: AutoscaleResult, rules: AppAutoscalerRun, bucket: float = 10.0) -> Figure:
    """Offered load, and the instances the HPA and the App Autoscaler's rules asked for, on one time axis."""
    fig, ax, ax2 = _offered_load(hpa.load, bucket)
    for result, label, color in ((hpa, "HPA (Kubernetes)", "#264653"), (rules, "App Autoscaler (Cloud Foundry)",
                                                                        "#e76f51")):
        t = result.timeline
        ax2.step(t["time"], t["desired"], where="post", color=color, label=label)
    ax2.set_ylabel("desired instances")
    ax2.set_ylim(0, max(hpa.timeline["desired"].max(), rules.timeline["desired"].max()) + 1)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8)
    ax.set_title("the same load ramp: a target (HPA) against threshold rules with breach and cool-down (CF)")
    return fig


def plot_rollouts(runs: dict[str, RolloutRun], bucket: float = 0.5) -> Figure:
    """Failed requests per time bucket during each rollout, side by side."""
    fig = Figure(figsize=(9, 2.6), layout="constrained")
    axes = fig.subplots(1, len(runs), sharey=True, squeeze=False)[0]
    for ax, (s, r) in zip(axes, runs.items()):
        df = r.load.assign(bucket=(r.load["due"] // bucket) * bucket)
        total = df.groupby("bucket").size()
        bad = df[~df["ok"]].groupby("bucket").size().reindex(total.index, fill_value=0)
        ax.bar(total.index, total.values, width=bucket * 0.9, color="#a8dadc", label="requests")
        ax.bar(bad.index, bad.values, width=bucket * 0.9, color="#e76f51", label="failed")
        ax.axvspan(*r.window, color="#999999", alpha=0.15, label="rollout")
        ax.set_title(f"{s}: {int(bad.sum())} failed", fontsize=9)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel(f"requests per {bucket:g} s")
    axes[0].set_ylim(0, axes[0].get_ylim()[1] * 1.5)          # room for the legend above the bars
    axes[0].legend(fontsize=7, loc="upper left", ncols=3)
    return fig
