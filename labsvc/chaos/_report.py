"""What an experiment found: the verdict, and the evidence behind it as DataFrames."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from labsvc.chaos._format import Experiment

__all__ = ["ChaosReport", "TRAFFIC_COLUMNS", "VERDICTS"]

#: One row per user request: its journey, when it was sent (seconds from the
#: start of the experiment), its latency (seconds), status (0: no answer).
TRAFFIC_COLUMNS = ["i", "label", "sent", "latency", "status", "error", "ok"]

VERDICTS = {
    ("completed", False): "held",
    ("completed", True): "deviated",
    ("failed", False): "not steady before the method",
    ("aborted", False): "aborted: an activity failed",
}


@dataclass
class ChaosReport:
    """The result of :func:`labsvc.chaos.run_experiment`.

    - ``status``: ``completed``, ``failed`` (not steady before the method) or
      ``aborted`` (an activity raised; the rollbacks still ran);
    - ``deviated``: the hypothesis did not hold while the method's effects were in place;
    - ``probes``: every hypothesis check (phase, probe, value, tolerance, met);
    - ``activities``: every action and rollback, with start, end, status, output or error;
    - ``traffic``: every user request; ``phases``: when each phase ran;
    - ``journal``: the same run as a Chaos Toolkit journal (a dict in the
      ``journal.json`` format ``chaos run`` writes); :meth:`write_journal`
      saves it.
    """

    experiment: "Experiment"
    status: str
    deviated: bool
    probes: pd.DataFrame
    activities: pd.DataFrame
    traffic: pd.DataFrame
    phases: pd.DataFrame
    journal: dict[str, Any] = field(default_factory=dict, repr=False)

    def write_journal(self, path: str | Path) -> Path:
        """Save :attr:`journal` as ``journal.json``-style JSON at ``path``; returns the path."""
        from labsvc.chaos._journal import write_journal

        if not self.journal:
            raise ValueError("this report has no journal: it was not made by labsvc.chaos.run_experiment")
        return write_journal(self.journal, path)

    @property
    def verdict(self) -> str:
        """``held``, ``deviated``, or why the hypothesis could not be tested."""
        return VERDICTS[(self.status, self.deviated)]

    @property
    def held(self) -> bool:
        """True when the steady state held through the method."""
        return self.status == "completed" and not self.deviated

    def phase_summary(self) -> pd.DataFrame:
        """Requests, availability and p50/p95/p99 (ms) of the users' traffic in each phase."""
        rows = []
        for _, ph in self.phases.iterrows():
            window = self.traffic[(self.traffic["sent"] >= ph["start"]) & (self.traffic["sent"] < ph["end"])]
            row = {"phase": ph["phase"], "start": ph["start"], "end": ph["end"], "requests": len(window),
                   "availability": float(window["ok"].mean()) if len(window) else math.nan}
            for p in (50, 95, 99):
                row[f"p{p}_ms"] = float(window["latency"].quantile(p / 100) * 1000) if len(window) else math.nan
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> pd.Series:
        """One line for comparing experiments side by side."""
        phases = self.phase_summary().set_index("phase") if len(self.phases) else pd.DataFrame()
        out = {"experiment": self.experiment.title, "verdict": self.verdict,
               "probes_met": int(self.probes["met"].sum()) if len(self.probes) else 0,
               "probes_checked": len(self.probes)}
        for phase in ("before", "during", "recovery"):
            if phase in phases.index:
                out[f"availability_{phase}"] = phases.loc[phase, "availability"]
                out[f"p95_ms_{phase}"] = phases.loc[phase, "p95_ms"]
        return pd.Series(out)

    def plot(self, bin_seconds: float = 0.25):
        """Availability and latency of the users' traffic over time, phases shaded, actions marked."""
        from labsvc.chaos.plots import plot_report

        return plot_report(self, bin_seconds=bin_seconds)

    def __repr__(self) -> str:
        return (f"<ChaosReport {self.experiment.title!r}: {self.verdict}; "
                f"{len(self.traffic)} requests, {len(self.activities)} activities>")
