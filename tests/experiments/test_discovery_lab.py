"""Discovery on the network behaves like Eureka, and balancers route around a slow instance.

The labs run in real time on a registry clock 100x faster than real time
(Eureka's 30/60/90 s become 300/600/900 ms). Three labs at a time run side
by side to keep the suite short.
"""

from __future__ import annotations

import asyncio

import pytest

from labsvc import Network
from labsvc.clock import FakeClock
from labsvc.errors import ConfigurationError, NetworkStateError
from labsvc.experiments import NetworkClock, ScaledClock, instance_of
from labsvc.experiments.discovery import (
    DiscoveryLab,
    balancer_experiment,
    compare_balancers,
    plot_balancers,
    plot_discovery,
)

# 100x (the notebook uses 200x): a 90 s lease is 0.9 s of real time, so a busy
# machine's event-loop stalls stay well inside it.
SCALE = 100
AT = 140 / SCALE  # after the registry's first two eviction runs (60 and 120 registry seconds)
RUN = f"{500 / SCALE:g}s"


async def _scenarios():
    labs = {
        "leave": (DiscoveryLab(self_preservation=False, seed=5, scale=SCALE, name="t-leave"), [(AT, "leave", "catalog-4")]),
        "crash": (DiscoveryLab(self_preservation=False, seed=5, scale=SCALE, name="t-crash"), [(AT, "crash", "catalog-4")]),
        "crash-preserving": (DiscoveryLab(self_preservation=True, seed=5, scale=SCALE, name="t-crash-sp"),
                             [(AT, "crash", "catalog-4")]),
        "partition-preserving": (DiscoveryLab(self_preservation=True, seed=5, scale=SCALE, name="t-part-sp"), [(AT, "partition")]),
        "partition": (DiscoveryLab(self_preservation=False, seed=5, scale=SCALE, name="t-part"), [(AT, "partition")]),
        "join": (DiscoveryLab(self_preservation=False, seed=5, scale=SCALE, name="t-join"), [(AT, "join")]),
    }
    results = []
    try:
        items = list(labs.values())
        for group in (items[:3], items[3:]):
            results += await asyncio.gather(*(lab.run(steps, duration=RUN) for lab, steps in group))
    finally:
        for lab, _ in labs.values():
            await lab.stop()
    return dict(zip(labs, results)), {k: lab for k, (lab, _) in labs.items()}


@pytest.fixture(scope="module")
def runs():
    return asyncio.run(_scenarios())


def events(result, kind):
    return result.events[result.events["event"] == kind]


def test_every_instance_registers_and_heartbeats_over_http(runs):
    results, labs = runs
    lab = labs["leave"]
    calls = lab.net.calls
    beats = calls[(calls["callee"] == "registry") & (calls["caller"] == "catalog")]
    assert set(beats["caller_instance"]) == {"catalog-1", "catalog-2", "catalog-3", "catalog-4"}
    assert set(beats["route"]) >= {"/services/{service}/instances", "/services/{service}/instances/{instance}/heartbeat"}
    assert ("web", "registry") in set(zip(calls["caller"], calls["callee"]))  # the discovery client's refreshes


def test_a_clean_shutdown_costs_at_most_one_cache_refresh_of_errors(runs):
    results, _ = runs
    r = results["leave"]
    assert len(events(r, "cancelled")) == 1 and events(r, "evicted").empty
    s = r.summary()
    assert s["errors"] <= 5
    assert s["error_span_registry_s"] <= 30 + 10  # one refresh interval, plus scheduling slack


def test_a_crash_is_handed_out_until_eviction_and_refresh(runs):
    results, _ = runs
    r = results["crash"]
    crash, evicted = r.first("crash"), r.first("evicted")
    assert events(r, "cancelled").empty
    assert evicted > crash
    s = r.summary()
    assert s["errors"] >= 3
    assert s["first_error"] >= crash - 0.02
    # lease (90) + eviction interval (60) + refresh (30), in registry seconds, plus slack
    assert (s["last_error"] - crash) * r.scale <= 180 + 20
    after = r.requests[r.requests["time"] > s["last_error"]]
    assert after["ok"].all() and "catalog-4" not in set(after["instance"])
    assert set(r.requests.loc[~r.requests["ok"], "error"]) == {"InstanceDownError"}


