"""The order system works end to end before anything breaks, and its switches say what is wrong."""

import asyncio

import pandas as pd
import pytest

import labsvc
from labsvc.capstone import RESILIENCE_OFF, RESILIENCE_ON, OrderSystem, Resilience, catalog_release, journey_of
from labsvc.capstone._system import user_was_served
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime


def run(coro):
    return simtime.run(coro)


def test_every_journey_works_and_the_events_reach_history_and_delivery():
    async def main():
        async with OrderSystem(RESILIENCE_ON, name="cap-test-e2e") as system:
            users = system.net.client("users")
            browse = await users.get("http://gateway.svc/catalog/products/3")
            orders = [await users.post("http://gateway.svc/orders/orders",
                                       json={"customer_id": 4, "product_id": p, "quantity": 1}) for p in (1, 2)]
            await system.settle()
            history = await users.get("http://gateway.svc/history/order-views", params={"customer_id": 4})
            deliveries = await users.get("http://delivery.svc/deliveries")
            return browse, orders, history, deliveries, system.net.calls

    browse, orders, history, deliveries, calls = run(main())
    assert browse.status_code == 200 and browse.json()["name"] == "ceramic mug"
    assert [o.json()["status"] for o in orders] == ["APPROVED", "APPROVED"]
    assert [(v["order_id"], v["status"], v["total"]) for v in history.json()] == [(1, "APPROVED", 12.0),
                                                                                  (2, "APPROVED", 25.0)]
    assert deliveries.json() == [{"order_id": 1, "status": "preparing"}, {"order_id": 2, "status": "preparing"}]
    edges = set(zip(calls["caller"], calls["callee"]))
    assert {("users", "gateway"), ("gateway", "catalog"), ("gateway", "orders"), ("orders", "inventory"),
            ("orders", "payment"), ("outbox-relay", "orders"), ("orders", "broker"), ("history", "broker"),
            ("delivery", "broker"), ("gateway", "history")} <= edges


def test_a_canary_deploys_one_instance_and_a_rolling_deploy_all_of_them():
    async def main():
        async with OrderSystem(RESILIENCE_OFF, name="cap-test-deploy") as system:
            before = system.running_release()
            canary = await system.deploy("2.0", strategy="canary")
            during = system.running_release()
            bad = await system.net.client("web").get("http://catalog-2.svc/products/1")
            health = await system.net.client("web").get("http://catalog-2.svc/health")
            again = await system.deploy("2.0", strategy="canary")  # the next step: an instance not on 2.0 yet
            await system.deploy("1.1")
            return before, canary, during, bad, health, again, system.running_release()

    before, canary, during, bad, health, again, after = run(main())
    assert before == {"catalog-1": "1.0", "catalog-2": "1.0"}
    assert canary == ["catalog-2"] and during == {"catalog-1": "1.0", "catalog-2": "2.0"}
    assert bad.status_code == 500 and bad.headers["content-type"] == PROBLEM_JSON and "2.0" in bad.json()["detail"]
    assert health.status_code == 200  # a bad release that still says it is healthy
    assert again == ["catalog-1"]
    assert after == {"catalog-1": "1.1", "catalog-2": "1.1"}


def test_a_canary_gets_its_weighted_share_of_the_catalog_traffic_not_half():
    async def main():
        async with OrderSystem(RESILIENCE_OFF, seed=3, name="cap-test-canary-share") as system:
            await system.deploy("2.0", strategy="canary", share=0.1)
            users = system.net.client("users")
            statuses = [(await users.get(f"http://gateway.svc/catalog/products/{1 + i % 10}")).status_code
                        for i in range(400)]
            drawn = dict(system.balancer.drawn)
            await system.deploy("1.0")   # the rollback: the canary alone is replaced, the split ends
            after = [(await users.get("http://gateway.svc/catalog/products/1")).status_code for _ in range(10)]
            return statuses, drawn, system.balancer.canary, after

    statuses, drawn, canary, after = run(main())
    bad = statuses.count(500)
    assert bad == drawn["canary"] and drawn["canary"] + drawn["stable"] == 400
    assert 0.05 < bad / 400 < 0.15      # about 10 %, where round robin over two instances gives 50 %
    assert canary is None and after == [200] * 10
    with pytest.raises(labsvc.ConfigurationError, match="share=1.5"):
        OrderSystem(name="cap-test-share").balancer.set_canary("2.0", 1.5)


