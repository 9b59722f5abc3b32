"""One checkout's trace across the shop: the right tree in both modes, W3C ids, HTTP semantic conventions, OTLP."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from labsvc import Network
from labsvc.core.errors import ConfigurationError, NetworkStateError
from labsvc.observability import (
    CHECKOUT_TREE, Tracing, leaf_spans, observed_shop, one_checkout, otlp_requested, plot_waterfall, self_time,
    span_tree, trace_spans, waterfall_order,
)

import netapps
from labsvc.core import simtime

MODES = ["inprocess", pytest.param("process", marks=pytest.mark.slow)]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def checkout(mode: str):
    async def scenario():
        net = observed_shop(mode, name=f"test-obs-{mode}")
        async with net:
            trace_id = await one_checkout(net)
            calls = net.calls
        return trace_id, net.spans, calls

    return simtime.run(scenario())


def test_one_checkout_is_one_tree_across_six_services(mode):
    trace_id, spans, calls = checkout(mode)
    t = trace_spans(spans, trace_id)
    assert span_tree(spans, trace_id) == CHECKOUT_TREE
    assert set(t["service"]) == {"users", "web", "orders", "catalog", "inventory", "payment", "delivery"}
    roots = t[t["parent_span_id"].isna()]
    assert list(roots["service"]) == ["users"] and roots["kind"].iloc[0] == "client"
    # Every hop in the call log belongs to the trace, and each hop is one client and one server span.
    assert set(calls["trace_id"]) == {trace_id}
    assert (t["kind"] == "client").sum() == (t["kind"] == "server").sum() == len(calls) == 6
    # Each server span starts after its client span (one wall clock in both modes). In-process it also ends
    # inside it; a child process ends its span after the last byte is sent, so it may outlast the client's.
    by_id = t.set_index("span_id")
    for r in t[t["kind"] == "server"].itertuples():
        parent = by_id.loc[r.parent_span_id]
        assert parent["start"] <= r.start + 1e-3
        if mode == "inprocess":
            assert r.end <= parent["end"] + 1e-6
    # Instances are named on their resources.
    assert set(t.loc[t["service"] == "orders", "instance"]) == {"orders-1"}
    # The waterfall draws the same tree: a bar per span, each child under its parent.
    rows = waterfall_order(spans, trace_id)
    assert len(plot_waterfall(spans, trace_id).axes[0].patches) == len(rows) == 12
    assert list(rows["depth"]) == [0, 1, 2, 3, 4, 5, 4, 5, 4, 5, 4, 5]


def test_spans_use_the_http_semantic_conventions_and_the_wire_ids():
    trace_id, spans, calls = checkout("inprocess")
    t = trace_spans(spans, trace_id)
    server = t[(t["kind"] == "server") & (t["service"] == "catalog")].iloc[0]
    assert server["name"] == "GET /products/{product_id}" and server["http.route"] == "/products/{product_id}"
    assert server["url.path"] == "/products/3" and server["http.request.method"] == "GET"
    assert server["http.response.status_code"] == 200 and server["server.address"] == "catalog.svc"
    client = t[(t["kind"] == "client") & (t["server.address"] == "catalog.svc")].iloc[0]
    assert client["attributes"]["url.full"] == "http://catalog.svc/products/3"
    assert server["parent_span_id"] == client["span_id"] and client["trace_id"] == trace_id
    assert len(trace_id) == 32 and all(len(s) == 16 for s in t["span_id"])


def test_a_failed_hop_marks_client_and_server_spans():
    async def scenario():
        net = observed_shop("inprocess", name="test-obs-fail")
        net.fault("payment", error_rate=1.0)
        async with net:
            trace_id = net.new_trace_id()
            r = await net.client("users", trace_id=trace_id).post("http://web.svc/orders", json={"product_id": 1})
        return r, trace_id, net.spans

    r, trace_id, spans = simtime.run(scenario())
    assert r.status_code == 503
    t = trace_spans(spans, trace_id)
    to_payment = t[t["server.address"] == "payment.svc"].iloc[0]
    assert to_payment["status"] == "error" and to_payment["error.type"] == "503"
    assert not (t["service"] == "payment").any()          # the network failed it: payment never saw it
    orders = t[(t["service"] == "orders") & (t["kind"] == "server")].iloc[0]
    assert orders["status"] == "error" and orders["http.response.status_code"] == 503
    assert list(leaf_spans(spans, trace_id)["server.address"].fillna("")).count("payment.svc") == 1


def test_tracing_is_off_unless_switched_on():
    async def scenario():
        net = Network(seed=1, name="test-obs-off")
        net.add("inventory", netapps.inventory)
        async with net:
            r = await net.client("web").get("http://inventory.svc/stock/a")
            metrics = await net.client("web").get("http://inventory.svc/metrics")
        return r, metrics, net

    r, metrics, net = simtime.run(scenario())
    assert r.status_code == 200 and metrics.status_code == 404
    assert net.instrumentation is None and net.spans.empty


def test_process_mode_must_observe_before_start():
    async def scenario():
        net = Network(seed=1, mode="process", name="test-obs-late")
        net._started = True  # as if started: no process is needed to check the rule
        try:
            net.observe()
        finally:
            net._started = False

    with pytest.raises(NetworkStateError, match="before the network starts"):
        simtime.run(scenario())


def test_waterfall_puts_children_under_their_parent():
    trace_id, spans, _ = checkout("inprocess")
    rows = waterfall_order(spans, trace_id)
    assert list(rows["depth"][:4]) == [0, 1, 2, 3] and rows["depth"].max() == 5
    assert rows.iloc[0]["service"] == "users"
    fig = plot_waterfall(spans, trace_id)
    assert len(fig.axes[0].patches) == len(rows) == 12
    own = self_time(spans, trace_id)
    assert (own >= -1e-3).all() and own.sum() == pytest.approx(rows.iloc[0]["duration"], rel=1e-6)
    with pytest.raises(ConfigurationError, match="no span has trace id"):
        trace_spans(spans, "0" * 32)


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, self.headers["content-type"], body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(b"")

    def log_message(self, *args):
        pass


def test_the_standard_variables_switch_on_the_otlp_exporter(monkeypatch):
    assert not otlp_requested({})
    assert otlp_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert otlp_requested({"OTEL_TRACES_EXPORTER": "otlp,console"})
    assert not otlp_requested({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})

    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    _Receiver.received = []

    async def scenario():
        net = observed_shop("inprocess", name="test-obs-otlp")
        async with net:
            trace_id = await one_checkout(net)
        assert net.instrumentation.tracing.otlp is True
        assert net.instrumentation.tracing.flush()
        return trace_id

    try:
        trace_id = simtime.run(scenario())
    finally:
        server.shutdown()
        thread.join()
    assert _Receiver.received and all(p == "/v1/traces" and t == "application/x-protobuf"
                                      for p, t, _ in _Receiver.received)
    names, services = [], set()
    for _, _, body in _Receiver.received:
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            services |= {a.value.string_value for a in rs.resource.attributes if a.key == "service.name"}
            names += [(s.trace_id.hex(), s.name) for ss in rs.scope_spans for s in ss.spans]
    assert {"web", "orders", "payment"} <= services
    assert (trace_id, "POST /charges") in names


def test_a_tracing_without_otlp_has_no_batch_exporter():
    tracing = Tracing(otlp=False)
    assert tracing._otlp is None and tracing.rows() == []
