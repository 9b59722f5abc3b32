"""Simulated time: how many requests one core simulates per wall-clock second, and M/M/1 at length.

Prints figures measured in this one run (no thresholds in tests: the
machine is shared). Target: at least 8,000 simulated requests per
wall-clock second through one hop (the hop itself costs about 100 us).
"""

from __future__ import annotations

import time

from labsvc.core import simtime
from labsvc.core.faults import Exponential
from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.core.service import create_service

REQUESTS = 20_000


def app():
    service = create_service("server")

    @service.get("/work")
    async def work():
        return {"ok": True}

    return service


async def one_hop(requests: int, capacity: bool):
    net = Network(seed=1, time="simulated", name=f"bench-sim-{capacity}")
    net.add("server", app)
    if capacity:
        net.capacity("server", Exponential("10ms"), workers=1)
    async with net:
        run = await open_loop(net, "GET http://server.svc/work", rate=80, requests=requests,
                              arrivals="poisson", seed=5, timeout=None, progress=False)
    return run, net.calls


def main() -> None:
    for capacity in (False, True):
        wall = time.perf_counter()
        cpu = time.process_time()
        run, calls = simtime.run(one_hop(REQUESTS, capacity))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        simulated = float(run.df["due"].max())
        rate = REQUESTS / wall
        label = "with an M/M/1 capacity model" if capacity else "no capacity model"
        print(f"{label}: {REQUESTS} requests, {simulated:.0f} simulated s in {wall:.2f} s wall ({cpu:.2f} s CPU): "
              f"{rate:,.0f} simulated requests per wall second (target >= 8,000) {'OK' if rate >= 8000 else 'MISSED'}")
        if capacity:
            warm = calls[calls["start"] >= 50.0]
            expected = 0.8 / (100 - 80)
            print(f"  M/M/1 at rho 0.8: mean queueing delay {warm['queued'].mean() * 1000:.1f} ms, "
                  f"theory rho/(mu-lambda) = {expected * 1000:.1f} ms "
                  f"({(warm['queued'].mean() / expected - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
