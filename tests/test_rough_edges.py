"""Where a learner went wrong and the library now says so: unknown services, late services, bare latencies."""

from __future__ import annotations

import pandas as pd
import pytest

from labsvc import Fault, Network, closed_loop, open_loop
from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError, InstanceDownError, UnknownServiceError
from labsvc.core.faults import Exponential, Fixed, as_latency
from labsvc.core.load import summarize

from .network import netapps

MODES = ["inprocess", pytest.param("process", marks=pytest.mark.slow)]


def shop(name: str, mode: str = "inprocess") -> Network:
    net = Network(seed=5, name=name, mode=mode)
    net.add("inventory", netapps.inventory, instances=2)
    net.add("orders", netapps.orders)
    return net


# -- 1. a load aimed at a service the network does not have ---------------------------------------
@pytest.mark.parametrize("load", [
    lambda net, url: open_loop(net, f"GET {url}", rate=100, requests=5, progress=False),
    lambda net, url: closed_loop(net, f"GET {url}", concurrency=2, requests=5, progress=False),
], ids=["open_loop", "closed_loop"])
def test_a_load_on_an_unknown_service_is_refused_before_anything_is_sent(load):
    async def scenario(url):
        async with shop("rough-load") as net:
            try:
                await load(net, url)
            except UnknownServiceError as exc:
                return str(exc), len(net.calls)
        raise AssertionError(f"a load on {url} was not refused")

    message, sent = simtime.run(scenario("http://nosuch.svc/stock/a"))
    assert sent == 0  # refused before the first request, not 5 failed requests
    assert message.endswith("Nothing was sent (target 'GET http://nosuch.svc/stock/a').")
    assert "no service named 'nosuch' on network 'rough-load'" in message
    assert "the services are: inventory, orders. Nothing" in message and "did you mean" not in message
    assert "did you mean 'inventory' (http://inventory.svc)?" in simtime.run(scenario("http://inventroy.svc/stock/a"))[0]
    assert "did you mean 'inventory-2'" in simtime.run(scenario("http://inventory-3.svc/stock/a"))[0]


def test_a_load_on_a_known_service_or_instance_still_runs():
    async def scenario():
        async with shop("rough-load-ok") as net:
            by_service = await open_loop(net, "GET http://inventory.svc/stock/a", rate=100, requests=4, progress=False)
            by_instance = await closed_loop(net, "GET http://inventory-2.svc/stock/a", requests=3, progress=False)
            return by_service, by_instance, net.calls

    by_service, by_instance, calls = simtime.run(scenario())
    assert by_service.df["ok"].all() and len(by_service.df) == 4
    assert by_instance.df["ok"].all() and len(by_instance.df) == 3
    assert (calls["instance"].tail(3) == "inventory-2").all()


# -- 2. net.add on a running network --------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_a_service_added_to_a_running_network_is_refused_until_start_starts_it(mode):
    async def scenario():
        async with shop(f"rough-late-{mode}", mode) as net:
            client = net.client("web", timeout=10.0)
            await net.stop_instance("inventory-2")
            net.add("reviews", netapps.inventory)
            before = net.instance("reviews-1").state
            with pytest.raises(InstanceDownError) as refused:
                await client.get("http://reviews.svc/stock/a")
            await net.start()  # starts what was added since, and nothing else
            answer = await client.get("http://reviews.svc/stock/a")
            return before, str(refused.value), answer.status_code, net.status().set_index("instance")["state"]

    before, refused, status, states = simtime.run(scenario())
    assert before == "stopped"
    assert "'reviews-1' was added after the network started and has never run" in refused
    assert "'await net.start()' starts the instances added since" in refused
    assert status == 200 and states["reviews-1"] == "running"
    assert states["inventory-2"] == "stopped"  # stopped on purpose: a second start() leaves it so


# -- 3. a latency as a bare number ------------------------------------------------------------------
def test_a_bare_latency_of_one_or_more_is_refused_with_the_unit_to_write():
    with pytest.raises(ConfigurationError) as caught:
        Fault(latency=20)
    assert str(caught.value) == ("latency=20 looks like milliseconds, but a bare number is read as seconds; "
                                 "write '20ms' or 0.02 (seconds), or '20s' if you mean 20 seconds")
    assert Fault(latency="20ms").latency == Fault(latency=0.02).latency == Fixed(0.02)
    assert Fault(latency="1.5s").latency.mean == 1.5
    with pytest.raises(ConfigurationError, match="mean latency=5 looks like milliseconds"):
        Exponential(5)
    with pytest.raises(ConfigurationError, match="'250ms' or 0.25"):
        Network(service_time=250)
    net = shop("rough-latency")
    with pytest.raises(ConfigurationError, match="write '20ms'"):
        net.fault("inventory-1", latency=20)
    assert net.instance("inventory-1").fault is None
    net.fault("inventory-1", latency=0.02)
    assert net.instance("inventory-1").fault.latency.mean == pytest.approx(0.02)
    assert as_latency(None) is None and as_latency(Fixed("2s")) == Fixed("2s")  # a Latency given as such is kept


def test_timeouts_and_run_lengths_keep_taking_bare_seconds():
    async def scenario():
        async with shop("rough-seconds") as net:
            net.fault("inventory", latency="1200ms")
            run = await open_loop(net, "GET http://inventory.svc/stock/a", rate=10, duration=1, timeout=2,
                                  progress=False)
            await net.run_for(2)
            return run, net.now()

    run, now = simtime.run(scenario())
    assert run.df["ok"].all() and len(run.df) == 10
    assert run.df["latency"].min() >= 1.2 and now >= 3.2


# -- 4. what throughput_rps counts ----------------------------------------------------------------------
def test_throughput_counts_successful_answers_only_not_the_503s_the_network_sent():
    async def scenario():
        async with shop("rough-goodput") as net:
            net.fault("inventory", error_rate=0.5)
            return await open_loop(net, "GET http://inventory.svc/stock/a", rate=200, duration="1s", progress=False)

    run = simtime.run(scenario())
    df, s = run.df, run.summary()
    answered_503 = int((df["status"] == 503).sum())
    assert answered_503 > 50 and s["ok"] == len(df) - answered_503  # answered, but not ok
    span = float((df["due"] + df["latency"]).max() - df["due"].min())
    assert s["throughput_rps"] == pytest.approx(s["ok"] / span)
    assert s["throughput_rps"] < 0.75 * len(df) / span  # all responses per second would be about twice as much
    assert summarize(df)["throughput_rps"] == s["throughput_rps"]
    assert "failures not counted" in type(run).__doc__ and "Failures are" in summarize.__doc__


def test_an_async_function_target_is_sent_as_before():
    async def scenario():
        async with shop("rough-fn") as net:
            async def send(client, i):
                return await client.get(f"http://inventory.svc/stock/sku-{i}")

            return await open_loop(net, send, rate=50, requests=3, progress=False)

    df = simtime.run(scenario()).df
    assert isinstance(df, pd.DataFrame) and df["ok"].all()
