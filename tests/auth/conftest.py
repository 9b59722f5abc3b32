"""A secured topology on a fake clock: the token service, the inventory (resource server), orders."""

from __future__ import annotations

import asyncio

import pytest

from labsvc import FakeClock, Network
from labsvc.auth import DEMO_SECRETS, TokenClient, demo_token_service, inventory_app, orders_app
from labsvc.core import simtime

T0 = 1_700_000_000


class Secured:
    """The running network, its clock, the token service's app and token helpers."""

    def __init__(self, net, clock, auth_app, inventory_apps):
        self.net, self.clock, self.auth_app, self.inventory_apps = net, clock, auth_app, inventory_apps
        self.client = net.client("tester")

    async def token(self, client_id="reporting", scope=None, resource="inventory") -> str:
        tc = TokenClient(client_id, DEMO_SECRETS[client_id], scope=scope, resource=resource, clock=self.clock)
        return await tc.token(self.client)

    def bearer(self, token: str) -> dict:
        return {"authorization": f"Bearer {token}"}


def build(clock, **inventory_kw):
    net = Network(seed=8, name="auth-tests")
    apps = {"auth": None, "inventory": []}

    def auth():
        apps["auth"] = demo_token_service(clock=clock, ttl=300)
        return apps["auth"]

    def inventory():
        app = inventory_app(clock=clock, **inventory_kw)
        apps["inventory"].append(app)
        return app

    net.add("auth", auth)
    net.add("inventory", inventory)
    net.add("orders", lambda: orders_app(clock=clock))
    return net, apps


@pytest.fixture
def run_secured():
    """Run ``scenario(secured)`` on a fresh secured network; returns what it returns."""

    def run(scenario, **inventory_kw):
        async def main():
            clock = FakeClock(start=T0)
            net, apps = build(clock, **inventory_kw)
            async with net:
                return await scenario(Secured(net, clock, apps["auth"], apps["inventory"]))

        return simtime.run(main())

    return run
