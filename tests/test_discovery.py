"""The registry behaves like Eureka: leases, eviction, self-preservation, stale client caches.

Everything runs on a FakeClock. ``beat`` below plays 30-second heartbeat
rounds: move the clock, let the living instances renew, then let the
registry's eviction timer tick.
"""

from __future__ import annotations

import asyncio

import httpx
import pandas as pd
import pytest

from labsvc.core.clock import FakeClock
from labsvc.discovery import (
    DEFAULT_EVICTION_INTERVAL,
    DEFAULT_LEASE_DURATION,
    DEFAULT_REFRESH_INTERVAL,
    DEFAULT_RENEWAL_INTERVAL,
    DEFAULT_RENEWAL_PERCENT_THRESHOLD,
    DiscoveryClient,
    HttpRegistryClient,
    InstanceStatus,
    ServiceRegistry,
    registry_app,
)
from labsvc.core.errors import ConfigurationError, UnknownInstanceError
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime

NAMES = [f"catalog-{i}" for i in range(10)]


def ten_instances(**kw) -> tuple[ServiceRegistry, FakeClock]:
    clock = FakeClock()
    registry = ServiceRegistry(clock, **kw)
    for name in NAMES:
        registry.register("catalog", name, f"http://{name}.svc")
    return registry, clock


def beat(registry: ServiceRegistry, clock: FakeClock, alive: list[str], rounds: int) -> list[str]:
    """Play ``rounds`` heartbeat rounds of 30 s; returns the names evicted meanwhile."""
    evicted = []
    for _ in range(rounds):
        clock.advance(30)
        for name in alive:
            registry.heartbeat("catalog", name)
        evicted += [i.instance for i in registry.tick()]
    return evicted


def up(registry: ServiceRegistry) -> list[str]:
    return [i.instance for i in registry.lookup("catalog")]


def test_eureka_defaults():
    assert (DEFAULT_LEASE_DURATION, DEFAULT_RENEWAL_INTERVAL, DEFAULT_EVICTION_INTERVAL) == (90, 30, 60)
    assert DEFAULT_RENEWAL_PERCENT_THRESHOLD == 0.85 and DEFAULT_REFRESH_INTERVAL == 30
    registry, _ = ten_instances()
    # 10 instances x 2 renewals a minute x 85 %, truncated as Eureka does.
    assert registry.expected_renewals_per_minute == 20 and registry.renewal_threshold == 17


def test_an_instance_that_stops_heartbeating_is_evicted_after_expiry_not_before():
    registry, clock = ten_instances()
    assert beat(registry, clock, NAMES, 2) == []  # t=60: last heartbeat of catalog-9
    alive = NAMES[:-1]
    # t=120 eviction run: catalog-9 silent for 60 s, lease (90 s) still valid.
    assert beat(registry, clock, alive, 2) == []
    assert "catalog-9" in up(registry)
    # t=150: the lease ends exactly now; expiry needs *more* than 90 s.
    assert beat(registry, clock, alive, 1) == []
    assert registry.evict() == []
    # t=180 eviction run: expired, and 9 x 2 = 18 renewals > 17, so no self-preservation.
    assert beat(registry, clock, alive, 1) == ["catalog-9"]
    assert up(registry) == alive
    assert not registry.self_preservation
    evicted = registry.events.query("event == 'evicted'")
    assert evicted[["time", "instance"]].to_dict("records") == [{"time": 180.0, "instance": "catalog-9"}]
    # Eviction lowers the expected renewals too (9 instances -> threshold 15).
    assert registry.renewal_threshold == 15


def test_an_evicted_instance_gets_unknown_instance_on_heartbeat_and_can_register_again():
    clock = FakeClock()
    registry = ServiceRegistry(clock, self_preservation=False)
    registry.register("orders", "orders-1", "http://orders-1.svc")
    clock.advance(91)
    assert [i.instance for i in registry.evict()] == ["orders-1"]
    with pytest.raises(UnknownInstanceError, match="register it again"):
        registry.heartbeat("orders", "orders-1")
    registry.register("orders", "orders-1", "http://orders-1.svc")
    assert [i.instance for i in registry.lookup("orders")] == ["orders-1"]


