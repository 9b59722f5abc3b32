"""Notebook 11's checkers accept the right answer and explain the usual wrong ones, in English and Korean."""

import asyncio

import pytest

from labsvc.course import check, set_language
from labsvc.observability import (
    Scraper, exact_quantile, leaf_spans, observed_shop, one_checkout, since_start_quantile, trace_spans,
)
from labsvc.core.load import open_loop
from labsvc.core import simtime


@pytest.fixture(scope="module")
def observed():
    async def scenario():
        net = observed_shop(name="test-nb11-checks")
        async with net:
            trace_id = await one_checkout(net)
            async with Scraper(net, interval="200ms") as prometheus:
                await open_loop(net, "POST http://web.svc/orders", json={"product_id": 1}, requests=40, rate=200,
                                caller="users", progress=False)
            return net.spans, trace_id, prometheus.samples, net.calls

    return simtime.run(scenario())


def test_slowest_span(observed):
    spans, trace_id, _, _ = observed
    leaves = leaf_spans(spans, trace_id)
    right = leaves.loc[leaves["duration"].idxmax()]
    assert check("11.slowest-span", right["span_id"], spans=spans, trace_id=trace_id)
    assert check("11.slowest-span", right, spans=spans, trace_id=trace_id)        # the row itself works too
    t = trace_spans(spans, trace_id)
    root = t.iloc[0]["span_id"]
    assert "root span" in check("11.slowest-span", root, spans=spans, trace_id=trace_id).message
    parent = t[(t["service"] == "orders") & (t["kind"] == "server")].iloc[0]["span_id"]
    assert "has children" in check("11.slowest-span", parent, spans=spans, trace_id=trace_id).message
    other = leaves.loc[leaves["duration"].idxmin(), "span_id"]
    assert "not the slowest" in check("11.slowest-span", other, spans=spans, trace_id=trace_id).message
    assert "span_id" in check("11.slowest-span", 3, spans=spans, trace_id=trace_id).message
    assert "spans=spans" in check("11.slowest-span", "x", spans=None, trace_id=trace_id).message


def test_promql_quantile(observed):
    _, _, samples, calls = observed
    truth = since_start_quantile(samples, 0.99, service="orders", route="/orders")
    assert check("11.promql-quantile", truth, samples=samples, calls=calls)
    assert "unit" in check("11.promql-quantile", truth * 1000, samples=samples, calls=calls).message
    hops = calls[(calls["callee"] == "orders") & (calls["route"] == "/orders")]["duration"]
    exact = exact_quantile(hops, 0.99)
    if exact != truth:
        assert "exact p99" in check("11.promql-quantile", exact, samples=samples, calls=calls).message
    p95 = since_start_quantile(samples, 0.95, service="orders", route="/orders")
    if p95 != truth:
        assert "p95" in check("11.promql-quantile", p95, samples=samples, calls=calls).message
    assert "histogram_quantile" in check("11.promql-quantile", 123.0, samples=samples).message


def test_burn_rate_and_korean_feedback():
    assert check("11.burn-rate", (5.0, False))
    assert "both windows" in check("11.burn-rate", (5.0, True)).message
    assert "5-minute" in check("11.burn-rate", (20.0, True)).message
    assert "error budget" in check("11.burn-rate", (0.5, False)).message
    assert "pair" in check("11.burn-rate", 5.0).message
    set_language("ko")
    try:
        assert "5분" in check("11.burn-rate", (20.0, True)).message
        assert "페이지" in check("11.burn-rate", (5.0, False)).message
    finally:
        set_language("en")
