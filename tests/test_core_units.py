"""Unit tests of the core pieces under the network: faults, ASGI transport, client, service helper."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys

import httpx
import pytest

import labsvc
from labsvc.core.asgi import Lifespan, LifespanError, call_asgi
from labsvc.core.clock import FakeClock, parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.core.faults import Exponential, Fault, Fixed, LogNormal, Normal, Uniform, as_latency
from labsvc.core.problems import Problem, problem
from labsvc.core.service import create_service, set_ready
from labsvc.core import simtime


def run(coro):
    return simtime.run(coro)


# ---------------------------------------------------------------- durations and faults

@pytest.mark.parametrize("text, seconds", [("20ms", 0.02), ("1.5s", 1.5), ("250us", 0.00025), ("2min", 120.0), (3, 3.0)])
def test_durations_parse(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["fast", "-1s", -0.5, "1 parsec"])
def test_bad_durations_say_what_is_accepted(bad):
    with pytest.raises(ValueError, match="negative|not a duration"):
        parse_duration(bad)


def test_latency_distributions_are_seeded_and_never_negative():
    for dist in (Fixed("5ms"), Uniform("1ms", "3ms"), Exponential("2ms"), Normal("1ms", "5ms"), LogNormal("2ms", 0.8)):
        a = [dist.sample(random.Random(4)) for _ in range(200)]
        b = [dist.sample(random.Random(4)) for _ in range(200)]
        assert a == b and min(a) >= 0
    draws = [Exponential("10ms").sample(r) for r in [random.Random(1)] for _ in range(5000)]
    assert sum(draws) / len(draws) == pytest.approx(0.010, rel=0.1)
    assert Uniform("1ms", "3ms").mean == pytest.approx(0.002)


def test_fault_validation_and_merging():
    with pytest.raises(ConfigurationError, match="low <= high"):
        Uniform("3ms", "1ms")
    with pytest.raises(ConfigurationError, match="not understood"):
        as_latency([1, 2])
    with pytest.raises(ConfigurationError, match=r"outside \[0, 1\]"):
        Fault(error_rate=-0.1)
    merged = Fault(latency="5ms", error_rate=0.1).merged(Fault(error_rate=0.3, down=True))
    assert merged.latency == Fixed(0.005) and merged.error_rate == 0.3 and merged.down
    assert not Fault().active and Fault(hang=True).active


def test_fake_clock_moves_only_when_told():
    clock = FakeClock()
    run(clock.sleep(2))
    clock.advance("500ms")
    assert clock.now() == 2.5 and clock.sleeps == [2.0]
    with pytest.raises(ValueError, match="back in time"):
        clock.set(1)


# ---------------------------------------------------------------- ASGI transport and lifespan

def test_lifespan_startup_failure_is_reported():
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def broken(app):
        raise RuntimeError("database unreachable")
        yield

    app = create_service("broken", lifespan=broken)
    with pytest.raises(LifespanError, match="failed to start"):
        run(Lifespan(app).startup())


def test_apps_without_lifespan_support_are_accepted():
    async def plain(scope, receive, send):
        if scope["type"] != "http":
            raise RuntimeError("only http")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def scenario():
        lifespan = Lifespan(plain)
        await lifespan.startup()
        await lifespan.shutdown()
        return lifespan.supported

    assert run(scenario()) is False


def test_an_app_that_crashes_before_answering_gives_a_500():
    async def crashing(scope, receive, send):
        raise ValueError("boom")

    result = run(call_asgi(crashing, {"type": "http"}))
    assert result.status == 500 and isinstance(result.exception, ValueError)


# ---------------------------------------------------------------- client and service helper

def make_app():
    app = create_service("echo")

    @app.post("/echo")
    async def echo(body: dict, request: labsvc.core.service.Request):
        return {"body": body, "q": request.query_params.get("q"), "trace": request.headers.get("traceparent")}

    @app.get("/crash")
    async def crash():
        raise KeyError("internal detail")

    return app


def test_client_sends_json_params_headers_and_continues_a_trace():
    async def scenario():
        net = labsvc.Network(name="units")
        net.add("echo", make_app)
        async with net:
            c = net.client("web", base_url="http://echo.svc")
            trace = "ab" * 16
            r = await c.post("/echo", json={"x": 1}, params={"q": "hi"},
                             headers={"traceparent": f"00-{trace}-{'c' * 16}-01"})
            return r, net.calls

    r, calls = run(scenario())
    assert r.json()["body"] == {"x": 1} and r.json()["q"] == "hi"
    assert r.json()["trace"].split("-")[1] == "ab" * 16 == calls.iloc[0]["trace_id"]
    assert r.request.url == httpx.URL("http://echo.svc/echo?q=hi")  # built lazily, still right


def test_crashes_and_readiness_are_problem_documents():
    async def scenario():
        net = labsvc.Network(name="units")
        net.add("echo", make_app)
        async with net:
            c = net.client()
            crash = await c.get("http://echo.svc/crash")
            set_ready(net.instance("echo-1").app, False)
            not_ready = await c.get("http://echo.svc/ready")
            health = await c.get("http://echo.svc/health")
            return crash, not_ready, health

    crash, not_ready, health = run(scenario())
    assert crash.status_code == 500 and crash.headers["content-type"] == "application/problem+json"
    assert crash.json()["detail"] == "KeyError in echo"  # no internal detail leaks
    assert not_ready.status_code == 503 and not_ready.json()["type"].endswith("not-ready")
    assert health.json() == {"status": "UP", "service": "echo", "instance": "echo-1"}


def test_httpx_async_client_works_over_the_network_transport():
    async def scenario():
        net = labsvc.Network(name="units")
        net.add("echo", make_app)
        async with net:
            async with httpx.AsyncClient(transport=net.transport("web")) as client:
                r = await client.post("http://echo.svc/echo", json={"a": [1, 2]})
            return r, net.calls

    r, calls = run(scenario())
    assert r.status_code == 200 and r.json()["body"] == {"a": [1, 2]}
    assert calls.iloc[0]["caller"] == "web" and calls.iloc[0]["route"] == "/echo"


def test_a_crashed_instance_comes_back_after_restart_after_with_fresh_state():
    async def scenario():
        net = labsvc.Network(name="units")
        net.add("echo", make_app)
        async with net:
            first_app = net.instance("echo-1").app
            crashed = await net.crash("echo", restart_after=0)
            with pytest.raises(labsvc.InstanceDownError):
                await net.client().get("http://echo.svc/health")
            for _ in range(100):  # yield to the loop until the restart ran (no sleeping)
                if net.instance("echo-1").running:
                    break
                await asyncio.sleep(0)
            r = await net.client().get("http://echo.svc/health")
            return crashed, r.status_code, net.instance("echo-1").app is not first_app, net.instance("echo-1").starts

    crashed, status, fresh, starts = run(scenario())
    assert crashed == ["echo-1"] and status == 200 and fresh and starts == 2


def test_problem_documents_follow_rfc_9457():
    doc = problem(422, detail="quantity must be positive", errors=[{"field": "quantity"}])
    assert doc == {"type": "about:blank", "title": "Unprocessable Entity", "status": 422,
                   "detail": "quantity must be positive", "errors": [{"field": "quantity"}]}
    with pytest.raises(ValueError, match="4xx or 5xx"):
        problem(200)
    assert Problem(404, "Order not found").response().media_type == "application/problem+json"


def test_serve_command_line_help_runs():
    out = subprocess.run([sys.executable, "-m", "labsvc", "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "module:attr" in out.stdout


def test_a_hop_cancelled_by_its_caller_is_logged_as_cancelled():
    async def scenario():
        net = labsvc.Network(name="units")
        net.add("echo", make_app)
        net.fault("echo", hang=True)
        async with net:
            task = asyncio.ensure_future(net.client().get("http://echo.svc/health"))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return net.calls

    row = run(scenario()).iloc[0]
    assert (row.status, row.error, row.fault) == (0, "Cancelled", "hang")


def test_raise_for_status_works_on_network_responses():
    async def scenario():
        net = labsvc.Network(name="units")
        net.add("echo", make_app)
        async with net:
            ok = await net.client().get("http://echo.svc/health")
            missing = await net.client().get("http://echo.svc/nowhere")
            return ok, missing

    ok, missing = run(scenario())
    assert ok.raise_for_status() is ok
    with pytest.raises(httpx.HTTPStatusError, match="404"):
        missing.raise_for_status()


def test_an_in_process_crash_skips_the_apps_shutdown_code():
    from contextlib import asynccontextmanager

    events = []

    def app_factory():
        @asynccontextmanager
        async def lifespan(app):
            events.append("startup")
            yield
            events.append("shutdown")

        return create_service("fragile", lifespan=lifespan)

    async def scenario():
        net = labsvc.Network(name="units")
        net.add("fragile", app_factory)
        async with net:
            await net.crash("fragile-1")
            assert not net.instance("fragile-1").running
            await net.start_instance("fragile-1")
        return list(events)

    # start, crash (no shutdown), start again, clean stop (shutdown).
    assert run(scenario()) == ["startup", "startup", "shutdown"]
