"""The broker and the registry also work as real processes, reached over HTTP."""

from __future__ import annotations

import asyncio

import pytest

from labsvc import Network
from labsvc.discovery import HttpRegistryClient
from labsvc.messaging import HttpBrokerClient
from labsvc.core import simtime

MODES = ["inprocess", pytest.param("process", marks=pytest.mark.slow)]


@pytest.mark.parametrize("mode", MODES)
def test_broker_service_delivers_redelivers_and_dead_letters_over_http(mode):
    async def scenario():
        net = Network(seed=2, mode=mode, name=f"broker-{mode}")
        net.add("broker", "labsvc.messaging:broker_service")
        async with net:
            broker = HttpBrokerClient(net.client("orders"), "http://broker.svc")
            await broker.declare("orders", "billing")
            for i in range(5):
                await broker.publish("orders", {"order": i}, key=f"k{i}")
            first = await broker.pull("orders", "billing", consumer="w1", max=5, lease=30)
            requeued = await broker.leave("orders", "billing", "w1")  # the worker crashed
            again = await broker.pull("orders", "billing", consumer="w2", max=5, lease=30)
            for d in again[:4]:
                await d.ack()
            await again[4].nack(requeue=False)  # a poison message
            dead = await broker.dead_letters("orders", "billing")
            calls = net.calls
        return first, requeued, again, dead, calls

    first, requeued, again, dead, calls = simtime.run(scenario())
    assert len(first) == 5 and requeued == 5
    assert [d.message.payload["order"] for d in again] == [0, 1, 2, 3, 4]
    assert all(d.redelivered for d in again)
    assert len(dead) == 1 and dead[0]["message"]["payload"] == {"order": 4}
    assert set(calls["callee"]) == {"broker"} and (calls["status"] < 400).all()


@pytest.mark.parametrize("mode", MODES)
def test_registry_service_registers_and_looks_up_over_http(mode):
    async def scenario():
        net = Network(seed=2, mode=mode, name=f"registry-{mode}")
        net.add("registry", "labsvc.discovery:registry_service")
        async with net:
            registry = HttpRegistryClient(net.client("catalog"), "http://registry.svc")
            await registry.register("catalog", "catalog-1", "http://catalog-1.svc")
            await registry.register("catalog", "catalog-2", "http://catalog-2.svc")
            await registry.heartbeat("catalog", "catalog-1")
            await registry.cancel("catalog", "catalog-2")
            found = await registry.lookup("catalog")
            health = await net.client().get("http://registry.svc/health")
        return found, health

    found, health = simtime.run(scenario())
    assert [i.instance for i in found] == ["catalog-1"]
    assert health.status_code == 200
