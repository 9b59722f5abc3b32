"""Structured log lines: attribution, fields, the process-mode wire format, and lines outside any service."""

from __future__ import annotations

import io

import pandas as pd

from labsvc.core import logs


def test_a_bound_line_carries_service_instance_trace_and_fields():
    rows: list[dict] = []
    token = logs.bind("orders", "orders-2", "ab" * 16, rows.append)
    try:
        logs.get_logger("orders").info("placed %s", "order-9", extra={"order_id": 9, "total": 12.5})
        try:
            raise ValueError("card declined")
        except ValueError:
            logs.get_logger("orders").exception("payment failed")
    finally:
        logs.unbind(token)
    logs.get_logger("orders").info("after unbind: not collected")
    assert [(r["service"], r["instance"], r["trace_id"], r["level"], r["message"]) for r in rows] == [
        ("orders", "orders-2", "ab" * 16, "INFO", "placed order-9"),
        ("orders", "orders-2", "ab" * 16, "ERROR", "payment failed"),
    ]
    assert rows[0]["fields"] == {"order_id": 9, "total": 12.5}
    assert rows[1]["fields"] == {"exception": "ValueError: card declined"}


def test_rebind_trace_keeps_the_instance_and_changes_the_trace():
    rows: list[dict] = []
    assert logs.rebind_trace("x" * 32) is None  # nothing bound: nothing to keep
    outer = logs.bind("web", "web-1", None, rows.append)
    inner = logs.rebind_trace("c" * 32)
    logs.get_logger().info("inside a request")
    logs.unbind(inner)
    logs.get_logger().info("background")
    logs.unbind(outer)
    assert [(r["instance"], r["trace_id"]) for r in rows] == [("web-1", "c" * 32), ("web-1", None)]


def test_a_process_writes_marked_json_lines_that_read_back_and_other_output_is_skipped():
    out = io.StringIO()
    token = logs.bind("catalog", "catalog-1", None, logs.stream_sink(out))
    logs.get_logger("catalog").warning("slow query", extra={"ms": 250})
    logs.unbind(token)
    text = "INFO:     Started server process\n" + out.getvalue() + logs.MARK + '{"cut short'
    rows = logs.read_marked(text.splitlines())
    assert len(rows) == 1 and rows[0]["fields"] == {"ms": 250} and rows[0]["level"] == "WARNING"
    frame = logs.log_frame(rows, rows[0]["epoch"] - 1.5)
    assert list(frame.columns) == logs.LOG_COLUMNS and frame["time"].iloc[0] == 1.5


def test_log_frame_of_nothing_has_the_columns():
    frame = logs.log_frame([], 0.0)
    assert frame.empty and list(frame.columns) == logs.LOG_COLUMNS
    rows = [{"epoch": 5.0, "service": "b", "instance": "b-1", "level": "INFO", "message": "2nd", "trace_id": None,
             "logger": "x", "fields": {}},
            {"epoch": 4.0, "service": "a", "instance": "a-1", "level": "INFO", "message": "1st", "trace_id": None,
             "logger": "x", "fields": {}}]
    assert list(logs.log_frame(rows, 3.0)["message"]) == ["1st", "2nd"]
    assert isinstance(logs.log_frame(rows, 3.0), pd.DataFrame)


def test_warnings_outside_any_service_reach_stderr_and_info_does_not(capsys):
    logs.get_logger("notebook").warning("outside a service")
    logs.get_logger("notebook").info("quiet")
    err = capsys.readouterr().err
    assert "outside a service" in err and "quiet" not in err
