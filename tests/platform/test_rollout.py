"""Rollouts under open-loop load: rolling and blue-green lose nothing; a bad canary is rolled back."""

from __future__ import annotations

import asyncio

import httpx
import pandas as pd
import pytest

from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.platform import BlueGreen, Canary, CanaryStep, Platform, Recreate, RollingUpdate, surge_and_unavailable
from labsvc.platform.export import topology
from labsvc.core import simtime

RATE, REQUESTS = 400, 600   # 1.5 s of open-loop load


async def retry_once(client, i):
    """One request; on a refused connection, one retry (what a careful client does)."""
    try:
        return await client.get("http://web.svc/hello")
    except httpx.ConnectError:
        return await client.get("http://web.svc/hello")


def run_rollout(strategy, new_app, version, *, retry=True, replicas=4, name="rollout"):
    async def scenario():
        net = Network(seed=5, name=name)
        platform = Platform(net)                    # the network's (simulated) clock: a 1 s step costs no wall time
        async with net:
            await platform.push({"name": "web", "app": "platapps:web_v1", "instances": replicas,
                                 "probes": {"readiness": {"path": "/ready"}}})
            target = retry_once if retry else "GET http://web.svc/hello"
            load = asyncio.create_task(open_loop(net, target, rate=RATE, requests=REQUESTS, progress=False))
            while len(net.calls) < 40:                           # the rollout begins under load
                await asyncio.sleep(0.01)
            result = await strategy.run(platform, "web", new_app, version)
            run = await load
            calls = net.calls
            final = platform.status()
        return result, run.df, calls, final
    return simtime.run(scenario())


def served_versions(calls: pd.DataFrame, final: pd.DataFrame) -> set:
    load = calls[calls.caller == "load"]
    return set(load["instance"])


def test_surge_rounds_up_and_unavailable_rounds_down():
    assert surge_and_unavailable(10) == (3, 2)
    assert surge_and_unavailable(4, "50%", 0) == (2, 0)


@pytest.mark.parametrize("strategy", [RollingUpdate(), BlueGreen()], ids=["rolling", "blue-green"])
def test_rolling_update_and_blue_green_lose_no_request_with_one_retry(strategy):
    result, df, calls, final = run_rollout(strategy, "platapps:web_v2", "v2", name=f"zero-{strategy.name}")
    assert result.completed and not result.rolled_back
    assert len(df) == REQUESTS
    assert df["ok"].all(), df[~df["ok"]].head()
    assert set(final["version"]) == {"v2"} and len(final) == 4
    load = calls[(calls.caller == "load") & (calls.status == 200)]
    assert load["instance"].str.startswith("web-").all()
    # both versions answered the load: the rollout happened while it ran
    v1 = {"web-1", "web-2", "web-3", "web-4"}
    assert load["instance"].isin(v1).any() and (~load["instance"].isin(v1)).any()


def test_recreate_without_retry_loses_requests():
    result, df, calls, final = run_rollout(Recreate(step=3.0), "platapps:web_v2", "v2", retry=False, name="recreate")
    assert result.completed
    assert (~df["ok"]).sum() > 0            # the outage between old and new


def test_a_bad_canary_is_rolled_back_before_it_takes_more_than_its_weight():
    canary = Canary(steps=(CanaryStep(0.1, pause=5), CanaryStep(0.5, pause=5)), min_requests=20)
    result, df, calls, final = run_rollout(canary, "platapps:web_broken", "v3-broken", name="canary")
    assert result.rolled_back and not result.completed
    steps = result.steps
    assert steps["weight"].max() == pytest.approx(0.1)           # never got to the 50 % step
    first = steps.iloc[0]
    assert not first["passed"] and first["success_rate"] == 0.0
    assert set(final["version"]) == {"v1"} and len(final) == 4
    load = calls[calls.caller == "load"]
    canary_calls = load[load["status"] == 500]
    share = len(canary_calls) / len(load)
    assert 0 < share <= 0.1 + 3 * (0.1 * 0.9 / len(load)) ** 0.5 + 0.05
    # nothing reached the canary after the rollback
    rollback_at = steps[steps.note == "rolled back"]["time"].iloc[0]
    assert (canary_calls["start"] > rollback_at).sum() == 0


