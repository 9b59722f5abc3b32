"""Balancers pick as their names promise, and the same seed gives the same picks."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from labsvc.discovery.balancing import (
    BALANCERS,
    Balancer,
    EwmaLatency,
    LeastOutstanding,
    PowerOfTwoChoices,
    Random,
    RoundRobin,
    make_balancer,
)
from labsvc.core.errors import ConfigurationError

FIVE = [f"catalog-{i}" for i in range(1, 6)]


def picks(balancer: Balancer, seed: int, n: int = 200, candidates=FIVE) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        choice = balancer.choose(candidates, rng)
        balancer.on_start(choice)
        out.append(choice)
        if len(out) % 3:  # leave some calls in flight, so load-aware balancers see load
            balancer.on_end(choice, 0.01, True)
    return out


@pytest.mark.parametrize("name", list(BALANCERS))
def test_every_balancer_is_deterministic_under_a_seeded_rng(name):
    assert picks(make_balancer(name), seed=11) == picks(make_balancer(name), seed=11)
    assert isinstance(make_balancer(name), Balancer)


@pytest.mark.parametrize("name", ["random", "p2c", "least_outstanding"])
def test_different_seeds_give_different_choices(name):
    assert picks(make_balancer(name), seed=1) != picks(make_balancer(name), seed=2)


@pytest.mark.parametrize("name", list(BALANCERS))
def test_one_candidate_is_always_chosen(name):
    balancer = make_balancer(name)
    assert set(picks(balancer, seed=3, n=20, candidates=["only-1"])) == {"only-1"}


@pytest.mark.parametrize("balancer", [Random(), LeastOutstanding(), PowerOfTwoChoices(), EwmaLatency()])
def test_no_candidates_is_a_clear_error(balancer):
    with pytest.raises(ConfigurationError, match="at least one candidate"):
        balancer.choose([], random.Random(0))


def test_round_robin_gives_an_even_share_in_order():
    chosen = picks(RoundRobin(), seed=0, n=500)
    assert chosen[:6] == FIVE + FIVE[:1]
    assert set(Counter(chosen).values()) == {100}


def test_random_spreads_roughly_evenly():
    counts = Counter(picks(Random(), seed=5, n=5000))
    assert set(counts) == set(FIVE)
    assert all(800 < c < 1200 for c in counts.values())


def test_least_outstanding_avoids_an_instance_with_many_calls_in_flight():
    lb = LeastOutstanding()
    rng = random.Random(4)
    for _ in range(50):
        lb.on_start("catalog-1")  # stuck calls
    chosen = []
    for _ in range(100):
        choice = lb.choose(FIVE, rng)
        lb.on_start(choice)
        lb.on_end(choice, 0.01, True)
        chosen.append(choice)
    assert "catalog-1" not in chosen
    # Ties among the idle ones are broken at random, so they all get work.
    assert set(chosen) == set(FIVE[1:])
    assert lb.outstanding("catalog-1") == 50


def test_least_outstanding_picks_the_minimum_and_never_counts_below_zero():
    lb = LeastOutstanding()
    for name, busy in zip(FIVE, [3, 2, 1, 2, 3]):
        for _ in range(busy):
            lb.on_start(name)
    assert lb.choose(FIVE, random.Random(0)) == "catalog-3"
    lb.on_end("never-started", 0.1, False)
    assert lb.outstanding("never-started") == 0


def test_p2c_never_picks_the_more_loaded_of_the_two_it_sampled():
    lb = PowerOfTwoChoices()
    load = {name: i * 10 for i, name in enumerate(FIVE)}  # catalog-5 the most loaded
    for name, n in load.items():
        for _ in range(n):
            lb.on_start(name)

    class Spy(random.Random):
        """Records which two candidates p2c sampled."""

        def sample(self, population, k, **kw):
            self.last = super().sample(population, k, **kw)
            return self.last

    rng = Spy(9)
    for _ in range(1000):
        choice = lb.choose(FIVE, rng)
        a, b = (FIVE[i] for i in rng.last)
        assert a != b
        assert choice == min((a, b), key=load.get)
        assert choice != "catalog-5"


def test_p2c_shifts_load_away_from_a_busy_instance():
    lb = PowerOfTwoChoices()
    for _ in range(20):
        lb.on_start("catalog-1")
    counts = Counter(lb.choose(FIVE, random.Random(s)) for s in range(500))
    assert counts["catalog-1"] == 0
    assert sum(counts.values()) == 500


def test_ewma_latency_prefers_the_faster_instance_and_tries_new_ones():
    lb = EwmaLatency(alpha=0.5)
    rng = random.Random(2)
    for _ in range(5):
        lb.on_start("slow"); lb.on_end("slow", 0.5, True)
        lb.on_start("fast"); lb.on_end("fast", 0.01, True)
    assert lb.latency("slow") == pytest.approx(0.5) and lb.latency("fast") == pytest.approx(0.01)
    assert {lb.choose(["slow", "fast"], rng) for _ in range(50)} == {"fast"}
    assert lb.choose(["slow", "new"], rng) == "new"  # no measurement yet: costs 0
    with pytest.raises(ConfigurationError, match="alpha"):
        EwmaLatency(alpha=0)


def test_make_balancer_accepts_names_objects_and_classes():
    assert isinstance(make_balancer("round_robin"), RoundRobin)
    assert isinstance(make_balancer("Round-Robin"), RoundRobin)
    assert isinstance(make_balancer("random"), Random)
    assert isinstance(make_balancer("least_outstanding"), LeastOutstanding)
    assert isinstance(make_balancer("p2c"), PowerOfTwoChoices)
    assert isinstance(make_balancer("power of two choices"), PowerOfTwoChoices)
    mine = LeastOutstanding()
    assert make_balancer(mine) is mine
    assert isinstance(make_balancer(PowerOfTwoChoices), PowerOfTwoChoices)
    # A name builds a fresh balancer each time: no shared in-flight counts.
    assert make_balancer("p2c") is not make_balancer("p2c")


@pytest.mark.parametrize("bad", ["fastest", "", 42, None, object()])
def test_make_balancer_rejects_anything_else_listing_the_valid_names(bad):
    with pytest.raises(ConfigurationError) as excinfo:
        make_balancer(bad)
    message = str(excinfo.value)
    for name in ["'round_robin'", "'random'", "'least_outstanding'", "'p2c'"]:
        assert name in message


def test_docstring_examples_run():
    import doctest

    import labsvc.discovery.balancing

    result = doctest.testmod(labsvc.discovery.balancing)
    assert result.failed == 0 and result.attempted > 0
