"""Service-level objectives per user journey, and the error budget an experiment spends.

An SLO says what share of a journey's requests must be *good*: served
(:func:`~labsvc.capstone._system.user_was_served`) and, for a latency SLO,
faster than a threshold. Its **error budget** is the share that may be bad
(1 - target): an SLO of 99 % over 1,000 requests allows 10 bad ones. An
experiment *spends* budget when its requests are bad; spending more than
100 % of it means the journey missed its SLO over that run. The budget
arithmetic is notebook 11's (:func:`labsvc.observability.error_budget`);
what this module adds is which requests of a journey count as good.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from labsvc.core.errors import ConfigurationError
from labsvc.observability import SLO as _Objective
from labsvc.observability import error_budget
from labsvc.core.plots import COLORS

__all__ = ["SLO", "SLOS", "slo_report", "plot_slo_report"]


@dataclass(frozen=True)
class SLO:
    """``target`` of ``journey``'s requests must be good; with ``latency_ms``, also faster than that."""

    journey: str
    target: float
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.target < 1:
            raise ConfigurationError(f"target={self.target!r} must be a share between 0 and 1, e.g. 0.99")
        if self.latency_ms is not None and not self.latency_ms > 0:
            raise ConfigurationError(f"latency_ms={self.latency_ms!r} must be a positive number of milliseconds")

    @property
    def name(self) -> str:
        kind = f"latency < {self.latency_ms:g} ms" if self.latency_ms is not None else "availability"
        return f"{self.journey} {kind} {self.target:.1%}"

    @property
    def objective(self) -> _Objective:
        """The same promise as notebook 11's :class:`labsvc.observability.SLO` (for its budget arithmetic)."""
        return _Objective(self.name, self.target)

    def good(self, traffic: pd.DataFrame) -> pd.Series:
        """Which of ``traffic``'s rows of this journey are good events."""
        rows = traffic[traffic["label"] == self.journey]
        good = rows["ok"].astype(bool)
        if self.latency_ms is not None:
            good &= rows["latency"] * 1000 < self.latency_ms
        return good


#: The order system's SLOs: every journey available 99 % of the time; 95 % of product pages under
#: 250 ms, 95 % of checkouts under 2 s.
SLOS = (
    SLO("browse", 0.99), SLO("browse", 0.95, latency_ms=250),
    SLO("checkout", 0.99), SLO("checkout", 0.95, latency_ms=2000),
    SLO("history", 0.99),
)


def slo_report(reports: dict, slos=SLOS) -> pd.DataFrame:
    """One row per (run, SLO): requests, good share, budget allowed and spent, met or not.

    ``reports`` maps a run's name to its :class:`~labsvc.chaos.ChaosReport`
    (or to a traffic DataFrame); the whole run's traffic counts.
    """
    rows = []
    for run, report in reports.items():
        traffic = report if isinstance(report, pd.DataFrame) else report.traffic
        for slo in slos:
            good = slo.good(traffic)
            budget = error_budget(slo.objective, good.tolist())
            n, bad = budget["events"], budget["bad"]
            rows.append({"run": run, "slo": slo.name, "journey": slo.journey, "requests": n,
                         "good_share": float(good.mean()) if n else math.nan, "target": slo.target,
                         "bad": bad, "budget_allowed": budget["allowed_bad"],
                         "budget_spent": budget["budget_consumed"],
                         "met": bool(n) and bad <= budget["allowed_bad"]})
    return pd.DataFrame(rows)


def plot_slo_report(table: pd.DataFrame, title: str = "error budget spent per run") -> Figure:
    """Bars of budget spent (%) per SLO, one group per run; the 100 % line is the SLO."""
    pivot = table.pivot(index="slo", columns="run", values="budget_spent").reindex(pd.unique(table["slo"]))
    fig = Figure(figsize=(8, 0.6 + 0.5 * len(pivot)))
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(pivot.columns))
    palette = [COLORS["a"], COLORS["b"], COLORS["ok"], "#e9c46a", "#6d597a", "#264653"]
    for k, run in enumerate(pivot.columns):
        ys = [i + k * height for i in range(len(pivot.index))]
        ax.barh(ys, (pivot[run].fillna(0) * 100).clip(upper=1000), height=height, label=str(run),
                color=palette[k % len(palette)])
    ax.axvline(100, color="#333333", linestyle="--", linewidth=1)
    ax.set_yticks([i + height * (len(pivot.columns) - 1) / 2 for i in range(len(pivot.index))])
    ax.set_yticklabels(pivot.index, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("error budget spent (%, bars stop at 1000); past the dashed line the SLO is missed")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
