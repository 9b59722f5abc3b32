"""Apps pushed, scaled, stopped; probes act; crashed apps heal by themselves (both modes)."""

from __future__ import annotations

import asyncio

import pytest

from labsvc.core.clock import FakeClock
from labsvc.core.network import MODES, Network
from labsvc.platform import ManifestError, Platform
from labsvc.core import simtime

V1 = "platapps:web_v1"


def manifest(name="web", instances=2, **kw):
    return {"name": name, "app": V1, "instances": instances, **kw}


@pytest.mark.parametrize("mode", MODES)
def test_a_crashed_app_returns_to_its_desired_count_without_anyone_acting(mode):
    async def scenario():
        clock = FakeClock()
        net = Network(seed=3, mode=mode, name=f"heal-{mode}")
        platform = Platform(net, clock=clock)
        async with net:
            app = await platform.push(manifest(instances=3))
            assert len(app.ready_pods()) == 3
            crashed = await net.crash("web")              # every instance dies at once
            await platform.tick()                          # the kubelet notices: back-off 10 s each
            down = len(app.ready_pods())
            await platform.run_for(9, every=1)             # t = 9: still backing off
            still_down = len(app.ready_pods())
            await platform.run_for(2, every=1)             # t = 10, 11: restarted
            healed = len(app.ready_pods())
            r = await net.client().get("http://web.svc/hello")
            return crashed, down, still_down, healed, r.status_code, platform.events
    crashed, down, still_down, healed, status, events = simtime.run(scenario())
    assert len(crashed) == 3 and down == 0 and still_down == 0
    assert healed == 3 and status == 200
    assert list(events[events.reason == "BackOff"]["message"].str.contains("10 s")) == [True] * 3
    assert (events.reason == "Restarted").sum() == 3


def test_repeated_crashes_back_off_10_20_40_seconds():
    async def scenario():
        clock = FakeClock()
        net = Network(seed=3, name="crashloop")
        platform = Platform(net, clock=clock)
        async with net:
            await platform.push(manifest(instances=1))
            gaps = []
            for _ in range(4):
                await net.crash("web-1")
                t_crash = clock.now()
                while not net.instance("web-1").running:
                    await platform.tick()
                    if not net.instance("web-1").running:
                        clock.advance(1)
                gaps.append(clock.now() - t_crash)
            return gaps
    assert simtime.run(scenario()) == [10, 20, 40, 80]


def test_a_removed_instance_is_replaced_by_the_replica_controller():
    async def scenario():
        net = Network(seed=3, name="replace")
        platform = Platform(net, clock=FakeClock())
        async with net:
            app = await platform.push(manifest(instances=2))
            await net.remove_instance("web-1")            # gone for good, not just crashed
            app.pods.pop("web-1")
            await platform.tick()
            return sorted(p.name for p in app.live_pods()), len(app.ready_pods())
    names, ready = simtime.run(scenario())
    assert names == ["web-2", "web-3"] and ready == 2


def test_failed_readiness_takes_an_instance_out_of_the_balancer_and_liveness_restarts_it():
    async def scenario():
        clock = FakeClock()
        net = Network(seed=3, name="probes")
        platform = Platform(net, clock=clock)
        probes = {"readiness": {"path": "/ready", "period": 10}, "liveness": {"path": "/health", "period": 10}}
        async with net:
            await platform.push(manifest(instances=2, probes=probes))
            await platform.tick()
            net.instance("web-2").app.state.ready = False   # web-2 says it cannot take traffic
            for _ in range(3):                              # three failed readiness probes
                clock.advance(10)
                await platform.tick()
            client = net.client()
            served = {(await client.get("http://web.svc/hello")).json()["instance"] for _ in range(6)}
            running_while_unready = net.instance("web-2").running
            net.fault("web-1", error_rate=1.0)               # web-1's /health now fails
            for _ in range(3):
                clock.advance(10)
                await platform.tick()
            killed = not net.instance("web-1").running
            net.clear_faults("web-1")
            return served, running_while_unready, killed, platform.events
    served, running, killed, events = simtime.run(scenario())
    assert served == {"web-1"} and running
    assert killed
    assert {"Readiness failed", "Liveness failed", "Killing"} <= set(events.reason)


def test_one_app_scales_stops_and_starts_while_another_keeps_serving():
    async def scenario():
        net = Network(seed=3, name="independent")
        platform = Platform(net, clock=FakeClock())
        async with net:
            await platform.push(manifest("web", 1))
            await platform.push(manifest("shop", 1))
            await platform.scale("web", 3)
            n_web = len(platform.app("web").ready_pods())
            await platform.stop("web")
            client = net.client()
            shop_ok = (await client.get("http://shop.svc/hello")).status_code
            try:
                await client.get("http://web.svc/hello")
                web_refused = False
            except Exception:
                web_refused = True
            await platform.tick()                            # a stopped app is not healed
            stays_stopped = all(not p.instance.running for p in platform.app("web").pods.values())
            await platform.start("web")
            web_back = (await client.get("http://web.svc/hello")).status_code
            return n_web, shop_ok, web_refused, stays_stopped, web_back
    assert simtime.run(scenario()) == (3, 200, True, True, 200)


def test_routes_are_unique_per_app():
    async def scenario():
        net = Network(seed=3, name="routes")
        platform = Platform(net, clock=FakeClock())
        async with net:
            await platform.push(manifest("web", 1, routes=[{"route": "shop.example.com"}]))
            with pytest.raises(ManifestError, match="already belongs to app 'web'"):
                await platform.push(manifest("shop", 1, routes=[{"route": "shop.example.com"}]))
    simtime.run(scenario())


def test_manifest_env_reaches_the_instances_in_process_mode():
    async def scenario():
        net = Network(seed=3, mode="process", name="env-process")
        platform = Platform(net, clock=FakeClock())
        async with net:
            await platform.push(manifest(instances=1, env={"PROFILE": "prod"}))
            await platform.scale("web", 2)                  # a new instance gets it too
            client = net.client()
            return [(await client.get(f"http://web-{i}.svc/env/PROFILE")).json()["value"] for i in (1, 2)]
    assert simtime.run(scenario()) == ["prod", "prod"]


def test_until_the_startup_probe_passes_the_instance_is_not_ready_and_liveness_waits():
    async def scenario():
        clock = FakeClock()
        net = Network(seed=3, name="startup")
        platform = Platform(net, clock=clock)
        # The app never reports itself started: /warmed-up does not exist (404).
        probes = {"startup": {"path": "/warmed-up", "period": 5, "failure_threshold": 3},
                  "liveness": {"path": "/health", "period": 5}, "readiness": {"path": "/ready", "period": 5}}
        async with net:
            app = await platform.push(manifest(instances=1, probes=probes))
            ready = []
            for _ in range(3):
                ready.append(len(app.ready_pods()))
                clock.advance(5)
                await platform.tick()
            return ready, platform.events
    ready, events = simtime.run(scenario())
    assert ready == [0, 0, 0]                      # running, but never in the balancer
    killed = events[events.reason == "Killing"]
    assert list(killed["message"]) == ["startup probe failed"] and list(killed["time"]) == [10.0]
    assert not {"Liveness failed", "Readiness passed"} & set(events.reason)