def test_self_preservation_keeps_a_crashed_instance_in_a_small_registry(runs):
    results, _ = runs
    r = results["crash-preserving"]
    assert not events(r, "self_preservation_on").empty and events(r, "evicted").empty
    s = r.summary()
    assert s["last_error"] > r.requests["time"].max() - 0.1  # errors never stop
    assert r.samples["self_preservation"].iloc[-1] and r.samples["registered"].iloc[-1] == 4


def test_self_preservation_protects_healthy_instances_cut_off_by_a_partition(runs):
    results, _ = runs
    on, off = results["partition-preserving"], results["partition"]
    assert on.summary()["errors"] == 0 and events(on, "evicted").empty
    assert len(events(off, "evicted")) == 4  # one per eviction run (gradual eviction)
    assert off.summary()["errors"] > 0
    failed = off.requests[~off.requests["ok"]]
    assert set(failed["error"]) == {"NoInstanceAvailable"}
    assert (off.samples["running"] == 4).all()  # they were alive all along


def test_a_new_instance_gets_traffic_after_the_next_refresh(runs):
    results, _ = runs
    r = results["join"]
    join = r.first("join")
    served = r.requests[(r.requests["instance"] == "catalog-5") & r.requests["ok"]]
    assert not served.empty
    delay = (served["time"].min() - join) * r.scale
    assert 0 <= delay <= 30 + 10
    assert r.summary()["errors"] == 0


def test_run_rejects_unknown_actions():
    lab = DiscoveryLab(name="t-bad-action")
    with pytest.raises(ConfigurationError, match="action='explode'"):
        lab._action("explode")


def test_a_lab_that_ran_and_stopped_says_to_build_a_new_one(runs):
    _, labs = runs
    with pytest.raises(NetworkStateError, match="build a new one"):
        asyncio.run(labs["join"].run([(0.1, "join")], duration="0.2s"))


def test_plot_discovery_returns_a_figure(runs):
    results, _ = runs
    assert len(plot_discovery(results["crash"]).axes) == 2


@pytest.fixture(scope="module")
def balancers():
    return asyncio.run(compare_balancers(seed=5, rate=300, requests=240))


def test_round_robin_gives_the_slow_instance_its_equal_share(balancers):
    assert balancers.slow_share()["round_robin"] == pytest.approx(0.25)


def test_load_aware_balancers_send_less_to_the_slow_instance(balancers):
    share = balancers.slow_share()
    assert share["least_outstanding"] < share["round_robin"] / 2
    assert share["p2c"] < share["round_robin"] / 2
    assert 0.1 < share["random"] < 0.4


def test_less_traffic_to_the_slow_instance_means_lower_user_latency(balancers):
    o = balancers.overall.set_index("balancer")
    assert o.loc["least_outstanding", "mean_ms"] < o.loc["round_robin", "mean_ms"]
    assert (o["availability"] == 1.0).all()
    per = balancers.per_instance
    assert per.groupby("balancer")["share"].sum().round(9).eq(1.0).all()
    slow = per[per["instance"] == "catalog-4"]
    assert (slow["p50_ms"] >= 40).all()
    assert len(plot_balancers(balancers).axes) == 2


def test_balancer_experiment_needs_two_instances():
    with pytest.raises(ConfigurationError, match="at least 2 instances"):
        asyncio.run(balancer_experiment("p2c", instances=1))


def test_scaled_clock_runs_faster_than_its_base():
    base = FakeClock()
    clock = ScaledClock(base, scale=100)
    base.advance(0.3)
    assert clock.now() == pytest.approx(30.0) and clock.real(30) == pytest.approx(0.3)
    with pytest.raises(ConfigurationError, match="scale"):
        ScaledClock(scale=0)


def test_network_clock_reads_zero_until_the_network_starts_then_the_call_log_time():
    net = Network(name="t-clock")
    clock = NetworkClock(net)
    assert clock.now() == 0.0

    async def main():
        async with net:
            return clock.now(), net.now()

    ours, theirs = asyncio.run(main())
    assert 0 <= ours <= theirs


def test_instance_of_needs_a_factory_app():
    net = Network(name="t-instance-of")
    from labsvc import create_service

    app = create_service("x")
    net.add("x", app)
    assert instance_of(net, "x", app) == "x-1"
    with pytest.raises(ConfigurationError, match="factory"):
        instance_of(net, "x", create_service("y"))
