"""Two services merged into one deployable unit: one set of instances answers to both names, and shares one fate."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI, Request

from labsvc import Network
from labsvc.core import simtime
from labsvc.core.colocate import colocated, service_of_host
from labsvc.core.errors import ConfigurationError, DuplicateInstanceError, InstanceDownError, UnknownServiceError


def run(coro):
    return simtime.run(coro)


def _service(name: str, events: list) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app):
        events.append(f"{name} up")

        async def beat():
            while True:
                await asyncio.sleep(1)
                events.append(f"{name} beat")

        task = asyncio.create_task(beat())
        yield {"owner": name}
        task.cancel()
        events.append(f"{name} down")

    app = FastAPI(lifespan=lifespan)

    @app.get("/whoami")
    async def whoami(request: Request):
        return {"service": name, "state": request.state.owner}

    return app


def _merged(events: list) -> Network:
    net = Network(seed=1, name="test-colocate")
    net.add("orders", lambda: colocated({"orders": _service("orders", events),
                                         "inventory": _service("inventory", events)}), aliases=["inventory"])
    net.add("front", _service("front", events))
    return net


def test_each_name_reaches_its_own_service_with_its_own_lifespan_state():
    events: list = []

    async def main():
        net = _merged(events)
        async with net:
            client = net.client("front")
            answers = {url: (await client.get(url)).json() for url in
                       ("http://orders.svc/whoami", "http://inventory.svc/whoami",
                        "http://inventory-1.svc/whoami", "http://orders-1.svc/whoami")}
            calls = net.calls
        return net, answers, calls

    net, answers, calls = run(main())
    assert answers["http://orders.svc/whoami"] == {"service": "orders", "state": "orders"}
    assert answers["http://inventory.svc/whoami"] == {"service": "inventory", "state": "inventory"}
    assert answers["http://inventory-1.svc/whoami"]["service"] == "inventory"
    assert answers["http://orders-1.svc/whoami"]["service"] == "orders"
    assert set(calls["instance"]) == {"orders-1"}  # one unit served all four
    unit = [e for e in events if not e.startswith("front")]
    assert unit[:2] == ["orders up", "inventory up"] and unit[-2:] == ["inventory down", "orders down"]
    assert net.service("inventory") is net.service("orders")
    assert [i.name for i in net.targets("inventory")] == ["orders-1"]


def test_a_crash_of_the_unit_takes_both_services_down_and_a_restart_brings_both_back():
    events: list = []

    async def main():
        net = _merged(events)
        async with net:
            client = net.client("front")
            await net.run_for("2.5s")
            await net.crash("inventory-1")  # the alias names the unit's instance
            down = []
            for url in ("http://orders.svc/whoami", "http://inventory.svc/whoami"):
                try:
                    await client.get(url)
                except InstanceDownError as exc:
                    down.append(str(exc))
            crashed = [e for e in events if "beat" not in e and not e.startswith("front")]
            await net.start_instance("orders-1")
            up = [(await client.get(url)).status_code for url in ("http://orders.svc/whoami",
                                                                "http://inventory.svc/whoami")]
            restarted = [e for e in events if "beat" not in e and not e.startswith("front")]
        return crashed, restarted, down, up

    crashed, restarted, down, up = run(main())
    assert crashed == ["orders up", "inventory up"]  # a crash runs no shutdown code, in either service
    assert restarted[2:4] == ["orders up", "inventory up"]  # both start again with the unit
    assert len(down) == 2 and all("'orders-1' was stopped" in why for why in down)
    assert up == [200, 200]


def test_scaling_the_unit_gives_each_new_instance_both_names():
    async def main():
        net = _merged([])
        async with net:
            await net.add_instance("inventory")
            names = sorted(i.name for i in net.targets("inventory"))
            r = await net.client("front").get("http://inventory-2.svc/whoami")
            await net.remove_instance("orders-2")
            left = [i.name for i in net.targets("orders")]
        return names, r.json(), left, net

    names, body, left, net = run(main())
    assert names == ["orders-1", "orders-2"] and body["service"] == "inventory" and left == ["orders-1"]
    with pytest.raises(UnknownServiceError):
        net.targets("inventory-2")


def test_names_that_clash_or_repeat_are_refused_with_a_reason():
    net = Network(seed=1, name="test-colocate-names")
    net.add("inventory", _service("inventory", []))
    with pytest.raises(DuplicateInstanceError, match="'inventory' is already on this network"):
        net.add("orders", _service("orders", []), aliases=["inventory"])
    with pytest.raises(ConfigurationError, match="each name once"):
        net.add("orders", _service("orders", []), aliases=["history", "history"])
    with pytest.raises(ConfigurationError, match="not allowed"):
        net.add("orders", _service("orders", []), aliases=["History"])
    with pytest.raises(ConfigurationError, match="at least two"):
        colocated({"orders": _service("orders", [])})


def test_the_host_names_the_service():
    assert service_of_host("inventory-12.svc:80") == "inventory"
    assert service_of_host("order-history.svc") == "order-history"
    assert service_of_host("orders") == "orders"
