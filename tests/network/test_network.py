"""The shared network suite: every test runs in-process and in process mode.

Like eventsourcing's abstract recorder tests, one suite pins down the
behaviour both transports promise, so learners can switch modes freely.
"""

from __future__ import annotations

import asyncio
import os
import threading

import httpx
import pandas as pd
import psutil
import pytest

import labsvc
from labsvc import Network
from labsvc.core.errors import (
    ConfigurationError,
    DuplicateInstanceError,
    InstanceDownError,
    UnknownInstanceError,
    UnknownServiceError,
)

import netapps
from labsvc.core import simtime

MODES = ["inprocess", pytest.param("process", marks=pytest.mark.slow)]


def run(coro):
    return simtime.run(coro)


def shop(mode: str, seed: int = 7, inventory_instances: int = 2) -> Network:
    net = Network(seed=seed, mode=mode, name=f"test-{mode}")
    net.add("inventory", netapps.inventory, instances=inventory_instances)
    net.add("orders", netapps.orders)
    return net


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def test_instances_have_unique_urls_and_service_urls_balance(mode):
    async def scenario():
        net = shop(mode)
        async with net:
            c = net.client("web")
            direct = await c.get("http://inventory-2.svc/stock/a")
            assert direct.status_code == 200
            assert direct.json()["instance"] == "inventory-2"
            assert direct.headers["x-labsvc-instance"] == "inventory-2"
            answered = [(await c.get("http://inventory.svc/stock/a")).json()["instance"] for _ in range(4)]
            status = net.status()
        return answered, status

    answered, status = run(scenario())
    assert answered == ["inventory-1", "inventory-2", "inventory-1", "inventory-2"]  # round robin
    assert list(status["url"]) == ["http://inventory-1.svc", "http://inventory-2.svc", "http://orders-1.svc"]
    assert set(status["state"]) == {"running"}


def test_call_log_records_every_hop_with_route_and_shared_trace(mode):
    async def scenario():
        net = shop(mode)
        async with net:
            r = await net.client("web").get("http://orders.svc/orders/5")
            return r, net.calls

    r, calls = run(scenario())
    assert r.status_code == 200 and r.json()["stock"]["sku"] == "sku-5"
    assert list(calls.columns) == ["caller", "caller_instance", "callee", "instance", "method", "route", "path",
                                   "status", "error", "fault", "start", "duration", "trace_id", "queued", "service"]
    assert len(calls) == 2
    first, second = calls.iloc[0], calls.iloc[1]
    assert (first.caller, first.callee, first.instance, first.route, first.path) == (
        "web", "orders", "orders-1", "/orders/{order_id}", "/orders/5")
    assert (second.caller, second.caller_instance, second.callee, second.route) == (
        "orders", "orders-1", "inventory", "/stock/{sku}")
    assert first.trace_id == second.trace_id and len(first.trace_id) == 32
    assert first.trace_id in r.json()["trace"]  # the traceparent header reached the service
    # The outer hop contains the inner one.
    assert first.start <= second.start and second.start + second.duration <= first.start + first.duration + 1e-6


def test_lifespan_runs_on_start_and_stop(mode, tmp_path, monkeypatch):
    log = tmp_path / "lifespan.log"
    monkeypatch.setenv("NETAPPS_LIFESPAN_LOG", str(log))

    async def scenario():
        net = shop(mode, inventory_instances=1)
        async with net:
            body = (await net.client().get("http://inventory.svc/stock/x")).json()
            during = log.read_text().split()
        return body, during, log.read_text().split()

    body, during, after = run(scenario())
    assert body["lifespan"] is True  # lifespan state reached the request
    assert during == ["startup"]
    assert after == ["startup", "shutdown"]


