"""Load generators: open loop measures stalls honestly, closed loop hides them."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest
from matplotlib.figure import Figure

from labsvc import Network, closed_loop, open_loop
from labsvc.core.errors import ConfigurationError
from labsvc.core.service import create_service
from labsvc.core import simtime


def echo():
    app = create_service("echo")

    @app.get("/ping")
    async def ping():
        return {"pong": True}

    return app


def run(coro):
    return simtime.run(coro)


def test_open_loop_reports_a_one_second_stall_in_its_p99_and_closed_loop_hides_it():
    async def scenario():
        net = Network(seed=1, name="stall")
        net.add("echo", echo)
        async with net:
            net.pause("echo", "1s", after="0.5s")
            opened = await open_loop(net, "GET http://echo.svc/ping", rate=100, duration="2.5s", progress=False)
            net.pause("echo", "1s", after="0.5s")
            closed = await closed_loop(net, "GET http://echo.svc/ping", concurrency=1, duration="2.5s", progress=False)
        return opened, closed

    opened, closed = run(scenario())
    assert len(opened.df) == 250
    # About 100 requests were due during the stall; the first waited ~1 s.
    stalled = opened.df[opened.df["latency"] > 0.1]
    assert 80 <= len(stalled) <= 110
    assert opened.percentile(99) >= 0.9
    assert opened.summary()["p99_ms"] >= 900
    # The closed-loop worker waited through the stall once and never sent the
    # requests that would have arrived meanwhile: the stall vanishes from p99.
    # (The one stalled request waited from its send to the end of the pause: nearly 1 s, less if the
    # loop itself was held up just then on a busy machine.)
    assert closed.df["latency"].max() >= 0.5
    assert 1 <= (closed.df["latency"] > 0.1).sum() <= 3  # the stall (plus rare scheduling noise)
    assert closed.percentile(99) < 0.1


def test_open_loop_schedules_requests_at_the_rate_and_counts_errors():
    async def scenario():
        net = Network(seed=3, name="rate")
        net.add("echo", echo)
        net.fault("echo", error_rate=0.2)
        async with net:
            return await open_loop(net, "http://echo.svc/ping", rate=200, requests=100, progress=False)

    result = run(scenario())
    df = result.df
    assert list(df.columns) == ["i", "due", "sent", "latency", "status", "error", "ok", "schedule_lag"]
    assert df["due"].diff().dropna().round(6).eq(0.005).all()
    assert (df["sent"] >= df["due"] - 1e-9).all()
    assert (df["schedule_lag"] - (df["sent"] - df["due"])).abs().max() < 1e-9
    s = result.summary()
    assert s["requests"] == 100 and s["errors"] == (df["status"] == 503).sum() > 0
    assert s["availability"] == pytest.approx(1 - s["errors"] / 100)
    assert isinstance(result.plot(), Figure)


@pytest.mark.realtime  # how late a real event loop sends: there is no lag on simulated time
def test_a_saturated_open_loop_reports_what_it_achieved_and_how_late_it_sent():
    # 1,000 requests offered at a million per second would all be due within
    # 1 ms; no event loop sends and answers them that fast, so the generator
    # falls behind. Its summary must say so rather than echo the offered rate.
    async def scenario():
        net = Network(seed=4, name="saturated")
        net.add("echo", echo)
        async with net:
            return await open_loop(net, "GET http://echo.svc/ping", rate=1_000_000, requests=1000, progress=False)

    result = run(scenario())
    df, s = result.df, result.summary()
    assert s["ok"] == 1000 and result.rate == 1_000_000
    span = float((df["due"] + df["latency"]).max() - df["due"].min())
    assert s["throughput_rps"] == pytest.approx(1000 / span)
    assert s["throughput_rps"] < result.rate
    assert (df["schedule_lag"] >= 0).all() and s["schedule_lag_max_ms"] > 0 and s["schedule_lag_p99_ms"] > 0


def test_a_precise_open_loop_never_sends_before_a_request_is_due():
    async def scenario():
        net = Network(seed=6, name="precise")
        net.add("echo", echo)
        async with net:
            return await open_loop(net, "GET http://echo.svc/ping", rate=500, requests=100, progress=False, precise=True)

    df = run(scenario()).df
    assert len(df) == 100 and df["ok"].all()
    assert (df["schedule_lag"] >= 0).all() and df["due"].diff().dropna().round(6).eq(0.002).all()


def test_closed_loop_sends_when_due_and_counts_throughput_over_the_span_it_took():
    async def scenario():
        net = Network(seed=5, name="closed-span")
        net.add("echo", echo)
        async with net:
            return await closed_loop(net, "GET http://echo.svc/ping", concurrency=2, requests=20, progress=False)

    result = run(scenario())
    s = result.summary()
    assert (result.df["schedule_lag"] == 0).all() and s["schedule_lag_max_ms"] == 0
    span = float((result.df["due"] + result.df["latency"]).max() - result.df["due"].min())
    assert s["throughput_rps"] == pytest.approx(20 / span)


def test_closed_loop_with_a_request_budget_and_custom_requests():
    async def scenario():
        net = Network(seed=3, name="closed")
        net.add("echo", echo)
        async with net:

            async def send(client, i):
                return await client.get("http://echo.svc/ping", params={"i": i})

            result = await closed_loop(net, send, concurrency=4, requests=40, progress=False)
            return result, net.calls

    result, calls = run(scenario())
    assert len(result.df) == 40 and result.df["ok"].all()
    assert sorted(result.df["i"]) == list(range(40))
    assert (calls["caller"] == "load").all() and len(calls) == 40


def test_failed_requests_are_rows_not_crashes():
    async def scenario():
        net = Network(seed=3, name="down")
        net.add("echo", echo)
        async with net:
            await net.stop_instance("echo-1")
            return await open_loop(net, "GET http://echo.svc/ping", rate=100, requests=10, progress=False)

    df = run(scenario()).df
    assert (df["error"] == "InstanceDownError").all() and not df["ok"].any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rate": 0, "duration": "1s"}, "rate"),
        ({"rate": 10}, "duration"),
        ({"rate": 10, "duration": "-1s"}, "negative"),
        ({"rate": 10, "requests": 0}, "requests"),
    ],
)
def test_open_loop_rejects_bad_arguments(kwargs, message):
    net = Network(name="bad")
    net.add("echo", echo)
    with pytest.raises((ConfigurationError, ValueError), match=message):
        run(open_loop(net, "GET http://echo.svc/ping", **kwargs))


def test_summary_of_an_empty_frame_is_nan_not_an_error():
    from labsvc.core.load import COLUMNS, summarize

    s = summarize(pd.DataFrame(columns=COLUMNS))
    assert s["requests"] == 0 and pd.isna(s["p99_ms"])
    assert pd.isna(s["throughput_rps"]) and pd.isna(s["schedule_lag_p99_ms"])


def test_throughput_counts_ok_answers_over_first_due_to_last_completion():
    from labsvc.core.load import summarize

    # Offered over 1 s, but the last answer came back at 2.5 s: 3 ok answers in 2.5 s.
    df = pd.DataFrame({
        "i": [0, 1, 2, 3], "due": [0.0, 0.25, 0.5, 0.75], "sent": [0.0, 0.25, 0.6, 0.75],
        "latency": [0.1, 0.1, 2.0, 0.2], "status": [200, 200, 200, 503], "error": "",
        "ok": [True, True, True, False], "schedule_lag": [0.0, 0.0, 0.1, 0.0],
    })
    s = summarize(df, duration=1.0)
    assert s["throughput_rps"] == pytest.approx(3 / 2.5)
    assert s["schedule_lag_max_ms"] == pytest.approx(100)


def test_by_label_summarizes_each_label_in_the_given_order():
    from labsvc.core.load import by_label

    df = pd.DataFrame({
        "i": [0, 1, 2, 3], "due": 0.0, "sent": 0.0, "latency": [0.010, 0.030, 0.002, 0.004],
        "status": [200, 503, 200, 200], "error": "", "ok": [True, False, True, True],
        "label": ["page", "page", "browse", "browse"],
    })
    out = by_label(df, ["browse", "page", "never seen"], percentiles=(50,), name="feature", design="x")
    assert list(out.columns) == ["design", "feature", "requests", "availability", "p50_ms"]
    assert list(out["feature"]) == ["browse", "page"]
    assert list(out["availability"]) == [1.0, 0.5]
    assert out["p50_ms"].round(6).tolist() == [3.0, 20.0]