def test_self_preservation_stops_eviction_when_many_instances_stop_heartbeating():
    registry, clock = ten_instances()
    # The first minute has only the t=30 round (10 renewals <= 17): a new registry preserves
    # until it has measured a full minute of heartbeats, as Eureka does after a start.
    beat(registry, clock, NAMES, 4)  # t=120, everyone healthy: [60, 120) had 20 renewals
    assert not registry.self_preservation
    survivors = NAMES[:4]
    # 6 of 10 go silent (a network partition, say) from t=150.
    assert beat(registry, clock, survivors, 2) == []  # t=180: [120, 180) had 10 + 4 = 14 <= 17
    assert registry.self_preservation
    assert beat(registry, clock, survivors, 2) == []  # t=240: [180, 240) had 4 + 4
    assert registry.renewals_last_minute() == 8 and registry.renewals_this_minute() == 4
    # Their leases expired at t=210, yet nothing is evicted while preserving.
    assert beat(registry, clock, survivors, 6) == []  # t=420
    assert len(up(registry)) == 10
    frame = registry.instances()
    assert frame["expired"].sum() == 6

    # The partition heals at t=450: [420, 480) has 4 + 10 renewals, [480, 540) all 20.
    beat(registry, clock, NAMES, 2)
    assert registry.self_preservation
    beat(registry, clock, NAMES, 2)
    assert not registry.self_preservation
    events = registry.events
    toggles = events[events["event"].str.startswith("self_preservation")]
    assert toggles[["time", "event"]].to_dict("records") == [
        {"time": 60.0, "event": "self_preservation_on"},
        {"time": 120.0, "event": "self_preservation_off"},
        {"time": 180.0, "event": "self_preservation_on"},
        {"time": 540.0, "event": "self_preservation_off"},
    ]
    assert "14 renewals in the last minute, threshold 17" in toggles.iloc[2]["detail"]
    assert registry.status()["self_preservation"] is False


def test_renewals_are_counted_per_whole_minute_like_eurekas_measured_rate():
    clock = FakeClock()
    registry = ServiceRegistry(clock)
    registry.register("catalog", "catalog-1", "http://catalog-1.svc")
    for t in (10, 59.9, 60, 61):
        clock.advance(t - clock.now())
        registry.heartbeat("catalog", "catalog-1")
    # [0, 60) is over: it had 2; [60, 120) has 2 so far.
    assert (registry.renewals_last_minute(), registry.renewals_this_minute()) == (2, 2)
    clock.advance(60)  # t=121: [60, 120) had 2
    assert (registry.renewals_last_minute(), registry.renewals_this_minute()) == (2, 0)
    clock.advance(60)  # t=181: a silent minute counts 0
    assert registry.renewals_last_minute() == 0
    clock.advance(600)  # many silent minutes
    assert (registry.renewals_last_minute(), registry.renewals_this_minute()) == (0, 0)
    assert registry.status()["renewals_this_minute"] == 0


@pytest.mark.parametrize("instances", [3, 4, 7])
def test_a_steady_small_registry_never_preserves_whatever_the_heartbeat_phases(instances):
    """Counting whole minutes, a heartbeat arriving just after the eviction timer cannot tip it.

    A sliding 60 s window sees ``2n - 1`` renewals for an instant before each
    heartbeat lands; with three instances that is 5 <= threshold 5, and the
    registry would flicker into self-preservation in a healthy steady state.
    """
    import random

    clock = FakeClock()
    registry = ServiceRegistry(clock)
    rng = random.Random(instances)
    names = [f"catalog-{k}" for k in range(1, instances + 1)]
    due = {name: rng.uniform(0, 30) for name in names}
    for name in names:
        registry.register("catalog", name, f"http://{name}.svc")
    states = []
    while clock.now() < 1200:
        name = min(due, key=due.get)
        clock.advance(due[name] - clock.now())
        registry.tick()  # the HTTP app ticks before it handles the heartbeat
        registry.heartbeat("catalog", name)
        due[name] += 30
        if clock.now() >= 120:  # after the first full minute has been measured
            states.append(registry.self_preservation)
    assert states and not any(states)
    assert not registry.events["event"].str.startswith("self_preservation").any()


