"""Structured logs with correlation ids: each line a service logs knows its service, instance and trace.

A service logs with the standard :mod:`logging` module, through a logger
under ``labsvc.services`` (:func:`get_logger`). Keyword data goes in
``extra``; it is kept as structured fields, not formatted into the text:

>>> log = get_logger("orders")
>>> log.info("order placed", extra={"order_id": 42, "total": 9.5})  # doctest: +SKIP

The network adds the rest. While it runs a request, it binds the handling
instance and the request's trace id (the W3C ``traceparent`` it carries) to
the current context, so every line logged while serving that request, in
any service along the way, carries the same ``trace_id`` as the hops in the
call log: the correlation id that joins them. Background work started in a
service's lifespan logs as its instance, with no trace.

Where lines go: in-process, into the network's memory; in process mode,
each child writes them as JSON lines to its own output, which the network
reads back. Either way ``net.logs`` is one DataFrame with the columns
:data:`LOG_COLUMNS`, on the call log's time axis.

Lines logged outside any service (from notebook code, say) are not
collected; warnings and errors among them reach ``stderr`` as with
unconfigured :mod:`logging`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from contextvars import ContextVar, Token
from typing import Any, NamedTuple

import pandas as pd

__all__ = ["LOGGER", "LOG_COLUMNS", "get_logger", "log_frame"]

#: The parent of every service logger.
LOGGER = "labsvc.services"
#: The columns of ``net.logs``.
LOG_COLUMNS = ["time", "service", "instance", "level", "message", "trace_id", "logger", "fields"]
#: How a child process marks a log line in its output, for the network to read back.
MARK = "LABSVC-LOG "

Sink = Callable[[dict], None]

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class _Where(NamedTuple):
    # A tuple: made on every in-process hop, so it must be cheap to build.
    service: str
    instance: str
    trace_id: str | None
    sink: Sink


_where: ContextVar[_Where | None] = ContextVar("labsvc_log_where", default=None)


def get_logger(name: str | None = None) -> logging.Logger:
    """The logger for a service's code: ``labsvc.services.<name>`` (or the parent of them all)."""
    return logging.getLogger(LOGGER if not name else f"{LOGGER}.{name}")


def bind(service: str, instance: str, trace_id: str | None, sink: Sink) -> Token:
    """Attribute lines logged from now on, in this context, to ``instance`` of ``service`` and ``trace_id``.

    Returns the token for :func:`unbind`. Tasks started meanwhile inherit the
    binding (this is how a lifespan's background work logs as its instance).
    """
    return _where.set(_Where(service, instance, trace_id, sink))


def unbind(token: Token) -> None:
    """Restore the attribution that was current before :func:`bind`."""
    _where.reset(token)


def rebind_trace(trace_id: str | None) -> Token | None:
    """Keep the current service and instance, with another trace (a request arriving in a process)."""
    where = _where.get()
    if where is None:
        return None
    return _where.set(_Where(where.service, where.instance, trace_id, where.sink))


class _Collector(logging.Handler):
    """Sends each record, with its service, instance and trace, to the sink bound in its context."""

    def emit(self, record: logging.LogRecord) -> None:
        where = _where.get()
        if where is None:
            if record.levelno >= logging.lastResort.level:
                logging.lastResort.handle(record)
            return
        try:
            fields = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
            if record.exc_info and record.exc_info[0] is not None:
                fields["exception"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
            where.sink({
                "epoch": record.created, "service": where.service, "instance": where.instance,
                "level": record.levelname, "message": record.getMessage(), "trace_id": where.trace_id,
                "logger": record.name, "fields": fields,
            })
        except Exception:  # logging must never break the service that logs
            self.handleError(record)


def _install() -> None:
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(h, _Collector) for h in logger.handlers):
        logger.addHandler(_Collector())
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        logger.propagate = False


_install()  # once, on import: every service logger reports to the collector


def stream_sink(stream: Any = None) -> Sink:
    """A sink that writes each line as marked JSON (what a child process does)."""

    def write(row: dict) -> None:
        out = stream if stream is not None else sys.stderr
        out.write(MARK + json.dumps(row, default=str) + "\n")
        out.flush()

    return write


def read_marked(lines: Iterable[str]) -> list[dict]:
    """The log rows among a process's output lines (other output is skipped)."""
    rows = []
    for line in lines:
        at = line.find(MARK)
        if at >= 0:
            try:
                rows.append(json.loads(line[at + len(MARK):]))
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
    return rows


def log_frame(rows: Iterable[dict], epoch0: float) -> pd.DataFrame:
    """Rows from sinks as a DataFrame, ``time`` in seconds since ``epoch0``, oldest first."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=LOG_COLUMNS)
    frame["time"] = frame.pop("epoch") - epoch0
    return frame.sort_values("time", kind="stable").reset_index(drop=True)[LOG_COLUMNS]
