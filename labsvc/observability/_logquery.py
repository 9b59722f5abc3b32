"""Centralized logging: one query over every instance's log lines, and from a line to its trace.

``net.logs`` already gathers what every instance logged, in both network
modes, into one DataFrame (:mod:`labsvc.core.logs`), as a log shipper feeds
Elasticsearch or Loki. :func:`query_logs` is the search box on top of it
(by trace id, minimum level, service, instance, time window, text), and
:func:`trace_of` is the step an incident review takes next: from the line
that reported a failure to every span of the request that failed.

>>> errors = query_logs(net.logs, level="ERROR", service="orders")   # doctest: +SKIP
>>> trace_of(errors.iloc[0], net.spans)                              # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from labsvc.core.errors import ConfigurationError

__all__ = ["query_logs", "trace_of", "LEVELS"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _level(name: str) -> int:
    value = logging.getLevelName(str(name).upper())
    if not isinstance(value, int):
        raise ConfigurationError(f"level={name!r} is not a log level; use one of {', '.join(LEVELS)}")
    return value


def query_logs(logs: pd.DataFrame, *, trace_id: str | None = None, level: str | None = None,
               service: str | list[str] | None = None, instance: str | None = None,
               since: float | None = None, until: float | None = None, text: str | None = None) -> pd.DataFrame:
    """The log lines that match every filter given, oldest first.

    ``level`` is a minimum (``"WARNING"`` also returns errors); ``since`` and
    ``until`` bound ``time`` (seconds on the call log's axis, ``until``
    exclusive); ``text`` matches the message or any structured field,
    case-insensitively.
    """
    if not isinstance(logs, pd.DataFrame) or "message" not in logs:
        raise ConfigurationError("query_logs needs the log DataFrame of a network: query_logs(net.logs, ...)")
    keep = pd.Series(True, index=logs.index)
    if trace_id is not None:
        keep &= logs["trace_id"] == trace_id
    if level is not None:
        floor = _level(level)
        keep &= logs["level"].map(lambda name: logging.getLevelName(name) if isinstance(name, str) else 0) >= floor
    if service is not None:
        keep &= logs["service"].isin([service] if isinstance(service, str) else list(service))
    if instance is not None:
        keep &= logs["instance"] == instance
    if since is not None:
        keep &= logs["time"] >= since
    if until is not None:
        keep &= logs["time"] < until
    if text is not None:
        needle = text.lower()
        keep &= logs.apply(lambda r: needle in str(r["message"]).lower() or needle in str(r["fields"]).lower(), axis=1) \
            if len(logs) else keep
    return logs[keep].reset_index(drop=True)


def trace_of(line: Any, spans: pd.DataFrame) -> pd.DataFrame:
    """Every span of the trace a log line (a row of ``net.logs``, or a trace id) belongs to, in start order."""
    trace_id = line if isinstance(line, str) else line["trace_id"]
    if not isinstance(trace_id, str) or not trace_id:  # None, or NaN in a DataFrame
        raise ConfigurationError("this log line has no trace id: it was logged outside a request "
                                 "(background work in a lifespan); pick a line logged while serving a request")
    found = spans[spans["trace_id"] == trace_id]
    if found.empty:
        raise ConfigurationError(f"no span has trace id {trace_id}; was tracing on (net.observe()) when it ran?")
    return found.sort_values("start", kind="stable", ignore_index=True)