def test_without_self_preservation_the_silent_instances_are_evicted_gradually_like_eureka():
    registry, clock = ten_instances(self_preservation=False)
    beat(registry, clock, NAMES, 2)
    survivors = NAMES[:4]
    evicted = beat(registry, clock, survivors, 2)  # t=120: not expired yet
    assert evicted == []
    # t=180: 6 expired, but one run evicts at most 10 - int(10 * 0.85) = 2.
    first_run = beat(registry, clock, survivors, 2)
    assert len(first_run) == 2
    # Then 8 - int(6.8) = 2, 6 - int(5.1) = 1, 5 - int(4.25) = 1.
    later = beat(registry, clock, survivors, 6)
    assert len(later) == 4
    assert sorted(first_run + later) == NAMES[4:]
    assert up(registry) == survivors
    assert not registry.self_preservation


def test_without_gradual_eviction_one_run_evicts_every_expired_instance():
    registry, clock = ten_instances(self_preservation=False, gradual_eviction=False)
    beat(registry, clock, NAMES, 2)
    assert sorted(beat(registry, clock, NAMES[:4], 4)) == NAMES[4:]


def test_eviction_order_is_seeded():
    def first_victims(seed: int) -> list[str]:
        import random

        registry, clock = ten_instances(self_preservation=False, rng=random.Random(seed))
        beat(registry, clock, NAMES, 2)
        return beat(registry, clock, NAMES[:4], 4)

    assert first_victims(3) == first_victims(3)


def test_tick_runs_eviction_only_once_the_interval_has_passed():
    clock = FakeClock()
    registry = ServiceRegistry(clock, self_preservation=False, lease_duration=10, eviction_interval=60)
    registry.register("a", "a-1", "http://a-1.svc")
    clock.advance(59)
    assert registry.tick() == []  # expired, but the eviction task has not run yet
    assert up_names(registry, "a") == ["a-1"]
    clock.advance(1)
    assert [i.instance for i in registry.tick()] == ["a-1"]


def up_names(registry: ServiceRegistry, service: str) -> list[str]:
    return [i.instance for i in registry.lookup(service)]


