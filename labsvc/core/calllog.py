"""The call log: one row per hop, the raw material of every measurement.

Each row records who called whom (caller, callee service and instance), what
(method, route template, path), how it went (status, error, injected fault)
and when (start, seconds since the network started, and duration), plus the
trace id that ties the hops of one user request together. With a capacity
model (:mod:`labsvc.core.capacity`) ``queued`` is the wait for a worker
slot and ``service`` the service time (both 0 without one). Coupling,
chattiness, availability and latency are all computed from it.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import pandas as pd

__all__ = ["Call", "CallLog", "COLUMNS"]


class Call(NamedTuple):
    caller: str
    caller_instance: str
    callee: str
    instance: str
    method: str
    route: str
    path: str
    status: int
    error: str
    fault: str
    start: float
    duration: float
    trace_id: str
    queued: float = 0.0  # waited for a worker slot (capacity model), in seconds
    service: float = 0.0  # service time drawn by the capacity model, in seconds
    seq: int = 0  # the order hops began in: ties on simulated time are common (a call and the calls it makes)


COLUMNS = [name for name in Call._fields if name != "seq"]


class CallLog:
    """An append-only list of :class:`Call` rows with a DataFrame view."""

    def __init__(self) -> None:
        self._rows: list[Call] = []
        self._lock = threading.Lock()  # process mode appends from the proxy thread

    def append(self, call: Call) -> None:
        self._rows.append(call)  # list.append is atomic in CPython

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        """Forget every recorded call (e.g. between two experiments)."""
        with self._lock:
            self._rows = []

    def since(self, index: int) -> pd.DataFrame:
        """The calls recorded after the first ``index`` ones."""
        return self._frame(self._rows[index:])

    def frame(self) -> pd.DataFrame:
        """Every call as a DataFrame with the columns in :data:`COLUMNS`."""
        return self._frame(list(self._rows))

    @staticmethod
    def _frame(rows: list[Call]) -> pd.DataFrame:
        df = pd.DataFrame.from_records(rows, columns=list(Call._fields))
        df = df.astype({"status": "int64", "start": "float64", "duration": "float64", "queued": "float64",
                        "service": "float64"})
        # Rows are appended when a hop ends; read them in the order calls started.
        return df.sort_values(["start", "seq"], kind="stable", ignore_index=True)[COLUMNS]
