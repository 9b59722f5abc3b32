"""What observing costs: one checkout across the shop with tracing and RED metrics on, against off.

A checkout is six hops (web -> orders -> catalog, inventory, payment,
delivery). With ``net.observe()`` every hop adds a client and a server
OpenTelemetry span and a histogram observation. The two networks are
measured in interleaved rounds and the median round is kept, so a noisy
neighbour hurts both alike. Printed: seconds per checkout each way and
their ratio, measured in this run (no target: this says what the lesson
costs, so a notebook can size its load).

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_observability.py``.
"""

from __future__ import annotations

import asyncio
import statistics

from _timing import per_call

from labsvc.shop import build_shop

ROUNDS, CALLS = 5, 100


async def main() -> None:
    plain = build_shop("microservices", seed=1, name="bench-plain")
    observed = build_shop("microservices", seed=1, name="bench-observed")
    observed.observe()
    body = {"product_id": 2, "quantity": 1}
    async with plain, observed:
        clients = {"off": plain.client("users"), "on": observed.client("users")}
        rounds: dict[str, list[float]] = {"off": [], "on": []}
        for _ in range(ROUNDS):
            for key, client in clients.items():
                async def checkout(client=client):
                    await client.post("http://web.svc/orders", json=body)

                rounds[key].append(await per_call(checkout, CALLS, warmup=10))
            observed._observer.tracing.clear()  # keep memory flat between rounds
    off, on = statistics.median(rounds["off"]), statistics.median(rounds["on"])
    print(f"checkout, observability off: {off * 1e3:.2f} ms; on (12 spans, 6 histogram observations): "
          f"{on * 1e3:.2f} ms; on / off = {on / off:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
