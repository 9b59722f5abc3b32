"""Notebook 01's real-clock measurements and its simulated-vs-real experiment (labsvc.experiments.realtime)."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError
from labsvc.core.network import running_networks
from labsvc.experiments.realtime import ChainRun, chain_requests, chain_run, compare_runs, no_fault_cost

FEATURES = ["browse", "product page", "checkout", "track"]


def test_no_fault_cost_on_simulated_time_is_exact_and_counts_the_hops():
    first = simtime.run(no_fault_cost(rate=40, duration="1s", seed=1))
    again = simtime.run(no_fault_cost(rate=40, duration="1s", seed=1))
    # simulated: the same numbers on a re-run, except the CPU time, which is this process's real one
    pd.testing.assert_frame_equal(first.drop(columns="cpu_ms"), again.drop(columns="cpu_ms"))
    assert list(first["design"]) == ["monolith"] * 4 + ["microservices"] * 4
    assert list(first["feature"]) == FEATURES * 2
    assert (first["availability"] == 1.0).all()
    hops = first.groupby("design")["hops per request"].first()
    assert hops["microservices"] > 2 * hops["monolith"]
    # on simulated time a hop costs the modelled 1 ms service time and nothing more: browse is 2 hops deep
    browse = first.set_index(["design", "feature"]).loc[("microservices", "browse"), "p50_ms"]
    assert browse == pytest.approx(2.0)


def test_no_fault_cost_on_the_real_clock_measures_more_for_more_hops():
    table = asyncio.run(no_fault_cost(rate=40, duration="0.5s", seed=1, time="real"))
    assert list(table["feature"]) == FEATURES * 2 and (table["availability"] == 1.0).all()
    assert (table["p50_ms"] > 0).all() and (table["p99_ms"] >= table["p50_ms"]).all()
    assert (table["mean_ms"] > 0).all()
    cpu = table.groupby("design")["cpu_ms"].first()
    assert cpu["microservices"] > cpu["monolith"] > 0   # about three times the hops: more work, more CPU
    assert [n.name for n in running_networks() if n.name.startswith("cost-")] == []


def test_the_simulated_chain_is_exact():
    run = simtime.run(chain_run(mode="inprocess", latency="50ms", rate=50, requests=20, seed=1))
    assert isinstance(run, ChainRun) and run.mode == "inprocess" and run.latency == 0.05
    hops = run.hops()
    assert hops[["hop", "calls", "statuses"]].values.tolist() == [["users -> web", 20, "200"],
                                                                  ["web -> catalog", 20, "200"]]
    assert hops["p50_ms"].tolist() == pytest.approx([52.0, 51.0])   # the fault plus 1 ms per service
    assert (hops["p99_ms"] == hops["min_ms"]).all()                  # no spread at all
    table = compare_runs(run, run)
    assert list(table.columns) == ["inprocess (simulated)", "inprocess (real)"]
    assert table.loc["p99 - p50 (ms, jitter)"].tolist() == [0.0, 0.0]
    assert table.loc["p50 beyond the fault (ms)"].tolist() == pytest.approx([2.0, 2.0])
    assert [n.name for n in running_networks() if n.name.startswith("chain-")] == []


@pytest.mark.slow
def test_the_real_chain_makes_the_same_calls_and_never_beats_the_fault():
    sim = simtime.run(chain_run(mode="inprocess", latency="30ms", rate=50, requests=20, seed=1))
    real = asyncio.run(chain_run(mode="process", latency="30ms", rate=50, requests=20, seed=1))
    assert real.mode == "process"
    assert real.hops()[["hop", "calls", "statuses"]].values.tolist() == \
        sim.hops()[["hop", "calls", "statuses"]].values.tolist()
    assert (real.calls["duration"] >= 0.030).all() and (real.requests["latency"] >= 0.030).all()
    table = compare_runs(sim, real)
    assert table.loc["calls web -> catalog"].tolist() == [20, 20]
    assert table.loc["p50 beyond the fault (ms)", "process (real)"] > 0
    assert [n.name for n in running_networks() if n.name.startswith("chain-")] == []


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "docker"}, "mode='docker' is not known"),
    ({"requests": 0}, "requests=0"),
    ({"rate": -1}, "rate=-1"),
    ({"latency": "-5ms"}, "latency"),
])
def test_a_wrong_argument_says_what_to_give(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        simtime.run(chain_run(**kwargs))


def test_chain_requests_normalizes_its_arguments():
    assert chain_requests(50, 100) == (50.0, 100)
    with pytest.raises(ConfigurationError, match="whole number"):
        chain_requests(50, 2.5)
