"""Simulated time: exact, reproducible, fast; capacity gives queueing that matches the theory."""

import asyncio
import time

import pytest

from labsvc.core import simtime
from labsvc.core.capacity import time_average
from labsvc.core.errors import ConfigurationError, NetworkStateError
from labsvc.core.faults import Exponential
from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.core.service import create_service


def echo_app():
    app = create_service("echo")

    @app.get("/work")
    async def work():
        return {"ok": True}

    return app


def test_the_clock_jumps_over_waits_and_stands_still_when_nobody_awaits_it():
    async def beat(log):
        while True:
            await asyncio.sleep(30)
            log.append(asyncio.get_running_loop().time())

    async def scenario():
        log = []
        asyncio.get_running_loop().create_task(beat(log))
        await asyncio.sleep(300)
        try:
            async with asyncio.timeout(5):
                await asyncio.sleep(10)
        except TimeoutError:
            log.append(("timeout at", asyncio.get_running_loop().time()))
        return log

    log = simtime.run(scenario())
    assert log == [30.0 * k for k in range(1, 11)] + [("timeout at", 305.0)]

    async def cell():  # a notebook cell: the kernel's loop stays on real time
        before = await simtime.on_sim(_now())
        await asyncio.sleep(0)  # the cell does other things; nobody drives the simulation
        return before, await simtime.on_sim(_now()), asyncio.get_running_loop().time() < 1e6

    first, second, real = asyncio.run(cell())
    assert second == first and real


async def _now():
    return asyncio.get_running_loop().time()


def _shop(seed=3, name="sim"):
    net = Network(seed=seed, time="simulated", name=name)
    net.add("echo", echo_app, instances=2)
    net.fault("echo-2", latency=Exponential("20ms"))
    return net


async def _run_shop(seed=3):
    net = _shop(seed)
    async with net:
        run = await open_loop(net, "GET http://echo.svc/work", rate=200, duration="5s", progress=False)
        await net.crash("echo-1", restart_after="30s")
        await net.run_for("31s")
        states = net.status()["state"].tolist()
    return run.df, net.calls, states


FINGERPRINT = """
import asyncio, hashlib, sys
sys.path.insert(0, {here!r})
from test_simtime import _run_shop
df, calls, states = asyncio.run(_run_shop())
print(hashlib.sha256((df.to_csv() + calls.to_csv() + repr(states)).encode()).hexdigest())
"""


def test_the_same_seed_gives_the_same_numbers_to_the_last_digit_in_every_fresh_process():
    import subprocess
    import sys
    from pathlib import Path

    code = FINGERPRINT.format(here=str(Path(__file__).parent))
    prints = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
              for _ in range(2)}
    assert len(prints) == 1


def test_a_shop_under_load_gets_the_simulated_answers_in_little_wall_time():
    wall = time.perf_counter()
    df, calls, states = asyncio.run(_run_shop())
    elapsed = time.perf_counter() - wall
    assert len(df) == 1000 and df["ok"].all() and (df["schedule_lag"] == 0).all()
    assert df["due"].iloc[-1] == pytest.approx(4.995)
    slow = calls[calls["instance"] == "echo-2"]["duration"]
    fast = calls[calls["instance"] == "echo-1"]["duration"]
    # the injected latency plus the default 1 ms of service on simulated time, with no queue
    assert 0.016 < slow.mean() < 0.026 and fast.max() == pytest.approx(0.001)
    assert (calls["service"] == 0.001).all() and (calls["queued"] == 0).all()
    assert states == ["running", "running"]  # restarted 30 simulated seconds after the crash
    assert elapsed < 60  # 36 simulated seconds; a loose bound only against running on real time


def test_a_closed_loop_against_a_service_that_takes_no_time_stops_with_a_clear_error():
    from labsvc.core.load import closed_loop

    async def scenario():
        net = Network(time="simulated", service_time=None, name="instant")
        net.add("echo", echo_app)
        async with net:
            await closed_loop(net, "GET http://echo.svc/work", duration="1s", progress=False)

    with pytest.raises(ConfigurationError, match="took no simulated time"):
        simtime.run(scenario())