def test_a_good_canary_is_promoted():
    canary = Canary(steps=(CanaryStep(0.2, pause=2),), min_requests=10, max_p95=5.0)
    result, df, calls, final = run_rollout(canary, "platapps:web_v2", "v2", name="canary-good")
    assert result.completed and not result.rolled_back
    assert set(final["version"]) == {"v2"} and len(final) == 4
    assert df["ok"].all()


def test_after_a_rollback_new_instances_run_the_stable_version_and_controllers_can_run_alongside():
    async def scenario():
        net = Network(seed=5, name="after-rollback")
        platform = Platform(net)
        async with net:
            await platform.push({"name": "web", "app": "platapps:web_v1", "instances": 2,
                                 "probes": {"readiness": {"path": "/ready"}}})
            controllers = asyncio.create_task(platform.run_for(60, every=1))   # kubelet + replica set + no HPA
            load = asyncio.create_task(open_loop(net, retry_once, rate=300, requests=300, progress=False))
            while len(net.calls) < 20:
                await asyncio.sleep(0.01)
            bad = await Canary(steps=(CanaryStep(0.2, pause=1),), min_requests=10).run(
                platform, "web", "platapps:web_broken", "v3-broken")
            await platform.scale("web", 3)                  # the new instance runs the stable code
            client = net.client()
            after_rollback = sorted(platform.status()["version"])
            served = {(await client.get(f"http://web-{i}.svc/hello")).json()["version"]
                      for i in (p.instance.index for p in platform.app("web").live_pods())}
            good = await RollingUpdate().run(platform, "web", "platapps:web_v2", "v2")
            await load
            await controllers
            versions = {(await client.get("http://web.svc/hello")).json()["version"] for _ in range(9)}
            return bad, after_rollback, served, good, platform.status(), versions
    bad, after_rollback, served, good, status, versions = simtime.run(scenario())
    assert bad.rolled_back and after_rollback == ["v1", "v1", "v1"] and served == {"v1"}
    assert good.completed
    assert sorted(status["version"]) == ["v2", "v2", "v2"] and versions == {"v2"}


@pytest.mark.parametrize("surge,unavailable", [("25%", "25%"), (1, 0), (0, 1), ("50%", "50%")])
def test_a_rolling_update_keeps_within_max_surge_and_max_unavailable(surge, unavailable):
    from labsvc.core.clock import FakeClock

    async def scenario():
        net = Network(seed=5, name="bounds")
        platform = Platform(net, clock=FakeClock())
        async with net:
            await platform.push({"name": "web", "app": "platapps:web_v1", "instances": 4,
                                 "probes": {"readiness": {"path": "/ready"}}})
            return await RollingUpdate(surge, unavailable).run(platform, "web", "platapps:web_v2", "v2")
    result = simtime.run(scenario())
    max_surge, max_unavailable = surge_and_unavailable(4, surge, unavailable)
    steps = result.steps
    assert result.completed
    assert (steps["old"] + steps["new"]).max() <= 4 + max_surge
    assert (steps["old_ready"] + steps["new_ready"]).min() >= 4 - max_unavailable
    assert steps.iloc[-1][["old", "new", "new_ready"]].tolist() == [0, 4, 4]


def test_app_objects_roll_out_and_each_version_runs_its_own_lifespan():
    import platapps
    from labsvc.core.clock import FakeClock

    async def scenario():
        net = Network(seed=5, name="objects")
        platform = Platform(net, clock=FakeClock())
        async with net:
            await platform.push({"name": "web", "app": platapps.object_v1, "instances": 2})
            exported = topology(platform)[0]
            result = await RollingUpdate().run(platform, "web", platapps.object_v2, "v2")
            client = net.client()
            answers = {(await client.get("http://web.svc/hello")).json()["version"] for _ in range(4)}
        return exported, result, answers
    exported, result, answers = simtime.run(scenario())
    assert (exported["target"], exported["factory"]) == ("platapps:object_v1", False)   # uvicorn without --factory
    assert result.completed and answers == {"v2"}        # v2's instances ran v2's lifespan, not v1's