def test_cancel_status_and_events():
    clock = FakeClock()
    registry = ServiceRegistry(clock)
    registry.register("search", "search-1", "http://search-1.svc", {"zone": "a"})
    registry.register("search", "search-2", "http://search-2.svc")
    registry.set_status("search", "search-2", "OUT_OF_SERVICE")
    assert up_names(registry, "search") == ["search-1"]
    assert registry.get("search", "search-2").status is InstanceStatus.OUT_OF_SERVICE
    clock.advance(5)
    registry.heartbeat("search", "search-1")
    registry.cancel("search", "search-1")
    assert up_names(registry, "search") == []
    assert registry.lookup("nothing-here") == []
    assert registry.renewal_threshold == 1  # one expected instance left: int(2 * 0.85)
    with pytest.raises(UnknownInstanceError):
        registry.cancel("search", "search-1")
    events = registry.events
    assert isinstance(events, pd.DataFrame)
    assert events["event"].tolist() == ["registered", "registered", "status_changed", "renewed", "cancelled"]
    assert list(events.columns) == ["time", "event", "service", "instance", "detail"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lease_duration": 0}, "lease_duration"),
        ({"renewal_interval": "-5s"}, "renewal_interval"),
        ({"eviction_interval": "often"}, "not a duration"),
        ({"renewal_percent_threshold": 1.5}, "renewal_percent_threshold"),
        ({"renewal_percent_threshold": 0}, "renewal_percent_threshold"),
    ],
)
def test_bad_settings_raise_configuration_error(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        ServiceRegistry(FakeClock(), **kwargs)


def test_bad_registrations_raise_configuration_error():
    registry = ServiceRegistry(FakeClock())
    with pytest.raises(ConfigurationError, match="http"):
        registry.register("a", "a-1", "a-1.svc")
    with pytest.raises(ConfigurationError, match="valid name"):
        registry.register("a b", "a-1", "http://a-1.svc")
    with pytest.raises(ConfigurationError, match="UP, DOWN"):
        registry.register("a", "a-1", "http://a-1.svc", status="HEALTHY")
    with pytest.raises(ConfigurationError, match="snapshot"):
        DiscoveryClient(object())


# -- the client cache -------------------------------------------------------------


def test_client_cache_serves_a_stale_list_until_refresh():
    clock = FakeClock()
    registry = ServiceRegistry(clock)
    registry.register("catalog", "catalog-1", "http://catalog-1.svc")
    registry.register("catalog", "catalog-2", "http://catalog-2.svc")
    client = DiscoveryClient(registry, clock=clock)
    assert client.urls("catalog") == ["http://catalog-1.svc", "http://catalog-2.svc"]

    clock.advance(10)
    registry.cancel("catalog", "catalog-2")
    registry.register("catalog", "catalog-3", "http://catalog-3.svc")
    clock.advance(19.9)
    # Still the old picture: a cancelled instance and no new one.
    assert client.urls("catalog") == ["http://catalog-1.svc", "http://catalog-2.svc"]
    assert client.fetches == 1 and client.age == pytest.approx(29.9)

    clock.advance(0.1)
    assert client.urls("catalog") == ["http://catalog-1.svc", "http://catalog-3.svc"]
    assert client.fetches == 2 and client.age == 0


def test_client_refresh_interval_is_configurable():
    clock = FakeClock()
    registry = ServiceRegistry(clock)
    client = DiscoveryClient(registry, refresh_interval="5s")
    assert client.clock is clock  # taken from the registry
    assert client.lookup("a") == []
    registry.register("a", "a-1", "http://a-1.svc")
    assert client.cached("a") == []
    clock.advance(5)
    assert [i.instance for i in client.lookup("a")] == ["a-1"]


# -- over HTTP --------------------------------------------------------------------


def http_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry.svc")


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    doc = response.json()
    assert doc["status"] == status and doc["title"]
    if slug is not None:
        assert doc["type"] == f"urn:labsvc:problem:{slug}"
    return doc


def test_http_register_heartbeat_lookup_cancel():
    clock = FakeClock()
    registry = ServiceRegistry(clock, self_preservation=False)

    async def main() -> None:
        async with http_client(registry_app(registry)) as http:
            r = await http.post("/services/catalog/instances",
                                json={"instance": "catalog-1", "url": "http://catalog-1.svc", "metadata": {"zone": "a"}})
            assert r.status_code == 201 and r.json()["status"] == "UP"
            await http.post("/services/catalog/instances", json={"instance": "catalog-2", "url": "http://catalog-2.svc"})
            clock.advance(30)
            r = await http.put("/services/catalog/instances/catalog-1/heartbeat")
            assert r.status_code == 200 and r.json()["last_renewal"] == 30
            r = await http.put("/services/catalog/instances/catalog-2/status", json={"status": "DOWN"})
            assert r.json()["status"] == "DOWN"
            r = await http.get("/services/catalog")
            assert [i["instance"] for i in r.json()["instances"]] == ["catalog-1"]
            assert (await http.delete("/services/catalog/instances/catalog-1")).status_code == 204
            assert (await http.get("/services")).json() == {"catalog": []}  # catalog-2 is DOWN
            status = (await http.get("/status")).json()
            assert status["instances"] == 1 and status["self_preservation_enabled"] is False

            # Requests drive the eviction timer: catalog-2 (silent since t=0) goes at t=120.
            clock.advance(90)
            await http.get("/status")
            assert registry.instances()["instance"].tolist() == []

    simtime.run(main())


def test_http_errors_are_problem_documents():
    registry = ServiceRegistry(FakeClock())

    async def main() -> None:
        async with http_client(registry_app(registry)) as http:
            doc = assert_problem(await http.put("/services/catalog/instances/catalog-9/heartbeat"), 404, "unknown-instance")
            assert "register it again" in doc["detail"]
            assert_problem(await http.delete("/services/catalog/instances/catalog-9"), 404, "unknown-instance")
            doc = assert_problem(await http.post("/services/catalog/instances", json={"url": "http://x.svc"}), 422,
                                 "validation-error")
            assert doc["errors"][0]["loc"] == ["body", "instance"]
            assert_problem(await http.post("/services/catalog/instances",
                                           json={"instance": "c-1", "url": "ftp://c-1"}), 422, "invalid-argument")
            assert_problem(await http.put("/services/catalog/instances/c-1/status", json={"status": "MAYBE"}), 422)
            assert_problem(await http.get("/nowhere"), 404)

    simtime.run(main())


def test_http_client_re_registers_after_404_and_feeds_a_discovery_client():
    clock = FakeClock()
    registry = ServiceRegistry(clock)

    async def main() -> None:
        async with http_client(registry_app(registry)) as http:
            remote = HttpRegistryClient(http, "http://registry.svc/")
            with pytest.raises(UnknownInstanceError):
                await remote.heartbeat("orders", "orders-1")
            info = await remote.register("orders", "orders-1", "http://orders-1.svc", {"version": "2"})
            assert info.metadata == {"version": "2"} and info.status is InstanceStatus.UP
            assert (await remote.heartbeat("orders", "orders-1")).instance == "orders-1"

            cache = DiscoveryClient(remote, clock=clock)
            with pytest.raises(ConfigurationError, match="alookup"):
                cache.lookup("orders")
            assert [i.url for i in await cache.alookup("orders")] == ["http://orders-1.svc"]
            await remote.cancel("orders", "orders-1")
            assert [i.url for i in await cache.alookup("orders")] == ["http://orders-1.svc"]  # stale
            clock.advance(30)
            assert await cache.alookup("orders") == []
            assert (await remote.status())["instances"] == 0
            with pytest.raises(ConfigurationError, match="status"):
                await remote.set_status("orders", "orders-1", "MAYBE")

    simtime.run(main())


def test_registry_server_create_app_gives_every_call_a_registry_of_its_own():
    from labsvc.core.apps import is_factory, load_app
    from labsvc.discovery.registry_server import Settings, app, create_app

    clock = FakeClock()
    first = create_app(Settings(lease_duration=10, self_preservation=False, gradual_eviction=False, clock=clock))
    second = create_app()
    assert first.state.registry is not second.state.registry
    assert (first.state.registry.lease_duration, first.state.registry.clock) == (10, clock)

    async def main() -> None:
        async with http_client(first) as a, http_client(second) as b:
            await a.post("/services/catalog/instances", json={"instance": "catalog-1", "url": "http://catalog-1.svc"})
            assert len((await a.get("/services/catalog")).json()["instances"]) == 1
            assert (await b.get("/services/catalog")).json()["instances"] == []   # nothing shared
            clock.advance(61)                                   # the 10 s lease is long gone
            assert (await a.get("/services/catalog")).json()["instances"] == []

    simtime.run(main())
    assert load_app("labsvc.discovery.registry_server:app") is app
    assert is_factory("labsvc.discovery.registry_server:create_app")
    with pytest.raises(ConfigurationError, match="Settings"):
        create_app({"lease_duration": 10})


@pytest.mark.parametrize("module", ["labsvc.discovery", "labsvc.discovery._registry", "labsvc.discovery._client",
                                    "labsvc.discovery._http", "labsvc.discovery._backend",
                                    "labsvc.discovery.registry_server"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
