"""Resilience patterns measured on the network: breaker states, failover, retry storms, fan-out tails."""

from __future__ import annotations

import asyncio
import random

import pandas as pd
import pytest

from labsvc.core.clock import FakeClock
from labsvc.core.errors import ConfigurationError
from labsvc.resilience.lab import (
    AllBreakersOpen,
    BreakerBalancer,
    TailLatency,
    amplification,
    breaker_experiment,
    compare_failover,
    compare_retry_policies,
    failover_experiment,
    failover_summary,
    fanout_experiment,
    fanout_model,
    plot_breaker,
    plot_failover,
    plot_fanout,
    plot_retry_storm,
    retry_storm,
)
from labsvc.resilience import CallNotPermitted
from labsvc.core import simtime


def subsequence(wanted, seq) -> bool:
    it = iter(seq)
    return all(any(x == w for x in it) for w in wanted)


@pytest.fixture(scope="module")
def breaker_runs():
    async def both():
        return await asyncio.gather(breaker_experiment(breaker=True, seed=4, name="t-breaker-on"),
                                    breaker_experiment(breaker=False, seed=4, name="t-breaker-off"))

    on, off = simtime.run(both())
    return {"on": on, "off": off}


def test_breaker_goes_closed_open_half_open_closed_in_order(breaker_runs):
    on = breaker_runs["on"]
    states = [on.transitions[0][0], *(to for _, to in on.transitions)]
    assert subsequence(["CLOSED", "OPEN", "HALF_OPEN", "CLOSED"], states)
    assert states[0] == "CLOSED" and states[-1] == "CLOSED"
    start, end = on.window
    t = on.events[on.events["kind"] == "state_transition"]
    opened = t[t["to_state"] == "OPEN"]["time"].iloc[0]
    closed = t[t["to_state"] == "CLOSED"]["time"].iloc[-1]
    assert start < opened < end < closed  # opens during the outage, closes only after it


def test_an_open_breaker_fails_fast_and_spares_the_sick_service(breaker_runs):
    on = breaker_runs["on"].phases().set_index("phase")
    off = breaker_runs["off"].phases().set_index("phase")
    assert on.loc["during", "calls_to_reviews"] < off.loc["during", "calls_to_reviews"] / 2
    assert on.loc["during", "p50_ms"] < 20 <= 100 <= off.loc["during", "p50_ms"]
    assert on.loc["during", "degraded"] == off.loc["during", "degraded"] == 1.0  # the fallback answers, both ways
    assert (on["requests"] > 0).all() and on.loc["before", "degraded"] == 0.0
    assert breaker_runs["off"].transitions == []


def test_not_permitted_calls_are_events_while_open(breaker_runs):
    ev = breaker_runs["on"].events
    rejected = ev[ev["kind"] == "not_permitted"]
    assert len(rejected) > 20 and set(rejected["state"]) <= {"OPEN", "HALF_OPEN"}
    assert len(plot_breaker(breaker_runs["on"]).axes) == 1


@pytest.fixture(scope="module")
def failover():
    return simtime.run(compare_failover(seed=4))


def test_round_robin_keeps_sending_a_third_to_the_dead_instance(failover):
    s = failover_summary(failover).set_index("strategy")
    rr = s.loc["round robin"]
    assert 25 <= rr["errors"] <= 40 and rr["calls_to_dead_instance"] == rr["errors"]


def test_breakers_route_around_the_dead_instance_and_a_retry_hides_the_rest(failover):
    s = failover_summary(failover).set_index("strategy")
    assert s.loc["breakers", "errors"] <= 8
    assert s.loc["breakers + retry", "errors"] == 0
    assert s.loc["breakers + retry", "calls_to_dead_instance"] <= 8
    ev = failover["breakers"].events
    dead = ev[(ev["instance"] == "inventory-2") & (ev["kind"] == "state_transition")]
    assert subsequence(["OPEN", "HALF_OPEN", "CLOSED"], list(dead["to_state"]))
    others = ev[(ev["instance"] != "inventory-2") & (ev["kind"] == "state_transition")]
    assert others.empty
    assert len(plot_failover(failover).axes) == 3


def test_failover_rejects_unknown_strategies_and_instances():
    with pytest.raises(ConfigurationError, match="strategy='pray'"):
        simtime.run(failover_experiment("pray"))
    with pytest.raises(Exception, match="inventory-9"):
        simtime.run(failover_experiment("round robin", dead="inventory-9"))


@pytest.fixture(scope="module")
def storm():
    return simtime.run(compare_retry_policies(requests=60, rate=100, seed=4))


def per_request(storm, policy, layer):
    return float(storm[(storm["policy"] == policy) & (storm["layer"] == layer)]["per_request"].iloc[0])


def test_naive_retries_at_every_layer_multiply_the_load_on_the_bottom(storm):
    assert per_request(storm, "none", "c") == 1.0
    assert per_request(storm, "naive", "a") == 3.0
    assert per_request(storm, "naive", "b") == 9.0
    assert per_request(storm, "naive", "c") == 27.0 > 10


