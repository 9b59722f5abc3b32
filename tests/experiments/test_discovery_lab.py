"""Discovery on the network behaves like Eureka, and balancers route around a slow instance.

The labs run at Eureka's true timings (30 s heartbeats, 90 s leases, 60 s
eviction runs, 30 s caches) on simulated time: minutes of network time
cost about a second of wall time, and every number is the same on any
machine.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from labsvc import Network
from labsvc.core.clock import FakeClock
from labsvc.core.errors import ConfigurationError, NetworkStateError
from labsvc.core.experiment import NetworkClock, ScaledClock, instance_of
from labsvc.discovery.lab import (
    DiscoveryLab,
    balancer_experiment,
    compare_balancers,
    plot_balancers,
    plot_discovery,
    plot_stale_sweep,
    stale_bounds,
    stale_sweep,
)
from labsvc.core import simtime

AT = 150.0  # after the registry's first two eviction runs


async def _scenarios():
    def lab(name, preserving):
        return DiscoveryLab(self_preservation=preserving, seed=5, name=f"t-{name}")

    labs = {
        "leave": (lab("leave", False), [(AT, "leave", "catalog-4")], "8min"),
        "crash": (lab("crash", False), [(AT, "crash", "catalog-4")], "8min"),
        "crash-preserving": (lab("crash-sp", True), [(AT, "crash", "catalog-4")], "8min"),
        "partition-preserving": (lab("part-sp", True), [(AT, "partition")], "12min"),
        "partition": (lab("part", False), [(AT, "partition")], "12min"),
        "join": (lab("join", False), [(AT, "join")], "8min"),
    }
    try:
        results = await asyncio.gather(*(lab.run(steps, duration=length) for lab, steps, length in labs.values()))
    finally:
        for lab, _, _ in labs.values():
            await lab.stop()
    return dict(zip(labs, results)), {k: lab for k, (lab, _, _) in labs.items()}


@pytest.fixture(scope="module")
def runs():
    return simtime.run(_scenarios())


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


def test_the_same_seed_gives_the_same_run_to_the_millisecond(runs):
    results, _ = runs
    again = simtime.run(DiscoveryLab(self_preservation=False, seed=5, name="t-crash-again")
                        .run([(AT, "crash", "catalog-4")], duration="8min"))
    assert again.summary().equals(results["crash"].summary())
    assert again.stale_window("catalog-4").equals(results["crash"].stale_window("catalog-4"))


def test_a_clean_shutdown_is_handed_out_for_at_most_the_three_caches(runs):
    results, _ = runs
    r = results["leave"]
    assert len(events(r, "cancelled")) == 1 and events(r, "evicted").empty
    window = r.stale_window("catalog-4").set_index("stage")
    assert window.loc["cancelled", "waited_s"] < 0.01                        # the cancel reaches the registry at once
    for stage in ("server response cache", "client fetch", "balancer list refresh"):
        assert 0 <= window.loc[stage, "waited_s"] <= window.loc[stage, "bound_s"] == 30
    assert window.loc["handed out until", "waited_s"] <= 90
    s = r.summary()
    assert 0 < s["errors"] and s["last_error"] <= window.loc["handed out until", "at_s"]
    assert set(r.requests.loc[~r.requests["ok"], "error"]) == {"InstanceDownError"}


def test_a_crash_is_handed_out_until_lease_eviction_and_three_caches(runs):
    results, _ = runs
    r = results["crash"]
    crash, evicted = r.first("crash"), r.first("evicted")
    assert events(r, "cancelled").empty and evicted > crash
    window = r.stale_window("catalog-4").set_index("stage")
    # Eureka's renew bug: a renewed lease lasts twice the 90 s after its last heartbeat
    assert 150 <= window.loc["lease runs out", "waited_s"] <= window.loc["lease runs out", "bound_s"] == 180
    assert window.loc["eviction run", "waited_s"] <= 60
    assert window.loc["handed out until", "waited_s"] <= stale_bounds(r.settings).set_index("stage").loc["total", "crash"]
    s = r.summary()
    assert s["first_error"] >= crash and s["last_error"] <= window.loc["handed out until", "at_s"]
    after = r.requests[r.requests["time"] > s["last_error"]]
    assert after["ok"].all() and "catalog-4" not in set(after["instance"])
    assert set(r.requests.loc[~r.requests["ok"], "error"]) == {"InstanceDownError"}


def test_self_preservation_keeps_a_crashed_instance_in_a_small_registry(runs):
    results, _ = runs
    r = results["crash-preserving"]
    assert not events(r, "self_preservation_on").empty and events(r, "evicted").empty
    s = r.summary()
    assert s["last_error"] > r.requests["time"].max() - 1  # errors never stop
    assert r.samples["self_preservation"].iloc[-1] and r.samples["registered"].iloc[-1] == 4
    assert math.isnan(r.stale_window("catalog-4").set_index("stage").loc["eviction run", "at_s"])


def test_self_preservation_protects_healthy_instances_cut_off_by_a_partition(runs):
    results, _ = runs
    on, off = results["partition-preserving"], results["partition"]
    assert on.summary()["errors"] == 0 and events(on, "evicted").empty
    evicted = events(off, "evicted")
    assert len(evicted) == 4 and evicted["time"].diff().dropna().round(6).eq(60).all()  # one per eviction run
    assert off.summary()["errors"] > 0
    failed = off.requests[~off.requests["ok"]]
    assert set(failed["error"]) == {"NoInstanceAvailable"}
    assert (off.samples["running"] == 4).all()  # they were alive all along


def test_a_new_instance_gets_traffic_after_the_three_caches(runs):
    results, _ = runs
    r = results["join"]
    join = r.first("join")
    served = r.requests[(r.requests["instance"] == "catalog-5") & r.requests["ok"]]
    assert not served.empty
    assert 0 <= served["time"].min() - join <= 3 * 30
    assert r.summary()["errors"] == 0


def test_a_sweep_of_seeds_spreads_the_crash_window_within_its_bound():
    sweep = simtime.run(stale_sweep(seeds=range(4), duration="9min"))
    assert list(sweep["seed"]) == [0, 1, 2, 3]
    total = stale_bounds(DiscoveryLab(name="t-bounds").settings()).set_index("stage").loc["total", "crash"]
    assert (sweep["window_s"] > 0).all() and (sweep["window_s"] <= total).all()
    assert sweep["window_s"].nunique() > 1                   # other timer phases, other windows
    assert len(plot_stale_sweep(sweep, bound=total).axes) >= 1
    with pytest.raises(ConfigurationError, match="kind='explode'"):
        simtime.run(stale_sweep(kind="explode"))


def test_run_rejects_unknown_actions():
    lab = DiscoveryLab(name="t-bad-action")
    with pytest.raises(ConfigurationError, match="action='explode'"):
        lab._action("explode")


def test_a_lab_that_ran_and_stopped_says_to_build_a_new_one(runs):
    _, labs = runs
    with pytest.raises(NetworkStateError, match="build a new one"):
        simtime.run(labs["join"].run([(1, "join")], duration="2s"))


def test_plot_discovery_returns_a_figure(runs):
    results, _ = runs
    assert len(plot_discovery(results["crash"]).axes) == 2


@pytest.fixture(scope="module")
def balancers():
    return simtime.run(compare_balancers(seed=5, rate=300, requests=240))


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
        simtime.run(balancer_experiment("p2c", instances=1))


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

    ours, theirs = simtime.run(main())
    assert 0 <= ours <= theirs


def test_instance_of_needs_a_factory_app():
    net = Network(name="t-instance-of")
    from labsvc import create_service

    app = create_service("x")
    net.add("x", app)
    assert instance_of(net, "x", app) == "x-1"
    with pytest.raises(ConfigurationError, match="factory"):
        instance_of(net, "x", create_service("y"))


def test_the_chapter_plots_live_in_plots_and_the_lab_re_exports_them():
    import labsvc.discovery.lab as lab
    import labsvc.discovery.plots as plots

    assert plots.__all__ == ["plot_discovery", "plot_stale_sweep", "plot_balancers"]
    assert all(getattr(lab, name) is getattr(plots, name) and name in lab.__all__ for name in plots.__all__)
