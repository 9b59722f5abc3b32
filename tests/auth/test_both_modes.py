"""The token service and a resource server as real processes too: 200, 403 and 401 over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from labsvc import Network
from labsvc.auth import DEMO_SECRETS, TokenClient
from labsvc.auth.jwt_tokens import unsigned_token
from labsvc.core import simtime

MODES = ["inprocess", pytest.param("process", marks=pytest.mark.slow)]


@pytest.mark.parametrize("mode", MODES)
def test_scopes_and_forged_tokens_are_enforced_in_both_modes(mode):
    async def scenario():
        net = Network(seed=3, mode=mode, name=f"auth-{mode}")
        net.add("auth", "labsvc.auth:demo_token_service")
        net.add("inventory", "labsvc.auth:inventory_app", instances=2)
        net.add("orders", "labsvc.auth:orders_app")
        async with net:
            c = net.client("tester")
            reporting = await TokenClient("reporting", DEMO_SECRETS["reporting"], resource="inventory").headers(c)
            reads = [await c.get("http://inventory.svc/stock/sku-1", headers=reporting) for _ in range(2)]
            write = await c.post("http://inventory.svc/stock/sku-1/reserve", headers=reporting)
            forged = await c.get("http://inventory.svc/stock/sku-1", headers={
                "authorization": "Bearer " + unsigned_token({"sub": "mallory", "aud": "inventory"})})
            order = await c.post("http://orders.svc/orders/sku-1")
            return reads, write, forged, order

    reads, write, forged, order = simtime.run(scenario())
    assert [r.status_code for r in reads] == [200, 200]
    assert {r.headers["x-labsvc-instance"] for r in reads} == {"inventory-1", "inventory-2"}
    assert write.status_code == 403 and write.json()["reason"] == "insufficient_scope"
    assert forged.status_code == 401 and forged.json()["reason"] == "alg_not_allowed"
    assert forged.headers["content-type"] == "application/problem+json"
    assert order.status_code == 201 and order.json()["reserved"] is True
