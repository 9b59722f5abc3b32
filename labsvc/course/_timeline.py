"""The Studio's figures: a load run per time window, the plot of it, and what was in force when it began.

:mod:`labsvc.course.studio` re-exports :func:`timeline` and :func:`plot_timeline`.
"""

from __future__ import annotations

import math

import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.core.network import Network

__all__ = ["timeline", "plot_timeline", "in_force"]


def timeline(df: pd.DataFrame, window: float = 0.25) -> pd.DataFrame:
    """Requests, availability and latency percentiles (ms) per ``window`` seconds of a load run.

    ``df`` is a :class:`~labsvc.core.load.LoadRun`'s DataFrame; requests are put
    in the window of their due time, so a stall shows where it began.

    >>> df = pd.DataFrame({"due": [0.0, 0.1, 0.3], "latency": [0.01, 0.02, 0.5], "ok": [True, True, False]})
    >>> timeline(df, window=0.25)[["t", "requests", "availability"]].to_dict("records")
    [{'t': 0.0, 'requests': 2, 'availability': 1.0}, {'t': 0.25, 'requests': 1, 'availability': 0.0}]
    """
    if not (isinstance(window, (int, float)) and window > 0 and math.isfinite(window)):
        raise ConfigurationError(f"window={window!r} must be a positive number of seconds, e.g. 0.25")
    columns = ["t", "requests", "availability", "p50_ms", "p95_ms"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    bucket = (df["due"] // window) * window
    grouped = df.groupby(bucket.round(9))
    out = pd.DataFrame({
        "requests": grouped.size(),
        "availability": grouped["ok"].mean(),
        "p50_ms": grouped["latency"].quantile(0.5) * 1000,
        "p95_ms": grouped["latency"].quantile(0.95) * 1000,
    })
    out.index.name = "t"
    return out.reset_index()[columns]


def plot_timeline(table: pd.DataFrame, actions: pd.DataFrame | None = None, *, title: str = "live load"):
    """Availability and p95 latency per window, with ``actions`` drawn as labelled vertical lines."""
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 4.5))
    top.step(table["t"], table["availability"], where="post", color="#2a9d8f")
    top.set_ylim(-0.05, 1.05)
    top.set_ylabel("availability")
    top.set_title(title)
    bottom.step(table["t"], table["p95_ms"], where="post", color="#e76f51")
    bottom.set_ylabel("p95 latency (ms)")
    bottom.set_xlabel("seconds since the load started")
    if actions is not None:
        for row in actions.itertuples():
            for ax in (top, bottom):
                ax.axvline(row.time, color="#6d597a", linestyle="--", linewidth=1)
            top.text(row.time, 0.03, f" {row.action} {row.target}", rotation=90, va="bottom", fontsize=8,
                     color="#6d597a")
    fig.tight_layout()
    plt.close(fig)
    return fig


def in_force(net: Network) -> list[tuple[float, str, str, str]]:
    """What is already broken on ``net`` as actions at time 0: faults, stopped instances, partitions.

    A load run's plot marks these at its start, so a fault set (or clicked)
    before the run shows where the run's errors and latency came from.
    Rows are ``(0.0, action, target, detail)`` as in :attr:`Studio.actions`.
    """
    rows = []
    for service in net.services.values():
        holders = [(service.name, service.fault)] + [(i.name, i.fault) for i in service.instances]
        rows += [(0.0, "fault", name, fault.describe()) for name, fault in holders if fault is not None and fault.active]
        rows += [(0.0, "crash", i.name, "down when the run began") for i in service.instances if not i.running]
    rows += [(0.0, "partition", "|".join(sorted(pair)), "in force when the run began") for pair in net.faults.partitions]
    return rows
