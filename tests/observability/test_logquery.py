"""One query over every instance's log lines, and from a failing request's line to its trace."""

import asyncio

import pandas as pd
import pytest

from labsvc.core.errors import ConfigurationError
from labsvc.observability import observed_shop, query_logs, trace_of
from labsvc.core import simtime

LOGS = pd.DataFrame([
    {"time": 0.1, "service": "orders", "instance": "orders-1", "level": "INFO", "message": "order placed",
     "trace_id": "a" * 32, "logger": "x", "fields": {"order_id": 1001}},
    {"time": 0.2, "service": "inventory", "instance": "inventory-1", "level": "WARNING", "message": "out of stock",
     "trace_id": "b" * 32, "logger": "x", "fields": {"product_id": 4}},
    {"time": 0.3, "service": "orders", "instance": "orders-2", "level": "ERROR", "message": "dependency failed",
     "trace_id": "b" * 32, "logger": "x", "fields": {"url": "http://payment.svc/charges"}},
    {"time": 0.4, "service": "web", "instance": "web-1", "level": "INFO", "message": "warm", "trace_id": None,
     "logger": "x", "fields": {}},
])


def test_filters_combine():
    assert list(query_logs(LOGS, level="WARNING")["message"]) == ["out of stock", "dependency failed"]
    assert list(query_logs(LOGS, trace_id="b" * 32, service="orders")["instance"]) == ["orders-2"]
    assert list(query_logs(LOGS, since=0.2, until=0.4)["time"]) == [0.2, 0.3]
    assert list(query_logs(LOGS, text="PAYMENT")["message"]) == ["dependency failed"]   # fields too, any case
    assert list(query_logs(LOGS, service=["web", "inventory"])["service"]) == ["inventory", "web"]
    assert query_logs(LOGS, level="CRITICAL").empty
    with pytest.raises(ConfigurationError, match="not a log level"):
        query_logs(LOGS, level="LOUD")
    with pytest.raises(ConfigurationError, match="net.logs"):
        query_logs([1, 2])


def test_from_the_error_line_of_a_failed_checkout_to_its_trace():
    async def scenario():
        net = observed_shop(name="test-logquery")
        async with net:
            c = net.client("users")
            await c.post("http://web.svc/orders", json={"product_id": 1})
            net.fault("payment", error_rate=1.0)
            failed = await c.post("http://web.svc/orders", json={"product_id": 2})
        return failed, net

    failed, net = simtime.run(scenario())
    assert failed.status_code == 503
    line = query_logs(net.logs, level="ERROR", service="orders").iloc[0]
    assert line["fields"]["url"] == "http://payment.svc/charges"
    trace = trace_of(line, net.spans)
    assert trace["trace_id"].nunique() == 1 and len(trace) == 9   # payment never answered, delivery never called
    assert trace.iloc[0]["service"] == "users" and trace["status"].eq("error").sum() >= 4
    background = LOGS.iloc[3]
    with pytest.raises(ConfigurationError, match="no trace id"):
        trace_of(background, net.spans)
