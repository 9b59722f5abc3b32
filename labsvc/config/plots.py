"""Plots of notebook 12's configuration experiment; each takes the runs' data and returns a Figure.

- :func:`plot_refresh`: per :class:`~labsvc.config.lab.RefreshRun` (its
  ``responses`` DataFrame), the value each instance served over time, the
  repository change and the refresh marked.

:mod:`labsvc.config` imports this module on first use, so services that only
read their configuration never import matplotlib.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from labsvc.config.lab import RefreshRun
from labsvc.core.errors import ConfigurationError

__all__ = ["plot_refresh"]


def plot_refresh(*runs: RefreshRun) -> plt.Figure:
    """Per run, the value each instance served over time (old grey, new colour), change and refresh marked."""
    if not runs:
        raise ConfigurationError("pass at least one RefreshRun")
    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 3.1), sharey=True, squeeze=False)
    for ax, run in zip(axes[0], runs):
        r = run.responses[run.responses["ok"]]
        ys = {name: k for k, name in enumerate(run.instances)}
        y = r["instance"].map(ys)
        ax.scatter(r.loc[~r["new"], "t"], y[~r["new"]], s=8, color="0.7", label="old value")
        ax.scatter(r.loc[r["new"], "t"], y[r["new"]], s=8, color="tab:blue", label="new value")
        ax.axvline(run.changed_at, color="tab:orange", ls="--", lw=1, label="repository changed")
        if run.method != "none":
            ax.axvline(run.refreshed_at, color="tab:green", ls=":", lw=1.5, label="refresh returned")
        failed = int((~run.responses["ok"]).sum())
        ax.set_title(f"{run.method} ({run.mode}): {failed} failed", fontsize=10)
        ax.set_yticks(list(ys.values()), list(ys))
        ax.set_xlabel("time since load start (s)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