def test_a_retry_budget_keeps_the_bottom_layer_near_one(storm):
    # A 10 % budget at every layer still compounds (at most 1.1 ** 3 = 1.33) ...
    assert 1.0 < per_request(storm, "budget", "c") <= 1.1 ** 3 + 1e-9
    # ... retrying only next to the failure holds it near 1.1.
    assert 1.0 < per_request(storm, "budget + one layer", "c") <= 1.3
    assert per_request(storm, "budget + one layer", "a") == 1.0
    assert len(plot_retry_storm(storm).axes) == 1


def test_amplification_is_counted_from_the_call_log():
    result = simtime.run(retry_storm("naive", requests=10, rate=100, seed=4, name="t-storm-small"))
    table = amplification(result.calls, result.user_requests)
    assert dict(zip(table["layer"], table["calls"])) == {"a": 30, "b": 90, "c": 270}
    assert int((result.calls["callee"] == "c").sum()) == 270
    stats = result.retries.set_index("caller")
    assert stats.loc["users", "retries"] == 20 and stats.loc["b", "retries"] == 180
    with pytest.raises(ConfigurationError, match="policy='hope'"):
        simtime.run(retry_storm("hope"))


def test_fanout_model_matches_the_formula_and_its_p99_grows():
    model = fanout_model((1, 5, 10, 50), draws=20_000, seed=1).set_index("fanout")
    assert (model["slow_share"] - model["predicted_slow_share"]).abs().max() < 0.015
    assert model.loc[1, "p99_ms"] < 5 and model.loc[10, "p99_ms"] >= 45
    assert model.loc[50, "p50_ms"] < 5  # the median hardly moves; the tail does


def test_fanout_on_the_network_has_a_slower_tail_than_one_backend():
    measured = simtime.run(fanout_experiment((1, 10), requests=200, rate=200, seed=2, name="t-fanout"))
    m = measured.set_index("fanout")
    # Counts and lower bounds only: a busy machine adds latency, it never removes the 50 ms draws.
    assert m.loc[10, "slow_share"] > m.loc[1, "slow_share"]
    assert m.loc[10, "p99_ms"] >= 45 and m.loc[10, "p99_ms"] > m.loc[1, "p99_ms"]
    assert len(plot_fanout(fanout_model((1, 10), draws=2_000), measured).axes) == 2


def test_tail_latency_is_mostly_fast_and_validates_its_probability():
    lat = TailLatency(p_slow=0.1)
    rng = random.Random(3)
    draws = [lat.sample(rng) for _ in range(5_000)]
    assert 0.08 < sum(d > 0.02 for d in draws) / len(draws) < 0.12
    assert lat.mean == pytest.approx(0.1 * 0.05 + 0.9 * 0.002)
    with pytest.raises(ConfigurationError, match="p_slow"):
        TailLatency(p_slow=1.5)


def test_breaker_balancer_skips_open_instances_and_fails_fast_when_all_are_open():
    clock = FakeClock()
    lb = BreakerBalancer(clock=clock, sliding_window_size=2, minimum_number_of_calls=2, wait_duration_in_open_state=5)
    rng = random.Random(0)
    for _ in range(4):  # round robin: a, b, a, b; b fails
        pick = lb.choose(["a", "b"], rng)
        lb.on_start(pick)
        lb.on_end(pick, 0.001, ok=pick == "a")
    assert lb.breaker("b").state == "OPEN"
    assert {lb.choose(["a", "b"], rng) for _ in range(5)} == {"a"}
    for _ in range(2):
        lb.on_start("a")
        lb.on_end("a", 0.001, ok=False)
    with pytest.raises(AllBreakersOpen, match="refuses calls") as info:
        lb.choose(["a", "b"], rng)
    assert isinstance(info.value, CallNotPermitted)
    clock.advance(6)  # the wait is over: a trial call is let through
    assert lb.choose(["a", "b"], rng) in {"a", "b"}
    assert isinstance(lb.events, pd.DataFrame) and set(lb.events["instance"]) == {"a", "b"}
    with pytest.raises(ConfigurationError):
        BreakerBalancer(failure_rate_threshold=0)


LAB_MODULES = ["labsvc.core.experiment", "labsvc.resilience.lab", "labsvc.resilience._lab_breaker",
               "labsvc.resilience._lab_failover", "labsvc.resilience._lab_fanout", "labsvc.resilience._lab_retry_storm",
               "labsvc.messaging.lab", "labsvc.discovery.lab", "labsvc.platform.lab"]


def test_the_docstring_examples_of_every_lab_module_run():
    import doctest
    import importlib

    attempted = 0
    for name in LAB_MODULES:
        module = importlib.import_module(name)
        result = doctest.testmod(module)
        assert result.failed == 0, f"{module.__name__}: {result.failed} doctest(s) failed"
        attempted += result.attempted
    assert attempted >= 4
