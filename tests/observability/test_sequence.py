"""Sequence diagrams from the call log: exact Mermaid for small scenarios, faults, folding, SVG, bad input."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from fastapi import Request

from labsvc import Network, Problem, create_service, http
from labsvc.core import simtime
from labsvc.core.calllog import Call, CallLog
from labsvc.core.errors import ConfigurationError
from labsvc.core.experiment import NetworkClock
from labsvc.gateway import Aggregation, Part, Route, gateway_app, upstream_breaker, upstream_retry
from labsvc.messaging.lab import OrderFlow
from labsvc.observability import MERMAID_MIME, SequenceDiagram, UnknownTraceError, sequence_diagram
from labsvc.observability._sequence import escape


def _catalog():
    app = create_service("catalog")
    calls = {"flaky": 0}

    @app.get("/products/{pid}")
    async def product(pid: int):
        return {"pid": pid}

    @app.get("/flaky")
    async def flaky():
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise Problem(503, "Busy")
        return {"ok": True}

    return app


def _reviews():
    app = create_service("reviews")

    @app.get("/reviews/{pid}")
    async def reviews(pid: int):
        return []

    return app


def _shop(name: str, breaker=None) -> Network:
    net = Network(seed=7, name=name)
    net.add("catalog", _catalog)
    net.add("reviews", _reviews)
    routes = [Route("/catalog", "catalog", retry=upstream_retry(3), timeout="100ms"),
              Route("/guarded", "catalog", breaker=breaker)]
    page = Aggregation("/pages/{pid}", {"product": Part("catalog", "/products/{pid}"),
                                        "reviews": Part("reviews", "/reviews/{pid}")})
    net.add("gateway", lambda: gateway_app(routes, aggregations=[page]))
    return net


def _run(name: str, *paths: str, fault: dict | None = None, breaker=None):
    async def scenario():
        net = _shop(name, breaker)
        async with net:
            if fault:
                net.fault("catalog", **fault)
            client = net.client("client")
            for path in paths:
                await client.get(f"http://gateway.svc{path}")
            return net.calls

    return simtime.run(scenario())


def test_a_first_call_client_gateway_service():
    d = sequence_diagram(_run("seq-first", "/catalog/products/1"), trace=0)
    assert d.mermaid == (
        "sequenceDiagram\n"
        f"    title {d.title}\n"
        "    participant client\n"
        "    participant gateway\n"
        "    participant catalog\n"
        "    client->>gateway: GET /catalog/products/1\n"
        "    gateway->>catalog: GET /products/{pid}\n"
        "    catalog-->>gateway: 200 · 1 ms\n"
        "    gateway-->>client: 200 · 2 ms\n"
    )
    assert d.title.startswith("trace ") and d.title.endswith("· 2 hops · 2 ms")
    assert d.participants == ["client", "gateway", "catalog"] and d.arrows == 4 and d.hops == 2


def test_the_same_scenario_draws_the_same_text_and_svg_twice():
    a = sequence_diagram(_run("seq-twice", "/catalog/flaky", "/pages/2"))
    b = sequence_diagram(_run("seq-twice", "/catalog/flaky", "/pages/2"))
    assert a.mermaid == b.mermaid and a.svg == b.svg


def test_a_retry_then_success_is_labelled_as_a_retry():
    d = sequence_diagram(_run("seq-retry", "/catalog/flaky"), trace=-1)
    assert d.mermaid.splitlines()[5:] == [
        "    client->>gateway: GET /catalog/flaky",
        "    gateway->>catalog: GET /flaky",
        "    catalog--xgateway: 503 · 1 ms",
        "    gateway->>catalog: GET /flaky (retry 1)",
        "    catalog-->>gateway: 200 · 1 ms",
        f"    gateway-->>client: {d.lines[-1].text}",
    ]
    assert d.lines[-1].text.startswith("200 · ")


def test_an_injected_503_comes_back_crossed_and_named():
    calls = _run("seq-503", "/guarded/products/1", fault={"error_rate": 1.0})
    assert sequence_diagram(calls, trace=0).mermaid.splitlines()[5:] == [
        "    client->>gateway: GET /guarded/products/1",
        "    gateway->>catalog: GET /products/1",
        "    catalog--xgateway: 503 injected fault · 0 ms",
        "    gateway--xclient: 503 · 1 ms",
    ]


def test_a_timeout_notes_the_hang_and_folds_the_retries():
    d = sequence_diagram(_run("seq-hang", "/catalog/products/1", fault={"hang": True}), trace=0)
    assert d.mermaid.splitlines()[6:] == [
        "    gateway->>catalog: GET /products/1",
        "    Note over catalog: hangs (injected)",
        "    catalog--xgateway: no answer: ReadTimeout after 100 ms",
        "    gateway-xcatalog: GET /products/1 (retries 1–2) → no answer: ReadTimeout after 100 ms",
        f"    gateway--xclient: {d.lines[-1].text}",
    ]
    assert d.lines[-1].text.startswith("504 · ")


def test_a_breaker_rejection_is_a_crossed_arrow_in_the_request_it_failed():
    async def scenario():
        net = Network(seed=7, name="seq-breaker")
        cb = upstream_breaker("catalog", clock=NetworkClock(net), minimum_number_of_calls=2, sliding_window_size=2)
        net.add("catalog", _catalog)
        net.add("gateway", lambda: gateway_app([Route("/guarded", "catalog", breaker=cb)]))
        async with net:
            net.fault("catalog", error_rate=1.0)
            client = net.client("client")
            statuses = [(await client.get("http://gateway.svc/guarded/products/1")).status_code for _ in range(3)]
            return net.calls, cb, statuses

    calls, cb, statuses = simtime.run(scenario())
    assert statuses == [503, 503, 503]
    # The call log alone: the third request never reached catalog, so it has no hop there.
    assert sequence_diagram(calls, trace=2).mermaid.splitlines()[4:] == [
        "    client->>gateway: GET /guarded/products/1",
        "    gateway--xclient: 503 · 1 ms",
    ]
    d = sequence_diagram(calls, trace=2, breakers=[cb])
    assert d.mermaid.splitlines()[5:] == [
        "    client->>gateway: GET /guarded/products/1",
        "    gateway-xcatalog: call not permitted: circuit OPEN",
        "    gateway--xclient: 503 · 1 ms",
    ]
    # The rejection joins only the request it happened in.
    assert "not permitted" not in sequence_diagram(calls, trace=1, breakers=[cb]).mermaid
    with pytest.raises(ConfigurationError, match="breakers="):
        sequence_diagram(calls, breakers=["catalog"])


def test_a_gateway_fan_out_is_a_par_frame():
    d = sequence_diagram(_run("seq-par", "/pages/3"), trace=0)
    body = d.mermaid.splitlines()[6:]
    assert body[0] == "    client->>gateway: GET /pages/3"
    assert body[1] == "    par in parallel"
    assert "    and" in body and body[-2] == "    end"
    calls_made = sorted(line.strip() for line in body if line.strip().startswith("gateway->>"))
    assert calls_made == ["gateway->>catalog: GET /products/{pid}", "gateway->>reviews: GET /reviews/{pid}"]


def _flow_calls(style: str, *, broker_down: bool = False):
    async def scenario():
        flow = OrderFlow(style, seed=3, name=f"seq-flow-{style}-{broker_down}")
        async with flow:
            if broker_down:
                await flow.net.stop_instance("broker-1")
            r = await flow.place(flow.net.client("client"), 1)
            if not broker_down:
                await flow.drain("2s", {1})
            return flow.net.calls, r.status_code

    return simtime.run(scenario())


def test_a_sync_chain_against_a_broker_hop():
    sync, _ = _flow_calls("sync")
    assert sequence_diagram(sync, trace=0).mermaid.splitlines()[6:] == [
        "    client->>orders: POST /orders",
        "    orders->>payment: POST /payments",
        "    payment->>notification: POST /notifications",
        "    notification-->>payment: 201 · 3 ms",
        "    payment-->>orders: 201 · 6 ms",
        "    orders-->>client: 201 · 9 ms",
    ]
    calls, status = _flow_calls("async")
    assert status == 202
    order = calls.loc[calls["caller"] == "client", "trace_id"].iloc[0]
    assert sequence_diagram(calls, trace=order).mermaid.splitlines()[5:] == [
        "    client->>orders: POST /orders",
        "    orders-)broker: publish orders · 201 · 1 ms",
        "    orders-->>client: 202 · 4 ms",
    ]
    # The consumers poll in traces of their own: a time window shows the whole flow.
    whole = sequence_diagram(calls, window=(0, "50ms")).mermaid
    for line in ("payment->>broker: pull orders/payment", "broker--)payment: 200 · 3 ms",
                 "payment-)broker: publish payments · 201 · 1 ms", "payment-)broker: ack tag 1 · 200 · 1 ms"):
        assert f"    {line}\n" in whole


def test_a_message_the_broker_never_got_is_a_crossed_async_hop():
    calls, status = _flow_calls("async", broker_down=True)
    assert status == 503
    order = calls.loc[calls["caller"] == "client", "trace_id"].iloc[0]
    assert sequence_diagram(calls, trace=order).mermaid.splitlines()[5:] == [
        "    client->>orders: POST /orders",
        "    orders-xbroker: publish orders: refused: instance down",
        "    Note over orders: message not queued",
        "    orders--xclient: 503 · 3 ms",
    ]


def _poller(times: int, alternate: bool = False):
    def make():
        app = create_service("poller")

        @app.post("/wait")
        async def wait(request: Request):
            client = http(request)
            for i in range(times):
                await client.get("http://catalog.svc/products/1")
                if alternate:
                    await client.get("http://reviews.svc/reviews/1")
            return {"polled": times}

        return app

    return make


def _polls(times: int, alternate: bool = False):
    async def scenario():
        net = Network(seed=1, name=f"seq-poll-{times}-{alternate}")
        net.add("catalog", _catalog)
        net.add("reviews", _reviews)
        net.add("poller", _poller(times, alternate))
        async with net:
            await net.client("client").post("http://poller.svc/wait")
            return net.calls

    return simtime.run(scenario())



def test_forty_polls_fold_into_one_line_and_the_drawing_stays_small():
    calls = _polls(40)
    assert len(calls) == 41 and calls["trace_id"].nunique() == 1
    folded = sequence_diagram(calls, trace=0)
    assert folded.mermaid.splitlines()[5:] == [
        "    client->>poller: POST /wait",
        "    poller->>catalog: GET /products/{pid} ×40 → 200 · 1 ms",
        "    poller-->>client: 200 · 41 ms",
    ]
    assert folded.arrows <= 3
    height = float(ET.fromstring(folded.svg).get("height"))
    assert height < 250
    flat = sequence_diagram(calls, trace=0, fold=False, max_hops=None)
    assert flat.arrows == 82
    capped = sequence_diagram(calls, trace=0, fold=False, max_hops=10)
    assert capped.arrows == 2 * 10 and capped.left_out == 31
    assert capped.mermaid.splitlines()[-1] == "    Note over client: … 31 more hops not drawn (max_hops=10)"
    assert float(ET.fromstring(capped.svg).get("height")) < float(ET.fromstring(flat.svg).get("height")) / 3


def test_a_repeating_pair_of_calls_becomes_a_loop():
    d = sequence_diagram(_polls(12, alternate=True), trace=0)
    assert d.mermaid.splitlines()[6:] == [
        "    client->>poller: POST /wait",
        "    loop ×12",
        "        poller->>catalog: GET /products/{pid}",
        "        catalog-->>poller: 200 · 1 ms",
        "        poller->>reviews: GET /reviews/{pid}",
        "        reviews-->>poller: 200 · 1 ms",
        "    end",
        "    poller-->>client: 200 · 25 ms",
    ]


def _row(caller, callee, start, duration, *, method="GET", route="/x", path="/x", status=200, trace="t" * 32, **kw):
    return Call(caller, kw.get("caller_instance", caller), callee, kw.get("instance", callee + "-1"), method, route,
                path, status, kw.get("error", ""), kw.get("fault", ""), start, duration, trace)


def test_names_and_labels_are_escaped_for_mermaid():
    rows = [_row("web:front", "end", 0.0, 0.01, route="/a;b#c%%d<e>", path="/a;b#c%%d<e>"),
            _row("end", "my-svc", 0.001, 0.002, caller_instance="end-1", route='/q"x', path='/q"x')]
    d = sequence_diagram(rows)
    lines = d.mermaid.splitlines()
    assert lines[2:5] == ["    participant web_front as web#58;front", "    participant p_end as end",
                          "    participant my_svc as my-svc"]
    assert lines[5] == "    web_front->>p_end: GET /a#59;b#35;c#37;#37;d#60;e#62;"
    assert lines[6] == "    p_end->>my_svc: GET /q#quot;x"
    assert escape("a;b") == "a#59;b" and escape("a:b", colon=True) == "a#58;b"


def test_every_source_form_gives_the_same_diagram():
    rows = [_row("client", "orders", 0.0, 0.004), _row("orders", "stock", 0.001, 0.002, caller_instance="orders-1")]
    log = CallLog()
    for r in rows:
        log.append(r)
    texts = {sequence_diagram(src).mermaid for src in (rows, log, log.frame(), [r._asdict() for r in rows])}
    assert len(texts) == 1
    assert "    orders->>stock: GET /x\n" in texts.pop()


def test_the_display_bundle_has_mermaid_svg_and_text():
    d = sequence_diagram([_row("client", "orders", 0.0, 0.004)], title="one call")
    bundle = d._repr_mimebundle_()
    assert set(bundle) == {MERMAID_MIME, "image/svg+xml", "text/plain"} and MERMAID_MIME == "text/vnd.mermaid"
    assert bundle[MERMAID_MIME] == d.mermaid and bundle[MERMAID_MIME].startswith("sequenceDiagram\n    title one call\n")
    svg = ET.fromstring(bundle["image/svg+xml"])
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "one call" in texts and "client" in texts and "orders" in texts and "GET /x" in texts
    assert "client ->> orders: GET /x" in bundle["text/plain"]
    assert d.markdown() == f"```mermaid\n{d.mermaid}```\n"
    assert isinstance(d, SequenceDiagram)


def test_bad_input_says_what_is_wrong():
    calls = _run("seq-bad", "/catalog/products/1", "/catalog/products/2")
    ids = list(dict.fromkeys(calls["trace_id"]))
    with pytest.raises(UnknownTraceError, match=f"known trace ids: {ids[0]}, {ids[1]}"):
        sequence_diagram(calls, trace="0123456789abcdef")
    with pytest.raises(UnknownTraceError, match="out of range: the call log holds 2 traces"):
        sequence_diagram(calls, trace=5)
    assert sequence_diagram(calls, trace=ids[1][:6]).mermaid == sequence_diagram(calls, trace=1).mermaid
    with pytest.raises(ConfigurationError, match="the call log is empty"):
        sequence_diagram(calls.iloc[0:0])
    with pytest.raises(ConfigurationError, match="the call log is empty"):
        sequence_diagram(Network(name="seq-empty"))
    with pytest.raises(ConfigurationError, match="columns"):
        sequence_diagram(calls[["caller", "callee"]])
    with pytest.raises(ConfigurationError, match="cannot draw"):
        sequence_diagram(42)
    with pytest.raises(ConfigurationError, match="no hop started between 5 s and 6 s"):
        sequence_diagram(calls, window=(5, 6))
    with pytest.raises(ConfigurationError, match="max_hops"):
        sequence_diagram(calls, max_hops=0)
    with pytest.raises(ConfigurationError, match="by="):
        sequence_diagram(calls, by="pod")


def test_instances_as_lifelines():
    calls = _run("seq-inst", "/catalog/products/1")
    d = sequence_diagram(calls, trace=0, by="instance")
    assert d.participants == ["client", "gateway-1", "catalog-1"]
    assert "    participant gateway_1 as gateway-1\n" in d.mermaid
