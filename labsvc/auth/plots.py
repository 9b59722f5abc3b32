"""Plots of notebook 12's security experiments; each takes a DataFrame and returns a Figure.

- :func:`plot_denials`: the calls :func:`~labsvc.auth.denied_calls` refused,
  by reason, 401 (who are you?) and 403 (you may not) apart.

:mod:`labsvc.auth` imports this module on first use, so services that only
check tokens never import matplotlib.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

__all__ = ["plot_denials"]


def plot_denials(calls: pd.DataFrame) -> plt.Figure:
    """Refused calls by reason: 401 (who are you?) and 403 (you may not) in two colours."""
    denied = calls[calls["status"] >= 400]
    counts = denied.groupby(["reason", "status"]).size().unstack("status", fill_value=0)
    for status in (401, 403):
        if status not in counts:
            counts[status] = 0
    counts = counts[[401, 403]].sort_values([403, 401])
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    counts.plot.barh(stacked=True, ax=ax, color={401: "tab:red", 403: "tab:orange"}, width=0.7)
    allowed = int((calls["status"] < 400).sum())
    ax.set_title(f"{len(denied)} refused calls by reason ({allowed} allowed)", fontsize=10)
    ax.set_xlabel("calls")
    ax.set_ylabel("")
    ax.legend(title="status", fontsize=8)
    fig.tight_layout()
    return fig