def test_a_simulated_network_refuses_process_mode_and_an_unknown_time():
    with pytest.raises(ConfigurationError, match="process mode runs real processes"):
        Network(mode="process", time="simulated")
    with pytest.raises(ConfigurationError, match="time='sideways' is not known"):
        Network(time="sideways")


def test_a_simulated_network_cannot_be_started_on_a_real_loop_by_hand():
    net = Network(time="simulated", name="sim-direct")

    async def scenario():
        await Network.start.__wrapped__(net)  # bypassing the bridge: the network says what to do

    with pytest.raises(NetworkStateError, match="simulated time only"):
        asyncio.run(scenario())


def _queue(rate, mean_service, workers, requests, seed, name):
    async def scenario():
        net = Network(seed=seed, time="simulated", name=name)
        net.add("server", echo_app)
        net.capacity("server", Exponential(mean_service), workers=workers)
        async with net:
            run = await open_loop(net, "GET http://server.svc/work", rate=rate, requests=requests,
                                  arrivals="poisson", seed=seed, timeout=None, progress=False)
            slots = net.instance("server-1").slots
        return run, net.calls, slots

    return simtime.run(scenario())


def test_littles_law_holds_between_the_instance_and_the_call_log():
    run, calls, slots = _queue(rate=80, mean_service=0.01, workers=1, requests=12_000, seed=11, name="little")
    assert run.df["ok"].all()
    warm = calls[calls["start"] >= 10.0]  # after warm-up
    start, end = 10.0, warm["start"].max()
    arrivals = warm[warm["start"] <= end]
    lam = len(arrivals) / (end - start)
    w = arrivals["duration"].mean()
    big_l = time_average(slots.occupancy(), start, end)  # counted by the instance, not the log
    assert len(arrivals) >= 10_000
    assert abs(big_l - lam * w) / big_l <= 0.02


def test_each_wait_is_what_lindleys_recursion_gives_for_the_same_arrivals_and_service_times():
    _, calls, _ = _queue(rate=80, mean_service=0.01, workers=1, requests=3_000, seed=2, name="lindley")
    calls = calls.sort_values("start", kind="stable")
    arrive, service, queued = calls["start"].tolist(), calls["service"].tolist(), calls["queued"].tolist()
    wait = 0.0
    for n in range(1, len(arrive)):  # W(n) = max(0, W(n-1) + S(n-1) - (A(n) - A(n-1))), first come first served
        wait = max(0.0, wait + service[n - 1] - (arrive[n] - arrive[n - 1]))
        # the simulation's timers are on a nanosecond grid: each step may round by half a nanosecond
        assert queued[n] == pytest.approx(wait, abs=1e-6)
    assert max(queued) > 0.05  # the queue did build up


@pytest.mark.slow
def test_one_slot_at_utilisation_0_8_queues_as_m_m_1_says():
    lam, mu = 80.0, 100.0  # rho = 0.8
    run, calls, _ = _queue(rate=lam, mean_service=1 / mu, workers=1, requests=200_000, seed=5, name="mm1")
    warm = calls[calls["start"] >= 50.0]
    expected = (lam / mu) / (mu - lam)  # mean wait in queue, rho / (mu - lambda) = 0.04 s
    assert abs(warm["queued"].mean() - expected) / expected <= 0.05
    assert abs(warm["service"].mean() - 1 / mu) / (1 / mu) <= 0.02


def test_a_caller_that_gives_up_while_queued_frees_its_place():
    async def scenario():
        net = Network(seed=1, time="simulated", name="giveup")
        net.add("server", echo_app)
        net.capacity("server", "1s", workers=1)
        async with net:
            client = net.client("web", timeout=0.5)
            results = await asyncio.gather(*(client.get("http://server.svc/work") for _ in range(3)),
                                           return_exceptions=True)
            slots = net.instance("server-1").slots
            late = await net.client("web", timeout=5).get("http://server.svc/work")
        return results, slots, late, net.calls

    results, slots, late, calls = simtime.run(scenario())
    assert all(type(r).__name__ == "ReadTimeout" for r in results)
    assert late.status_code == 200 and slots.in_system == 0
    assert calls["error"].tolist()[:3] == ["ReadTimeout"] * 3