def test_fixed_latency_is_added_to_the_hop(mode):
    async def scenario():
        net = shop(mode)
        net.fault("inventory-1", latency="60ms")
        async with net:
            c = net.client()
            await c.get("http://inventory-1.svc/stock/a")
            await c.get("http://inventory-2.svc/stock/a")
            return net.calls

    calls = run(scenario()).set_index("instance")
    assert calls.loc["inventory-1", "duration"] >= 0.060
    assert calls.loc["inventory-1", "fault"] == "latency"
    assert calls.loc["inventory-2", "fault"] == ""


def test_error_rate_is_seeded_and_answers_with_a_problem_document(mode):
    async def statuses(seed):
        net = shop(mode, seed=seed, inventory_instances=1)
        net.fault("inventory", error_rate=0.3)
        async with net:
            c = net.client()
            rs = [await c.get("http://inventory.svc/stock/a") for _ in range(60)]
        return [r.status_code for r in rs], rs[[r.status_code for r in rs].index(503)]

    first, failed = run(statuses(11))
    again, _ = run(statuses(11))
    other, _ = run(statuses(12))
    assert first == again  # same seed, same experiment
    assert first != other
    assert 8 <= first.count(503) <= 30
    assert failed.headers["content-type"] == "application/problem+json"
    doc = failed.json()
    assert doc["status"] == 503 and doc["type"] == "urn:labsvc:problem:injected-fault"


def test_hang_ends_with_the_callers_timeout(mode):
    async def scenario():
        net = shop(mode)
        net.fault("inventory-1", hang=True)
        async with net:
            with pytest.raises(httpx.ReadTimeout, match="within the caller's timeout of 0.2 s"):
                await net.client(timeout=0.2).get("http://inventory-1.svc/stock/a")
            return net.calls

    calls = run(scenario())
    row = calls.iloc[-1]
    assert (row.status, row.error, row.fault) == (0, "ReadTimeout", "hang")
    assert 0.2 <= row.duration < 1.0


def test_instance_down_refuses_connections_until_it_is_back(mode):
    async def scenario():
        net = shop(mode)
        async with net:
            c = net.client()
            await net.stop_instance("inventory-1")
            with pytest.raises(InstanceDownError, match="inventory-1"):
                await c.get("http://inventory-1.svc/stock/a")
            with pytest.raises(httpx.ConnectError):  # it is a connection error for httpx users too
                await c.get("http://inventory-1.svc/stock/a")
            await net.start_instance("inventory-1")
            back = await c.get("http://inventory-1.svc/stock/a")
            net.fault("inventory-2", down=True)
            with pytest.raises(InstanceDownError, match="marked down"):
                await c.get("http://inventory-2.svc/stock/a")
            net.clear_faults("inventory-2")
            healed = await c.get("http://inventory-2.svc/stock/a")
            return back, healed, net.calls

    back, healed, calls = run(scenario())
    assert back.status_code == 200 and healed.status_code == 200
    assert list(calls["error"])[:3] == ["InstanceDownError", "InstanceDownError", ""]
    assert list(calls["fault"])[:2] == ["down", "down"]


def test_partition_cuts_one_pair_of_services_only(mode):
    async def scenario():
        net = shop(mode)
        async with net:
            c = net.client("web")
            net.partition("orders", "inventory")
            cut = await c.get("http://orders.svc/orders/1")
            direct = await c.get("http://inventory.svc/stock/a")
            net.heal()
            healed = await c.get("http://orders.svc/orders/1")
            return cut, direct, healed, net.calls

    cut, direct, healed, calls = run(scenario())
    assert cut.status_code == 502 and "PartitionError" in cut.json()["detail"]
    assert direct.status_code == 200 and healed.status_code == 200
    inner = calls[(calls.caller == "orders")]
    assert list(inner["fault"]) == ["partition", ""]


