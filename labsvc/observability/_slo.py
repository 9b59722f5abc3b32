"""Service level objectives, error budgets and multiwindow, multi-burn-rate alerts.

An **SLO** says what share of events must be good over a period
(availability: answers that are not 5xx; latency: answers faster than a
threshold). What may be bad is the **error budget**: ``1 - objective`` of
the events. The **burn rate** is how fast it is being spent: the bad share
in a window divided by the budget share, so a burn rate of 1 spends the
whole budget in exactly one period.

Alerting follows *The Site Reliability Workbook*, chapter 5 ("Alerting on
SLOs"), technique 6, multiwindow multi-burn-rate alerts, for a 30-day SLO:

=========  ===========  ============  ===================
severity   long window  short window  burn rate (budget)
=========  ===========  ============  ===================
page       1 h          5 min         14.4 (2 % spent)
page       6 h          30 min        6 (5 % spent)
ticket     3 d          6 h           1 (10 % spent)
=========  ===========  ============  ===================

A rule fires when the burn rate is at or above its factor over *both*
windows: the long one makes it significant, the short one makes it stop
soon after the incident does. On simulated time the windows run at their
true lengths (hours cost no wall time); :func:`scaled` shrinks them by one
factor, for a real-time demo that cannot wait hours.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from labsvc.core.errors import ConfigurationError

__all__ = ["SLO", "BurnRateRule", "WORKBOOK_RULES", "EventSeries", "SLOMonitor", "scaled", "evaluate",
           "error_budget", "alert_summary", "HOUR", "DAY"]

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class SLO:
    """``objective`` of the events must be good over ``period`` seconds (default 30 days)."""

    name: str
    objective: float
    period: float = 30 * DAY

    def __post_init__(self) -> None:
        if not 0 < self.objective < 1:
            raise ConfigurationError(f"objective={self.objective!r}: an SLO is a share between 0 and 1, "
                                     f"e.g. 0.999 for 99.9 %")
        if self.period <= 0:
            raise ConfigurationError(f"period={self.period!r}: the SLO period must be positive (seconds)")

    @property
    def budget(self) -> float:
        """The share of events that may be bad: ``1 - objective``."""
        return 1.0 - self.objective


@dataclass(frozen=True)
class BurnRateRule:
    """Fire when the burn rate is ``>= factor`` over both ``long`` and ``short`` (seconds)."""

    severity: str
    long: float
    short: float
    factor: float

    @property
    def name(self) -> str:
        return f"{self.severity} {self.factor:g}x"


#: The SRE workbook's recommended rules for a 30-day SLO (chapter 5, table 5-8).
WORKBOOK_RULES = (
    BurnRateRule("page", 1 * HOUR, 5 * 60.0, 14.4),
    BurnRateRule("page", 6 * HOUR, 30 * 60.0, 6.0),
    BurnRateRule("ticket", 3 * DAY, 6 * HOUR, 1.0),
)


def scaled(rules: Sequence[BurnRateRule], factor: float) -> tuple[BurnRateRule, ...]:
    """``rules`` with every window divided by ``factor`` (time compressed; the burn-rate factors stay)."""
    if factor <= 0:
        raise ConfigurationError(f"factor={factor!r}: time can only be compressed by a positive factor")
    return tuple(replace(r, long=r.long / factor, short=r.short / factor) for r in rules)


class EventSeries:
    """Good and bad events in time order, with the bad share over any trailing window in O(log n)."""

    def __init__(self, times: Iterable[float] = (), good: Iterable[bool] = ()) -> None:
        self.times: list[float] = []
        self._bad: list[int] = [0]  # prefix sums of bad events
        for t, g in sorted(zip(times, good), key=lambda e: e[0]):
            self.add(t, g)

    def add(self, t: float, good: bool) -> None:
        if self.times and t < self.times[-1]:
            raise ConfigurationError(f"events must arrive in time order; got {t} after {self.times[-1]}")
        self.times.append(float(t))
        self._bad.append(self._bad[-1] + (0 if good else 1))

    def counts(self, start: float, end: float) -> tuple[int, int]:
        """(bad, total) among events with ``start < t <= end``."""
        lo, hi = bisect.bisect_right(self.times, start), bisect.bisect_right(self.times, end)
        return self._bad[hi] - self._bad[lo], hi - lo

    def bad_ratio(self, end: float, window: float) -> float:
        """The bad share over ``(end - window, end]``; NaN with no events."""
        bad, total = self.counts(end - window, end)
        return bad / total if total else float("nan")


def error_budget(slo: SLO, good: Sequence[bool], *, period_events: float | None = None) -> dict:
    """How much of the budget a set of events spent: allowed bad events, actual, share consumed.

    The budget is ``slo.budget`` of ``period_events``, the events of the whole
    SLO period (e.g. a month of traffic at the run's rate); by default, of
    the events given, as if they were the whole period.
    """
    total = len(good)
    bad = int(total - int(np.sum(np.asarray(good, dtype=bool))))
    if period_events is not None and not period_events > 0:
        raise ConfigurationError(f"period_events={period_events!r}: the events of a period are a positive count")
    allowed = slo.budget * (total if period_events is None else period_events)
    return {"slo": slo.name, "events": total, "bad": bad, "allowed_bad": allowed,
            "budget_consumed": bad / allowed if allowed else float("nan"),
            "availability": 1 - bad / total if total else float("nan")}


class SLOMonitor:
    """Evaluates burn-rate rules on events as they happen, on an injectable clock.

    ``record(good)`` stamps an event with ``clock.now()``; ``firing()`` lists
    the rules firing now; ``burn_rate(window)`` is the current burn rate.
    """

    def __init__(self, slo: SLO, rules: Sequence[BurnRateRule], clock: Any) -> None:
        self.slo, self.rules, self.clock = slo, tuple(rules), clock
        self.events = EventSeries()

    def record(self, good: bool) -> None:
        self.events.add(self.clock.now(), bool(good))

    def burn_rate(self, window: float) -> float:
        return self.events.bad_ratio(self.clock.now(), window) / self.slo.budget

    def firing(self) -> list[BurnRateRule]:
        return [r for r in self.rules if _fires(self.events, self.slo, r, self.clock.now())]


def _fires(events: EventSeries, slo: SLO, rule: BurnRateRule, t: float) -> bool:
    long_rate = events.bad_ratio(t, rule.long) / slo.budget
    short_rate = events.bad_ratio(t, rule.short) / slo.budget
    return bool(long_rate >= rule.factor and short_rate >= rule.factor)


def evaluate(times: Sequence[float], good: Sequence[bool], slo: SLO, rules: Sequence[BurnRateRule], *,
             step: float, start: float | None = None, end: float | None = None) -> pd.DataFrame:
    """Burn rates of every rule's windows and whether it fires, every ``step`` seconds.

    One row per evaluation time and rule: ``time, rule, severity, factor,
    long_burn, short_burn, firing``. A window not yet covered by the data
    (before ``start + long``) is still evaluated, as an alerting system does
    right after it starts.
    """
    events = EventSeries(times, good)
    if not events.times:
        return pd.DataFrame(columns=["time", "rule", "severity", "factor", "long_burn", "short_burn", "firing"])
    t0 = events.times[0] if start is None else start
    t1 = events.times[-1] if end is None else end
    rows = []
    for t in np.arange(t0 + step, t1 + step / 2, step):
        for rule in rules:
            long_burn = events.bad_ratio(t, rule.long) / slo.budget
            short_burn = events.bad_ratio(t, rule.short) / slo.budget
            rows.append({"time": float(t), "rule": rule.name, "severity": rule.severity, "factor": rule.factor,
                         "long_burn": long_burn, "short_burn": short_burn,
                         "firing": bool(long_burn >= rule.factor and short_burn >= rule.factor)})
    return pd.DataFrame(rows)


def alert_summary(alerts: pd.DataFrame, incident: tuple[float, float], *, unit: float = 60.0) -> pd.DataFrame:
    """When each rule fired, against an incident: one row per ``slo`` (if present) and ``rule``.

    ``alerts`` is :func:`evaluate`'s table (times in seconds). Columns, in
    ``unit`` (default minutes): ``fires_after`` (first firing, from the
    incident's start), ``stops_after_end`` (last firing, from the incident's
    end), ``firing_for`` (evaluations firing times their spacing), and
    ``long_only``: how long after the incident the long window alone was
    still over the factor while the rule did not fire.
    """
    keys = [k for k in ("slo", "rule") if k in alerts]
    start, end = incident
    rows = []
    for key, part in alerts.groupby(keys, sort=False):
        times = part["time"].drop_duplicates().sort_values()
        step = float(times.diff().min()) if len(times) > 1 else 0.0
        firing = part[part["firing"]]
        long_only = part[(part["long_burn"] >= part["factor"]) & ~part["firing"] & (part["time"] > end)]
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row.update(
            fires_after=(firing["time"].min() - start) / unit if len(firing) else float("nan"),
            stops_after_end=(firing["time"].max() - end) / unit if len(firing) else float("nan"),
            firing_for=len(firing) * step / unit,
            long_only=len(long_only) * step / unit,
        )
        rows.append(row)
    return pd.DataFrame(rows)