def test_timers_due_at_one_instant_fire_in_the_order_set_whatever_the_clock_read_before():
    """The loop's clock runs on between experiments; a rerun from another start must interleave the same way."""

    async def scenario():
        order = []

        async def two_steps():  # due at start + 0.044 + 0.002: the same instant as one_step's, up to float rounding
            await asyncio.sleep(0.044)
            await asyncio.sleep(0.002)
            order.append("two steps")

        async def one_step():
            await asyncio.sleep(0.046)
            order.append("one step")

        await asyncio.gather(two_steps(), one_step())
        return order

    async def main():
        runs = []
        loop = asyncio.get_running_loop()
        for start in (0.0, 0.0182, 1.9578, 10.068):  # from 0.0182 on, start + 0.044 + 0.002 < start + 0.046 in floats
            await asyncio.sleep(start - loop.time())  # as earlier experiments would have moved the clock
            runs.append(await scenario())
        return runs

    runs = simtime.run(main())
    assert runs == [["one step", "two steps"]] * len(runs)  # one_step's timer was set first


@pytest.mark.slow
def test_an_experiment_rerun_later_on_the_same_clock_gives_the_same_call_log():
    from labsvc.data.lab import SCENARIOS, saga_experiment

    async def main():
        logs = []
        for _ in range(4):
            for scenario in SCENARIOS:  # as notebook 06 runs them, twice over (Run All, then again)
                run = await saga_experiment(scenario, orders=60, concurrency=10, seed=6, name="t-rerun")
                if scenario == "inventory down":
                    logs.append(run.calls)
        return logs

    first, *others = simtime.run(main())
    assert all(log.equals(first) for log in others)


def test_a_wait_for_a_deadline_less_than_a_nanosecond_away_ends():
    """Timers are on a nanosecond grid; a wait for a deadline off the grid still gets there (it never spins)."""

    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.3)
        deadline = loop.time() + 4e-10
        waits = 0
        while loop.time() < deadline and waits < 5:
            await asyncio.sleep(deadline - loop.time())
            waits += 1
        return waits, loop.time() >= deadline

    assert simtime.run(main()) == (1, True)


# ---------------------------------------------------------------- experiments start at 0
def test_rebase_takes_the_clock_and_every_timer_back_and_keeps_timestamps_counting_up():
    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(12.345)
        fired = []
        loop.call_later(0.5, lambda: fired.append(loop.time()))
        stamp = loop.time_ns()
        taken = loop.rebase()
        after = loop.time_ns()
        await asyncio.sleep(1)
        return taken, fired, stamp, after, loop.time()

    taken, fired, stamp, after, now = simtime.run(main())
    assert taken == 12.345 and fired == [0.5] and now == 1.0
    assert after > stamp  # spans and log lines never go back in time


def test_an_experiment_called_again_later_gives_the_same_numbers():
    # Lease expiries are float sums (t + lease): before experiments started at 0, the same run could
    # round another way at another clock reading, and a rerun in the same kernel differed.
    from labsvc.messaging.lab import delivery_experiment, delivery_summary

    async def shift(seconds):
        await asyncio.sleep(seconds)

    async def main():
        results = []
        for seconds in (0.0, 102.135 - 1.962, 37.77):
            await simtime.on_sim(shift(seconds))
            runs = {kind: await delivery_experiment(idempotent=kind == "idempotent", crash_before_ack=0.25, orders=30,
                                                    seed=7, name=f"rebase-{kind}")
                    for kind in ("naive", "idempotent")}
            results.append(delivery_summary(runs).to_dict("records"))
        return results

    first, *later = asyncio.run(main())
    assert all(result == first for result in later)


def test_an_experiment_shares_the_clock_while_a_network_of_the_cell_runs():
    from labsvc.messaging.lab import delivery_experiment

    async def main():
        net = Network(seed=1, name="rebase-busy")
        net.add("svc", create_service("svc"))
        await net.start()
        try:
            await net.run_for("5s")
            before = simtime.runner().now()
            await delivery_experiment(orders=3, settle="0.5s", name="rebase-while-busy")
            return before, simtime.runner().now()
        finally:
            await net.stop()

    before, after = asyncio.run(main())
    assert after > before >= 5.0  # not taken back: the cell's network still lives on this clock
