"""The pump drives an endpoint round by round, survives failing rounds and stops with its network."""

from __future__ import annotations

import asyncio

import pytest

from labsvc import Network, create_service
from labsvc.core.clock import FakeClock
from labsvc.data import Pump, PumpError
from labsvc.core.errors import ConfigurationError
from labsvc.core import simtime


def counter_app():
    app = create_service("worker")
    state = {"left": 3}

    @app.post("/work")
    async def work(body: dict | None = None):
        done = 1 if state["left"] > 0 else 0
        state["left"] -= done
        return {"done": done, "left": state["left"]}

    @app.post("/forever")
    async def forever():
        return {"done": 1}

    return app


async def until(condition, turns=10_000):
    """Let 1 ms pass at a time until ``condition()`` holds; fail after ``turns`` turns (simulated time: never sleeps)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0.001)  # on simulated time a turn must let time pass, or nothing that takes time ends
    raise AssertionError("condition never held")


def make(name):
    net = Network(seed=1, name=name)
    net.add("worker", counter_app)
    return net


def test_drain_runs_rounds_until_one_says_there_is_nothing_left():
    async def scenario():
        async with make("test-pump-drain") as net:
            pump = Pump(net, "http://worker.svc/work", caller="scheduler", done=lambda a: a["done"] == 0)
            rounds = await pump.drain()
            return rounds, pump.rounds, net.calls

    rounds, total, calls = simtime.run(scenario())
    assert rounds == 3 and total == 4
    assert set(calls["caller"]) == {"scheduler"} and len(calls) == 4


def test_a_pump_that_never_runs_dry_is_reported_not_waited_for():
    async def scenario():
        async with make("test-pump-forever") as net:
            pump = Pump(net, "http://worker.svc/forever", caller="scheduler", done=lambda a: a["done"] == 0)
            with pytest.raises(ConfigurationError, match="still had work after 5 rounds"):
                await pump.drain(max_rounds=5)

    simtime.run(scenario())


def test_a_failing_round_raises_and_is_counted():
    async def scenario():
        async with make("test-pump-fail") as net:
            pump = Pump(net, "http://worker.svc/work", caller="scheduler", done=lambda a: True)
            net.fault("worker", error_rate=1.0)
            with pytest.raises(PumpError, match="503"):
                await pump.once()
            net.fault("worker", down=True)
            with pytest.raises(PumpError, match="InstanceDownError"):
                await pump.once()
            return pump

    pump = simtime.run(scenario())
    assert pump.errors == 2 and pump.last_error == "InstanceDownError"


@pytest.mark.realtime  # a fake clock for the backoff next to a network: the loop never waits on the network's time
def test_the_background_loop_backs_off_on_errors_and_ends_when_the_network_stops():
    async def scenario():
        clock = FakeClock()
        net = make("test-pump-loop")
        async with net:
            pump = Pump(net, "http://worker.svc/work", caller="scheduler", done=lambda a: a["done"] == 0,
                        idle="10ms", backoff="20ms", clock=clock)
            net.fault("worker", error_rate=1.0)
            pump.start()
            pump.start()  # idempotent
            await until(lambda: pump.errors >= 3)  # the fake clock's sleep returns at once
            net.clear_faults()
            await until(lambda: pump.rounds >= pump.errors + 6)
            running = pump.running
        await until(lambda: not pump.running)
        return pump, clock, running

    pump, clock, running = simtime.run(scenario())
    assert running and not pump.running  # stopping the network ended the loop
    assert 0.02 in clock.sleeps and 0.01 in clock.sleeps  # backoff after errors, idle when done
    simtime.run(pump.stop())  # harmless after the end
