"""Exploration rate: runs per wall-clock second over the place-order saga (orchestrator, inventory, payment
and the client: real services with their own SQLite databases), and the time to the shortest double charge.

Prints figures measured in this one run. Targets (the exploration issue): >= 100 runs per second for a
4-service saga on one core; the shortest counterexample of a double charge in under 10 s.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from labsvc.core import simtime
from labsvc.data.lab import SagaShop, check_invariants
from labsvc.explore import Budget, Workflow, explore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "explore"))


def saga_workflow() -> Workflow:
    holder = {}

    def build():
        holder["shop"] = shop = SagaShop(seed=4, name="bench-explore")
        return shop.net

    async def drive(net):
        shop = holder["shop"]
        await asyncio.gather(shop.place(1), shop.place(2), return_exceptions=True)  # a crash fails a call

    async def invariants_hold(net):
        snap = await holder["shop"].snapshot()
        table = check_invariants(snap["orders"], snap["stock"], snap["reservations"], snap["charges"])
        return bool(table["holds"].all())

    async def state(net):
        snap = await holder["shop"].snapshot()
        return tuple(tuple(map(tuple, snap[k].astype(str).values)) for k in ("orders", "stock", "reservations", "charges"))

    return Workflow(build, drive, {"saga invariants": invariants_hold}, state=state, settle="2s", name="saga")


def main() -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    result = simtime.run(explore(saga_workflow(), budget=Budget(crash_after=1), max_runs=200))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rate = result.runs / wall
    print(f"saga (orders, inventory, payment + client), crash budget 1: {result.runs} runs in {wall:.2f} s wall "
          f"({cpu:.2f} s CPU): {rate:.1f} runs per wall second (target >= 100) {'OK' if rate >= 100 else 'MISSED'}")
    print(f"  {result.summary()}")
    from test_explorer import checkout  # the seeded double charge of the explorer's tests

    wall = time.perf_counter()
    found = simtime.run(explore(checkout(durable=False), budget=Budget(lose_reply=1, crash_after=1)))
    wall = time.perf_counter() - wall
    print(f"double charge (in-memory dedupe): shortest counterexample {found.counterexample.script} found in "
          f"{wall:.2f} s after {found.runs} runs (target < 10 s) {'OK' if wall < 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
