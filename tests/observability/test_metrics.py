"""RED metrics at /metrics, scraped through the network, and the bucket p95 next to the exact one."""

from __future__ import annotations

import asyncio

import pytest

from labsvc import FakeClock, Network
from labsvc.core.errors import ConfigurationError
from labsvc.core.load import open_loop
from labsvc.observability import (
    LATENCY_BUCKETS, Scraper, bucket_of, exact_quantile, incident_run, observed_shop, parse_exposition, red,
    route_quantile, since_start_quantile, status_class,
)

import netapps
from labsvc.core import simtime


def test_metrics_are_served_in_the_prometheus_format_by_route_template():
    async def scenario():
        net = Network(seed=3, name="test-red")
        net.add("inventory", netapps.inventory)
        net.observe(tracing=False)
        async with net:
            c = net.client("web")
            for sku in ("a", "b", "missing"):
                await c.get(f"http://inventory.svc/stock/{sku}")
            r = await c.get("http://inventory-1.svc/metrics")
        return r

    r = simtime.run(scenario())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=")
    rows = parse_exposition(r.text)
    requests = {(x["route"], x["status_class"]): x["value"] for x in rows if x["metric"] == "http_server_requests_total"}
    assert requests == {("/stock/{sku}", "2xx"): 2.0, ("/stock/{sku}", "4xx"): 1.0}   # templates, never raw paths
    count = [x for x in rows if x["metric"] == "http_server_request_duration_seconds_count"]
    assert sum(x["value"] for x in count) == 3
    inf = [x for x in rows if x["metric"] == "http_server_request_duration_seconds_bucket" and x["le"] == "+Inf"]
    assert sum(x["value"] for x in inf) == 3
    assert not any(x["metric"] == "http_server_errors_total" and x["value"] for x in rows)
    assert status_class(503) == "5xx" and status_class(0) == "error"


def test_the_scraper_paces_itself_on_a_fake_clock_and_records_failures():
    async def scenario():
        net = Network(seed=3, name="test-scrape")
        net.add("inventory", netapps.inventory, instances=2)
        net.observe(tracing=False)
        clock = FakeClock(10.0)
        async with net:
            await net.client("web").get("http://inventory-1.svc/stock/a")
            scraper = Scraper(net, interval="250ms", clock=clock)
            await scraper.run("1s")
            net.fault("inventory-2", down=True)
            await scraper.scrape()
        return scraper, clock

    scraper, clock = simtime.run(scenario())
    samples = scraper.samples
    assert sorted(samples["time"].unique()) == [10.0, 10.25, 10.5, 10.75, 11.0]
    assert clock.sleeps == [0.25] * 4
    # inventory-2 answered every scrape, but a labelled series exists only once it has counted a request.
    assert set(samples["instance"]) == {"inventory-1"}
    assert scraper.failures == [{"time": 11.0, "instance": "inventory-2", "error": "InstanceDownError"}]
    with pytest.raises(ConfigurationError, match="more than zero"):
        Scraper(None, interval=0)


def test_bucket_p95_agrees_with_the_exact_p95_within_the_bucket_width():
    async def scenario():
        net = observed_shop(name="test-p95", seed=5)
        async with net:
            async with Scraper(net, interval="200ms") as prometheus:
                await open_loop(net, "POST http://web.svc/orders", json={"product_id": 2, "quantity": 1},
                                requests=150, rate=150, caller="users", progress=False)
            return prometheus.samples, net.calls

    samples, calls = simtime.run(scenario())
    checkouts = calls[(calls["callee"] == "web") & (calls["route"] == "/orders")]
    assert len(checkouts) == 150 and (checkouts["status"] == 201).all()
    exact = exact_quantile(checkouts["duration"], 0.95)
    estimate = since_start_quantile(samples, 0.95, service="web", route="/orders")
    widths = [u - lo for lo, u in (bucket_of(exact, LATENCY_BUCKETS), bucket_of(estimate, LATENCY_BUCKETS))]
    assert abs(estimate - exact) <= max(widths)
    # With rate() over the whole run the answer is the same quantile (a new series is extrapolated from 0).
    t = samples["time"]
    windowed = route_quantile(samples, 0.95, service="web", route="/orders", start=t.min(), end=t.max())
    assert abs(windowed - exact) <= max(widths)


def test_red_sees_the_incident_in_errors_and_duration():
    async def scenario():
        net = observed_shop(name="test-red-incident", seed=5)
        async with net:
            return await incident_run(net, rate=100, duration="2s", incident=("0.6s", "1.6s"), error_rate=0.5)

    run = simtime.run(scenario())
    dash = red(run.samples, window=0.3)
    web = dash[(dash["service"] == "web") & (dash["route"] == "/orders")]
    start, end = run.incident
    during = web[(web["time"] > start + 0.4) & (web["time"] <= end)].dropna(subset=["error_ratio"])
    before = web[web["time"] <= start].dropna(subset=["error_ratio"])
    assert len(during) and len(before)
    assert (during["error_ratio"] > 0.2).all() and (before["error_ratio"] == 0).all()
    # Every payment call of the incident waited 80 ms: no bucket estimate inside it can be below 25 ms.
    assert (during["p95"] >= 0.025).all()
    # web's counter counted every checkout, once.
    last = run.samples[(run.samples["time"] == run.samples["time"].max()) & (run.samples["service"] == "web")
                       & (run.samples["metric"] == "http_server_requests_total")]
    assert last["value"].sum() == len(run.checkouts()) == 200
    # The error lines are those of the failed checkouts, and name what failed.
    errors = run.logs[run.logs["level"] == "ERROR"]
    failed = set(run.checkouts().query("status >= 500")["trace_id"])
    assert len(errors) and set(errors["message"]) == {"dependency failed"}
    assert set(errors["service"]) == {"orders", "web"}   # orders saw payment fail; web saw orders fail
    assert set(errors["trace_id"]) == failed


@pytest.mark.parametrize("mode", ["inprocess", pytest.param("process", marks=pytest.mark.slow)])
def test_every_instance_serves_its_own_metrics_in_both_modes(mode):
    async def scenario():
        net = Network(seed=3, mode=mode, name=f"test-red-{mode}")
        net.add("inventory", netapps.inventory, instances=2)
        net.observe()
        async with net:
            c = net.client("web")
            for sku in ("a", "b", "c"):
                await c.get(f"http://inventory.svc/stock/{sku}")   # round robin: 2 for inventory-1, 1 for -2
            prometheus = Scraper(net)
            await prometheus.scrape()
        return prometheus.samples

    samples = simtime.run(scenario())
    stock = samples[(samples["metric"] == "http_server_requests_total") & (samples["route"] == "/stock/{sku}")]
    assert stock.groupby("instance")["value"].sum().to_dict() == {"inventory-1": 2.0, "inventory-2": 1.0}
    # Process mode also counts the readiness probe each child answered at start: probes are requests too.
    assert set(samples["route"].dropna()) == ({"/stock/{sku}", "/health"} if mode == "process" else {"/stock/{sku}"})
