"""Figures of notebook 05 (API first); each takes a DataFrame and returns a matplotlib Figure.

- :func:`plot_maturity`: the REST maturity level each API reaches (a
  :func:`~labsvc.api.maturity_table`).

The notebook's other figure, contract-test checks per backend, is the core's
:func:`labsvc.core.plots.plot_bars` over a table of :func:`~labsvc.api.contract_test`
reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["plot_maturity"]


def plot_maturity(table: pd.DataFrame, title: str = "REST maturity level per API") -> Figure:
    """Horizontal bars: the level each API reaches (the guide asks for 2 or more)."""
    fig = Figure(figsize=(7, 0.55 * len(table) + 1.2))
    ax = fig.add_subplot()
    colours = ["#e76f51", "#f4a261", "#2a9d8f", "#264653"]
    labels = list(table["api"])[::-1]
    levels = list(table["level"])[::-1]
    ax.barh(labels, [lv + 0.08 for lv in levels], color=[colours[lv] for lv in levels])
    ax.axvline(2, color="#555", linestyle="--", linewidth=1)
    ax.text(2.03, len(labels) - 0.5, "guide: level 2 or more", fontsize=8, va="top")
    ax.set_xlim(0, 3.3)
    ax.set_xticks([0, 1, 2, 3])
    ax.set_xlabel("Richardson maturity level")
    ax.set_title(title)
    fig.tight_layout()
    return fig
