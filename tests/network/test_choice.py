"""Choice points: one place decides the order of same-instant deliveries, and a run replays from its picks."""

import asyncio
import itertools

import pytest

from labsvc.core import simtime
from labsvc.core.choice import Arrival, ChoicePoints, Scripted, Seeded
from labsvc.core.errors import ConfigurationError, NetworkStateError
from labsvc.core.network import Network
from labsvc.core.service import create_service


def door_app(arrivals):
    app = create_service("door")

    @app.get("/hit/{who}")
    async def hit(who: str):
        arrivals.append(who)
        return {"who": who}

    return app


def run_three(chooser, names=("a", "b", "c")):
    """Three callers reach one service at the same simulated instant; returns (arrival order, choice points)."""
    arrivals: list[str] = []

    async def scenario():
        net = Network(seed=1, name="choice-test")
        net.add("door", lambda: door_app(arrivals))
        async with net:
            points = net.steer(chooser)
            await asyncio.gather(*(net.client(who).get(f"http://door.svc/hit/{who}") for who in names))
            return points

    points = simtime.run(scenario())
    return arrivals, points


def test_without_steering_deliveries_go_in_arrival_order():
    arrivals = []

    async def scenario():
        net = Network(seed=1, name="choice-test")
        net.add("door", lambda: door_app(arrivals))
        async with net:
            await asyncio.gather(*(net.client(w).get(f"http://door.svc/hit/{w}") for w in "abc"))

    simtime.run(scenario())
    assert arrivals == ["a", "b", "c"]


def test_arrival_chooser_keeps_the_order_and_records_each_decision():
    arrivals, points = run_three(Arrival())
    assert arrivals == ["a", "b", "c"]
    assert [len(c.options) for c in points.history] == [3, 2]  # the last delivery had no alternative
    assert points.history[0].options == ("a -> door-1 GET /hit/a", "b -> door-1 GET /hit/b", "c -> door-1 GET /hit/c")
    assert points.script == []  # all first options: nothing to script


def test_a_script_chooses_the_order():
    arrivals, points = run_three(Scripted([2, 0]))
    assert arrivals == ["c", "a", "b"]
    assert [c.taken for c in points.history] == ["c -> door-1 GET /hit/c", "a -> door-1 GET /hit/a"]


def test_walking_every_script_visits_each_interleaving_exactly_once():
    """Depth-first over the choice tree: a run's history says how many options each step had."""
    seen, frontier = [], [[]]
    while frontier:
        prefix = frontier.pop()
        arrivals, points = run_three(Scripted(prefix))
        seen.append(tuple(arrivals))
        widths = [len(c.options) for c in points.history]
        for step in range(len(prefix), len(widths)):  # siblings of every choice this run made past the prefix
            taken = [c.picked for c in points.history][:step]
            frontier += [taken + [alt] for alt in range(1, widths[step])]
    assert len(seen) == 6 == len(set(seen))
    assert set(seen) == set(itertools.permutations("abc"))


def test_a_seeded_chooser_replays_and_seeds_differ():
    first, points = run_three(Seeded(7))
    again, _ = run_three(Seeded(7))
    assert first == again
    replayed, _ = run_three(Scripted(points.script))
    assert replayed == first
    orders = {tuple(run_three(Seeded(seed))[0]) for seed in range(12)}
    assert len(orders) > 2


def test_pick_asks_the_same_chooser_and_records_it():
    points = ChoicePoints(Scripted([1]), clock=lambda: 2.5)
    assert points.pick("duplicate m1", ["deliver once", "deliver twice"]) == 1
    assert points.pick("only", ["one way"]) == 0  # one option is no choice: not recorded
    assert [(c.at, c.kind, c.taken) for c in points.history] == [(2.5, "duplicate m1", "deliver twice")]


def test_bad_choosers_and_scripts_say_what_is_wrong():
    with pytest.raises(ConfigurationError, match="return an index from 0 to 1"):
        ChoicePoints(lambda options: 5).pick("x", ["a", "b"])
    with pytest.raises(ConfigurationError, match="that step had 2 option"):
        ChoicePoints(Scripted([3])).pick("x", ["a", "b"])
    with pytest.raises(ConfigurationError, match="no options"):
        ChoicePoints().pick("x", [])


def test_steering_needs_a_started_simulated_network():
    with pytest.raises(NetworkStateError, match="start network"):
        Network(name="choice-idle").steer(Arrival())
    with pytest.raises(ConfigurationError, match="simulated time"):
        Network(name="choice-real", time="real").steer(Arrival())


def test_timers_still_fire_on_a_steered_network():
    """Doors only order deliveries at one instant: time moves on once nobody waits at one."""
    arrivals = []

    async def scenario():
        net = Network(seed=1, name="choice-test")
        net.add("door", lambda: door_app(arrivals))
        async with net:
            net.steer(Seeded(3))
            client = net.client("x")
            await client.get("http://door.svc/hit/first")
            t = net.now()
            await net.run_for("30s")
            await client.get("http://door.svc/hit/later")
            return t, net.now()

    t, later = simtime.run(scenario())
    assert arrivals == ["first", "later"]
    assert later - t == pytest.approx(30.0, abs=0.01)