def test_errors_are_problem_documents(mode):
    async def scenario():
        net = shop(mode, inventory_instances=1)
        async with net:
            c = net.client()
            return (
                await c.get("http://inventory.svc/nowhere"),
                await c.post("http://inventory.svc/reservations", json={"sku": "a", "quantity": "many"}),
                await c.get("http://inventory.svc/stock/missing"),
                await c.delete("http://inventory.svc/stock/a"),
            )

    not_found, invalid, problem, not_allowed = run(scenario())
    for r in (not_found, invalid, problem, not_allowed):
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == r.status_code
    assert not_found.status_code == 404 and "/nowhere" in not_found.json()["detail"]
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["field"] == "body.quantity"
    assert "body.quantity" in invalid.json()["detail"]
    assert problem.json()["title"] == "Unknown SKU" and problem.json()["instance"] == "/stock/missing"
    assert not_allowed.status_code == 405


def test_restart_gives_factory_apps_fresh_state_and_reports_downtime(mode):
    async def scenario():
        net = shop(mode, inventory_instances=1)
        async with net:
            c = net.client()
            for _ in range(3):
                before = (await c.get("http://inventory.svc/stock/a")).json()["hits"]
            report = await net.restart("inventory")
            after = (await c.get("http://inventory.svc/stock/a")).json()["hits"]
            return before, after, report

    before, after, report = run(scenario())
    assert (before, after) == (3, 1)
    assert list(report["instance"]) == ["inventory-1"] and (report["downtime"] >= 0).all()


def test_stop_leaves_no_thread_process_or_port(mode):
    me = psutil.Process()
    threads_before = {t.ident for t in threading.enumerate()}
    children_before = {p.pid for p in me.children(recursive=True)}

    async def scenario():
        net = shop(mode)
        await net.start()
        ports = [p for p in net.status()["port"] if p is not None]
        pids = [i.process.pid for s in net.services.values() for i in s.instances if i.process is not None]
        await net.client().get("http://orders.svc/orders/1")
        await net.stop()
        await net.stop()  # idempotent
        return ports, pids

    ports, pids = run(scenario())
    if mode == "process":
        assert len(ports) == 3 and len(pids) == 3
    leftover_threads = {t.ident for t in threading.enumerate()} - threads_before
    assert not leftover_threads
    assert {p.pid for p in me.children(recursive=True)} - children_before == set()
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)
    listening = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert not (set(ports) & listening)


def test_starting_a_network_again_stops_the_previous_one_with_the_same_name(mode):
    async def scenario():
        first = shop(mode)
        await first.start()
        second = shop(mode)  # the same cell run again
        await second.start()
        ok = (await second.client().get("http://orders.svc/orders/2")).status_code
        was_started = first.started
        await second.stop()
        return ok, was_started

    ok, first_still_running = run(scenario())
    assert ok == 200 and first_still_running is False


# ---------------------------------------------------------------- bad input (mode-independent)

def test_bad_input_gets_specific_errors_that_say_what_to_fix():
    net = Network()
    net.add("catalog", netapps.inventory)
    with pytest.raises(DuplicateInstanceError, match="already on this network"):
        net.add("catalog", netapps.inventory)
    with pytest.raises(ConfigurationError, match="ending in '-<number>'"):
        net.add("catalog-2", netapps.inventory)
    with pytest.raises(ConfigurationError, match="negative"):
        net.fault("catalog", latency="-5ms")
    with pytest.raises(ConfigurationError, match=r"outside \[0, 1\]"):
        net.fault("catalog", error_rate=1.5)
    with pytest.raises(UnknownServiceError, match="no such service or instance"):
        net.fault("payments", latency="1ms")
    with pytest.raises(UnknownInstanceError, match="catalog-1"):
        net.instance("catalog-9")
    with pytest.raises(ConfigurationError, match="mode"):
        Network(mode="docker")
    with pytest.raises(ConfigurationError, match="at least 1 instance"):
        net.add("search", netapps.inventory, instances=0)

    async def unknown_host():
        async with net:
            with pytest.raises(UnknownServiceError, match="catalog"):
                await net.client().get("http://payments.svc/pay")

    run(unknown_host())


