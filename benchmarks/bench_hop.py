"""What one in-process hop costs, against httpx's ASGITransport and a bare ASGI call.

Every variant calls the same FastAPI endpoint (``GET /products/1`` of the
shop's catalog service). Variants are measured in interleaved rounds and the
median round is kept, so a noisy neighbour hurts all of them alike. The
figures printed are ratios measured in this one run; the targets are:

- labsvc in-process hop / httpx ASGITransport through httpx.AsyncClient <= 0.6;
- labsvc in-process hop / calling the ASGI app directly <= 1.8 (what the
  client, the faults check, the timeout, the call log and the log
  attribution add, with tracing and metrics off, as they are by default).

A process-mode hop (real uvicorn process, real TCP on 127.0.0.1) is measured
too, to show what the in-process network leaves out.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_hop.py``.
"""

from __future__ import annotations

import asyncio
import statistics

import httpx

from labsvc import Network
from labsvc.shop.services import catalog_app

from _timing import per_call  # benchmarks/_timing.py (scripts run from this folder)

CALLS = 2000
ROUNDS = 5
PROCESS_CALLS = 300


async def direct_asgi(app):
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/products/1", "raw_path": b"/products/1", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"catalog.svc")], "server": ("catalog.svc", 80), "client": ("bench", 0),
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    async def call():
        await app(dict(scope), receive, send)

    return call



async def main() -> None:
    app = catalog_app()
    net = Network(seed=0, name="bench-hop", time="real")  # the real-time hop: what it costs on this machine
    net.add("catalog", catalog_app)
    async with net:
        ours = net.client("bench")
        asgi = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://catalog.svc")
        bare = await direct_asgi(app)
        variants = {
            "labsvc in-process hop": lambda: ours.get("http://catalog-1.svc/products/1"),
            "httpx ASGITransport (AsyncClient)": lambda: asgi.get("/products/1"),
            "direct ASGI call": bare,
        }
        rounds: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(ROUNDS):
            for name, fn in variants.items():
                rounds[name].append(await per_call(fn, CALLS))
        await asgi.aclose()
    med = {k: statistics.median(v) for k, v in rounds.items()}

    proc = Network(seed=0, mode="process", name="bench-hop-process")
    proc.add("catalog", "labsvc.shop.services:catalog_app")
    async with proc:
        c = proc.client("bench")
        med["labsvc process-mode hop (uvicorn, TCP)"] = await per_call(lambda: c.get("http://catalog-1.svc/products/1"), PROCESS_CALLS)

    print("per-call time, median of", ROUNDS, "rounds of", CALLS, "calls:")
    for name, seconds in med.items():
        print(f"  {name:<40} {seconds * 1e6:8.1f} us")
    r1 = med["labsvc in-process hop"] / med["httpx ASGITransport (AsyncClient)"]
    r2 = med["labsvc in-process hop"] / med["direct ASGI call"]
    r3 = med["labsvc process-mode hop (uvicorn, TCP)"] / med["labsvc in-process hop"]
    print(f"ratio: in-process hop / httpx ASGITransport = {r1:.2f} (target <= 0.60) {'OK' if r1 <= 0.6 else 'MISSED'}")
    print(f"ratio: in-process hop / direct ASGI call = {r2:.2f} (target <= 1.25) {'OK' if r2 <= 1.25 else 'MISSED'}"
          " (what the network's client, faults, timeout and call log add)")
    print(f"ratio: process-mode hop / in-process hop = {r3:.1f} (what real processes and TCP add)")


if __name__ == "__main__":
    asyncio.run(main())