def test_bad_settings_and_unknown_releases_say_what_to_do():
    with pytest.raises(labsvc.ConfigurationError, match="retries=0 must be a whole number"):
        Resilience(retries=0)
    with pytest.raises(ValueError, match="saga_backoff"):
        Resilience(saga_backoff="soon")
    with pytest.raises(labsvc.ConfigurationError, match="must be a labsvc.capstone.Resilience"):
        OrderSystem({"retries": 3})
    with pytest.raises(ValueError, match="unknown catalog release '3.0'"):
        catalog_release("3.0")

    async def main():
        async with OrderSystem(name="cap-test-bad-deploy") as system:
            with pytest.raises(labsvc.ConfigurationError, match="releases: \\['1.0', '1.1', '2.0'\\]"):
                await system.deploy("9.9")
            with pytest.raises(labsvc.ConfigurationError, match="'rolling' or 'canary'"):
                await system.deploy("1.1", strategy="big bang")

    run(main())


def test_the_gateway_gives_the_saga_all_the_time_its_retries_can_take():
    system = OrderSystem(RESILIENCE_ON.but(saga_attempts=3, saga_backoff=0.1, saga_timeout=0.2), name="cap-budget")
    # two steps x (3 tries x 0.2 s + pauses 0.1 + 0.2) + 0.5 s of slack
    assert system.saga_budget() == pytest.approx(2 * (3 * 0.2 + 0.3) + 0.5)
    orders_route = [r for r in system.gateway.routes if r.prefix == "/orders"][0]
    assert orders_route.timeout == pytest.approx(system.saga_budget())
    off = OrderSystem(RESILIENCE_OFF, name="cap-budget-off")
    assert all(r.retry is None and r.breaker is None for r in off.gateway.routes)


class _Answer:
    def __init__(self, status, body=None):
        self.status_code, self._body = status, body

    def json(self):
        return self._body


def test_a_user_is_served_by_a_decision_not_by_an_outage():
    checkout = next(i for i in range(10) if journey_of(i) == "checkout")
    browse = next(i for i in range(10) if journey_of(i) == "browse")
    assert pd.Series([journey_of(i) for i in range(1000)]).value_counts(normalize=True).to_dict() == {
        "browse": 0.7, "checkout": 0.2, "history": 0.1}
    assert user_was_served(checkout, _Answer(201, {"status": "APPROVED"}))
    assert user_was_served(checkout, _Answer(201, {"status": "CANCELLED", "reason": "payment_declined"}))
    assert not user_was_served(checkout, _Answer(201, {"status": "CANCELLED", "reason": "payment_unavailable"}))
    assert not user_was_served(browse, _Answer(502))
    assert user_was_served(browse, _Answer(200, {"id": 1}))


def test_observed_a_checkout_is_one_trace_through_gateway_saga_and_outbox():
    from labsvc.observability import span_tree

    async def main():
        async with OrderSystem(RESILIENCE_ON, name="cap-test-traced", observe=True) as system:
            users = system.net.client("users")
            order = await users.post("http://gateway.svc/orders/orders",
                                     json={"customer_id": 2, "product_id": 1, "quantity": 1})
            metrics = await system.net.client("web").get("http://orders.svc/metrics")
            return order, system.net.calls, system.net.spans, metrics

    order, calls, spans, metrics = run(main())
    assert order.json()["status"] == "APPROVED"
    trace = calls[(calls["caller"] == "users")]["trace_id"].iloc[0]
    assert span_tree(spans, trace) == [
        ("users client POST", "gateway server POST"), ("gateway server POST", "gateway client POST"),
        ("gateway client POST", "orders server POST /orders"), ("orders server POST /orders", "orders client POST"),
        ("orders client POST", "inventory server POST /reservations"),
        ("orders server POST /orders", "orders client POST"), ("orders client POST", "payment server POST /charges")]
    assert "http_server_requests_total" in metrics.text
