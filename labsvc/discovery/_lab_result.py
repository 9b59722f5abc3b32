"""What one :class:`~labsvc.discovery.lab.DiscoveryLab` run measured: :class:`DiscoveryResult`.

Besides the requests and the samples, a result can take a stale window
apart (:meth:`DiscoveryResult.stale_window`): from the moment an instance
crashed or left to the moment the caller's balancer stopped handing it out,
stage by stage, each stage's measured wait beside its bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.core.load import LoadRun

__all__ = ["DiscoveryResult", "stale_bounds"]

_STAGE_COLUMNS = ["stage", "at_s", "waited_s", "bound_s"]


def stale_bounds(settings: dict[str, Any]) -> pd.DataFrame:
    """The longest each stage can take, for a crash and for a clean shutdown (seconds), and their sum.

    ``settings`` as in :attr:`DiscoveryResult.settings` (what
    :meth:`~labsvc.discovery.lab.DiscoveryLab.settings` returns).
    """
    lease = settings["lease_duration"] * (2 if settings["eureka_renew_bug"] else 1)
    cache = settings["response_cache_interval"] or 0.0
    rows = [
        ("lease runs out", lease, 0.0),
        ("eviction run", settings["eviction_interval"], 0.0),
        ("server response cache", cache, cache),
        ("client fetch", settings["refresh_interval"], settings["refresh_interval"]),
        ("balancer list refresh", settings["lb_refresh_interval"], settings["lb_refresh_interval"]),
    ]
    frame = pd.DataFrame(rows, columns=["stage", "crash", "clean shutdown"])
    total = pd.DataFrame([("total", frame["crash"].sum(), frame["clean shutdown"].sum())], columns=frame.columns)
    return pd.concat([frame, total], ignore_index=True)


@dataclass
class DiscoveryResult:
    """One :meth:`DiscoveryLab.run`: every request (with the ``instance`` chosen), the events, samples.

    ``samples`` has, every ``sample_every``, how many catalog instances were
    registered, served by the registry's response cache, cached by the
    caller's discovery client, listed by its balancer, and actually
    running, and whether self-preservation was on. ``settings`` are the
    lab's timers (seconds). Times are seconds on the network's clock.
    """

    requests: pd.DataFrame
    events: pd.DataFrame
    samples: pd.DataFrame
    load: LoadRun | None
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.Series:
        """Requests, errors, availability, and the span from the first to the last error (s)."""
        r = self.requests
        bad = r[~r["ok"]]
        span = float(bad["time"].max() - bad["time"].min()) if len(bad) else 0.0
        return pd.Series({
            "requests": len(r), "errors": len(bad), "availability": float(r["ok"].mean()) if len(r) else math.nan,
            "first_error": float(bad["time"].min()) if len(bad) else math.nan,
            "last_error": float(bad["time"].max()) if len(bad) else math.nan,
            "error_span_s": span,
        })

    def share(self) -> pd.DataFrame:
        """Successful requests per instance."""
        ok = self.requests[self.requests["ok"]]
        counts = ok.groupby("instance").size()
        return pd.DataFrame({"requests": counts, "share": counts / max(1, len(ok))}).reset_index()

    def first(self, event: str) -> float:
        """Network time of the first event called ``event`` (NaN if none)."""
        hits = self.events.loc[self.events["event"] == event, "time"]
        return float(hits.iloc[0]) if len(hits) else math.nan

    def bounds(self) -> pd.DataFrame:
        """:func:`stale_bounds` of this run's settings."""
        return stale_bounds(self.settings)

    # -- a stale window, stage by stage -------------------------------------------------
    def stale_window(self, instance: str) -> pd.DataFrame:
        """How long ``instance`` was still handed out after it crashed or left, stage by stage.

        Rows: the stages the news travels through (the lease running out and
        the eviction run for a crash, the cancellation for a clean shutdown;
        then the server's response cache, the caller's discovery client and
        its balancer's list), each with the time it happened (``at_s``), how
        long it waited after the stage before (``waited_s``) and the longest
        it can wait (``bound_s``); then ``handed out until`` (the balancer
        dropped it: the whole window) and ``last request`` (the last request
        sent to it). A stage that did not happen during the run has NaN.
        """
        e = self.events
        mine = e[(e["instance"] == instance) & (e["source"] == "lab") & e["event"].isin(["crash", "leave"])]
        if mine.empty:
            raise ConfigurationError(f"{instance!r} neither crashed nor left in this run; "
                                     f"pass one of {sorted(set(e.loc[e['event'].isin(['crash', 'leave']), 'instance']))}")
        start, kind = float(mine["time"].iloc[0]), str(mine["event"].iloc[0])
        b = stale_bounds(self.settings).set_index("stage")["crash"]
        rows: list[tuple] = [("crash" if kind == "crash" else "leave (cancel)", start, 0.0, 0.0)]
        if kind == "crash":
            expired = self._expiry(instance, start)
            evicted = self._after("evicted", start, instance=instance)
            rows += [("lease runs out", expired, expired - start, b["lease runs out"]),
                     ("eviction run", evicted, evicted - expired, b["eviction run"])]
            gone = evicted
        else:
            gone = self._after("cancelled", start, instance=instance)
            rows.append(("cancelled", gone, gone - start, 0.0))
        for stage, event in (("server response cache", "response_cache_updated"), ("client fetch", "fetched"),
                             ("balancer list refresh", "list refreshed")):
            at = self._after(event, gone, without=instance)
            rows.append((stage, at, at - gone, b[stage]))
            gone = at
        total = b["total"] if kind == "crash" else stale_bounds(self.settings).set_index("stage")["clean shutdown"]["total"]
        rows.append(("handed out until", gone, gone - start, total))
        sent = self.requests.loc[(self.requests["instance"] == instance) & (self.requests["time"] >= start), "time"]
        last = float(sent.max()) if len(sent) else math.nan
        rows.append(("last request", last, last - start, total))
        return pd.DataFrame(rows, columns=_STAGE_COLUMNS)

    def _after(self, event: str, since: float, *, instance: str | None = None, without: str | None = None) -> float:
        """Time of the first ``event`` at or after ``since`` (for ``instance``, or whose list lacks ``without``)."""
        if math.isnan(since):
            return math.nan
        e = self.events[(self.events["event"] == event) & (self.events["time"] >= since)]
        if instance is not None:
            e = e[e["instance"] == instance]
        if without is not None:
            e = e[~e["detail"].fillna("").str.split(",").apply(lambda names: without in names)]
        return float(e["time"].iloc[0]) if len(e) else math.nan

    def _expiry(self, instance: str, crash: float) -> float:
        """When the lease of ``instance`` ran out: the last renewal before the crash plus the lease (twice with the bug)."""
        e = self.events
        beats = e.loc[(e["instance"] == instance) & (e["event"] == "renewed") & (e["time"] <= crash), "time"]
        lease = self.settings["lease_duration"]
        if len(beats):
            return float(beats.max()) + lease * (2 if self.settings["eureka_renew_bug"] else 1)
        joined = e.loc[(e["instance"] == instance) & (e["event"] == "registered") & (e["time"] <= crash), "time"]
        return float(joined.max()) + lease if len(joined) else math.nan