def test_calling_before_start_says_how_to_start():
    net = Network()
    net.add("catalog", netapps.inventory)
    with pytest.raises(labsvc.NetworkStateError, match="async with net"):
        run(net.client().get("http://catalog.svc/stock/a"))


def test_process_mode_needs_an_importable_app():
    from fastapi import FastAPI

    local_app = FastAPI()
    net = Network(mode="process", name="not-importable")
    net.add("local", lambda: local_app)
    with pytest.raises(labsvc.ProcessModeError, match="importable"):
        run(net.start())
    assert not net.started


def test_a_service_calls_others_from_its_own_background_task(mode):
    async def scenario():
        net = shop(mode, inventory_instances=1)
        net.add("sender", netapps.heartbeat_sender)
        async with net:
            # /beat waits inside the service until its background call has finished
            beat = (await net.client(timeout=90).get("http://sender.svc/beat")).json()["beat"]
            return beat, net.calls

    beat, calls = run(scenario())
    assert beat == "beat"
    row = calls[(calls["callee"] == "inventory") & (calls["status"] == 200)].iloc[0]  # after any refused start-up tries
    assert (row.caller, row.caller_instance, row.route) == ("sender", "sender-1", "/stock/{sku}")


def test_app_client_needs_a_per_instance_app():
    from labsvc.core.errors import NetworkStateError
    from labsvc.core.service import app_client, create_service

    with pytest.raises(NetworkStateError, match="factory"):
        app_client(create_service("alone"))


def test_services_log_structured_lines_that_share_the_call_logs_trace_id(mode):
    async def scenario():
        net = shop(mode, inventory_instances=1)
        net.add("sender", netapps.heartbeat_sender)
        async with net:
            r = await net.client("web").get("http://orders.svc/orders/7")
            await net.client(timeout=90).get("http://sender.svc/beat")
            running = net.logs
        return r, net.calls, running, net.logs  # the lines of stopped processes are kept

    r, calls, running, logs = run(scenario())
    assert r.status_code == 200
    assert list(logs.columns) == ["time", "service", "instance", "level", "message", "trace_id", "logger", "fields"]
    shown = logs[["instance", "message", "trace_id"]].to_string()
    assert len(running) == len(logs) == 4, shown
    trace = calls.loc[calls["caller"] == "web", "trace_id"].iloc[0]
    order = logs[logs["service"] == "orders"].iloc[0]
    assert (order.instance, order.level, order.message) == ("orders-1", "WARNING", "order 7 requested")
    assert order.fields == {"order_id": 7} and order.logger == "labsvc.services.orders"
    stock = logs[(logs["service"] == "inventory") & (logs["trace_id"] == trace)].iloc[0]
    assert (stock.instance, stock.message, stock.fields) == ("inventory-1", "stock looked up", {"sku": "sku-7"})
    assert order.trace_id == trace  # one request, one trace id, across two services
    # Background work logs as its instance; the call it made started a trace of its own.
    beat = logs[logs["message"] == "beat sent"].iloc[0]
    assert beat.instance == "sender-1" and pd.isna(beat.trace_id)
    beat_trace = calls.loc[(calls["caller"] == "sender") & (calls["status"] == 200), "trace_id"].iloc[0]
    beat_stock = logs[(logs["service"] == "inventory") & (logs["trace_id"] == beat_trace)].iloc[0]
    assert beat_stock.fields == {"sku": "beat"} and beat_trace != trace
    assert logs["time"].is_monotonic_increasing and 0 <= logs["time"].min() <= logs["time"].max() < 60


def test_reset_logs_forgets_the_lines_so_far(mode):
    async def scenario():
        net = shop(mode, inventory_instances=1)
        async with net:
            await net.client().get("http://orders.svc/orders/1")
            net.reset_logs()
            await net.client().get("http://orders.svc/orders/2")
            return net.logs

    logs = run(scenario())
    assert list(logs["message"]) == ["order 2 requested", "stock looked up"]
