"""Small services for the shared network test suite (importable by child processes)."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

import httpx
from pydantic import BaseModel

from labsvc.core.logs import get_logger
from labsvc.core.problems import Problem
from labsvc.core.service import Request, create_service, http, instance_name


def _log_lifespan(event: str) -> None:
    path = os.environ.get("NETAPPS_LIFESPAN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{event}\n")


class Reservation(BaseModel):
    sku: str
    quantity: int


def inventory():
    """Stock per SKU; counts requests per instance (state lives in the instance)."""

    @asynccontextmanager
    async def lifespan(app):
        _log_lifespan("startup")
        yield {"started": True}
        _log_lifespan("shutdown")

    app = create_service("inventory", lifespan=lifespan)
    app.state.hits = 0

    @app.get("/stock/{sku}")
    async def stock(sku: str, request: Request):
        app.state.hits += 1
        get_logger("inventory").info("stock looked up", extra={"sku": sku})
        if sku == "missing":
            raise Problem(404, "Unknown SKU", detail=f"no stock record for SKU {sku!r}")
        return {"sku": sku, "available": 3, "instance": instance_name(request), "hits": app.state.hits,
                "lifespan": bool(request.state.started)}

    @app.post("/reservations", status_code=201)
    async def reserve(reservation: Reservation):
        return {"sku": reservation.sku, "reserved": reservation.quantity}

    return app


def orders():
    """Calls inventory for every order; turns network errors into a 502 problem."""
    app = create_service("orders")

    @app.get("/orders/{order_id}")
    async def order(order_id: int, request: Request):
        get_logger("orders").warning("order %d requested", order_id, extra={"order_id": order_id})
        try:
            r = await http(request, timeout=1.0).get(f"http://inventory.svc/stock/sku-{order_id}")
        except httpx.HTTPError as exc:
            raise Problem(502, "Inventory unreachable", detail=f"{type(exc).__name__}: {exc}")
        return {"id": order_id, "stock": r.json(), "trace": request.headers.get("traceparent", "")}

    return app


def heartbeat_sender():
    """Calls inventory from a background task started in its lifespan (no request involved)."""
    import asyncio

    from labsvc.core.errors import InstanceDownError
    from labsvc.core.service import app_client

    @asynccontextmanager
    async def lifespan(app):
        done = asyncio.Event()

        async def call_inventory():
            # The network starts instances side by side, so inventory may not be up yet when this
            # runs: retry a refused connection for a while, as a real service does at start-up.
            for attempt in range(600):
                try:
                    return await app_client(app, timeout=60).get("http://inventory.svc/stock/beat")
                except InstanceDownError:
                    if attempt == 599:
                        raise
                    await asyncio.sleep(0.05)

        async def beat():
            try:
                r = await call_inventory()
                app.state.beat = r.json()["sku"]
                get_logger("sender").info("beat sent")
            except Exception as exc:  # reported by /beat, so a failing test says why
                app.state.beat = f"failed: {exc!r}"
            finally:
                done.set()

        app.state.beat_done = done
        task = asyncio.create_task(beat())
        yield
        await task

    app = create_service("sender", lifespan=lifespan)
    app.state.beat = None

    @app.get("/beat")
    async def last_beat():
        """Answers once the background call has finished (an event, not a poll)."""
        await asyncio.wait_for(app.state.beat_done.wait(), timeout=60)
        return {"beat": app.state.beat}

    return app
