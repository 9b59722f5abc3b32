"""What the gateway records about each request, and the tables made from it.

:class:`Recorder` keeps one tuple per request (at most ``max_records``, the
oldest dropped first) on the gateway's clock, and turns them into the
DataFrames behind :meth:`Gateway.metrics <labsvc.gateway.Gateway.metrics>`
and :meth:`Gateway.summary <labsvc.gateway.Gateway.summary>`. :data:`OUTCOMES`
are the three things that can happen to a request at the edge.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import pandas as pd

from labsvc.core.clock import Clock

OUTCOMES = ("admitted", "throttled", "rejected")
METRIC_COLUMNS = ["time", "route", "client", "method", "path", "outcome", "status", "problem", "latency"]


class Recorder:
    """One row per request the gateway saw, with times relative to the last :meth:`reset`."""

    def __init__(self, clock: Clock, max_records: int) -> None:
        self.clock = clock
        self._records: deque[tuple] = deque(maxlen=max_records)
        self._t0 = clock.now()

    def record(self, start: float, route: str, client: str, method: str, path: str, outcome: str,
               status: int, slug: str) -> None:
        now = self.clock.now()
        self._records.append((start - self._t0, route, client, method, path, outcome, status, slug, now - start))

    def frame(self) -> pd.DataFrame:
        """The records as a DataFrame with :data:`METRIC_COLUMNS`."""
        return pd.DataFrame(list(self._records), columns=METRIC_COLUMNS)

    def summary(self, by: str | Iterable[str] = ("route", "client")) -> pd.DataFrame:
        """Requests, each outcome and admitted 5xx answers (``upstream_errors``) per ``by``."""
        keys = [by] if isinstance(by, str) else list(by)
        df = self.frame()
        if df.empty:
            return pd.DataFrame(columns=[*keys, "requests", *OUTCOMES, "upstream_errors"])
        table = pd.crosstab([df[k] for k in keys], df["outcome"]).reindex(columns=list(OUTCOMES), fill_value=0)
        table.columns.name = None
        table.insert(0, "requests", table.sum(axis=1))
        errors = df[(df["outcome"] == "admitted") & (df["status"] >= 500)].groupby(keys).size()
        table["upstream_errors"] = errors.reindex(table.index, fill_value=0).astype(int)
        return table.reset_index()

    def reset(self) -> None:
        """Forget the records and restart the time axis."""
        self._records.clear()
        self._t0 = self.clock.now()
