"""The place-order saga keeps its invariants under faults, and each compensation undoes its step.

The orchestrator's backoff runs on a FakeClock (retries never sleep); the
network's injected faults and the payment provider's declines and late
answers are seeded. The only real waiting is the orchestrator's per-call
timeout firing on a late payment (tens of milliseconds).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from labsvc.core.clock import FakeClock
from labsvc.data import (
    FINAL_STATES,
    SAGA_STEPS,
    SagaFaults,
    SagaShop,
    check_invariants,
    saga_experiment,
)
from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime

SEEDS = (0, 1, 2, 3)
# Every kind of fault at once: shortages (40 units of each product for ~400
# units asked), network errors and declines at the payment provider, charges
# answered after the caller's timeout, and the inventory down for 15 % of the run.
FAULTS = SagaFaults(stock=40, payment_error_rate=0.2, decline_rate=0.1, slow_rate=0.1, inventory_down=(0.3, 0.45))


def run_saga(faults, *, seed=0, name="test-saga", **kw):
    kw.setdefault("clock", FakeClock())
    kw.setdefault("timeout", "20ms")
    kw.setdefault("slow_delay", 0.1)
    return simtime.run(saga_experiment(faults, seed=seed, name=name, **kw))


@pytest.fixture(scope="module")
def runs():
    return {seed: run_saga(FAULTS, seed=seed, orders=200, concurrency=20, name=f"test-saga-{seed}") for seed in SEEDS}


@pytest.mark.parametrize("seed", SEEDS)
def test_under_random_faults_the_invariants_hold_for_every_seed(runs, seed):
    result = runs[seed]
    failed = result.invariants[~result.invariants["holds"]]
    assert failed.empty, failed.to_dict("records")
    orders = result.orders
    assert len(orders) == 200 and orders["status"].isin(FINAL_STATES).all()  # no order lost
    # Check the invariants again by hand, from each service's own data.
    stock = result.stock.set_index("product_id")
    held = result.reservations.query("status == 'RESERVED'").groupby("product_id")["quantity"].sum()
    assert (stock["available"] >= 0).all()
    assert (stock["available"] + held.reindex(stock.index, fill_value=0) == stock["initial"]).all()
    captured = set(result.charges.query("status == 'CAPTURED'")["order_id"])
    reserved = set(result.reservations.query("status == 'RESERVED'")["order_id"])
    approved = set(orders.query("status == 'APPROVED'")["id"])
    assert captured == reserved == approved  # paid <=> reserved <=> approved
    cancelled = set(orders.query("status == 'CANCELLED'")["id"])
    assert not cancelled & (captured | reserved)  # every failed order compensated


@pytest.mark.parametrize("seed", SEEDS)
def test_every_kind_of_fault_actually_happened(runs, seed):
    result = runs[seed]
    outcomes = set(result.orders["outcome"])
    assert {"approved", "out_of_stock", "payment_declined", "inventory_unavailable"} <= outcomes
    assert result.unfinished_before_recovery > 0  # the inventory was down for some compensations ...
    assert result.recovered == result.unfinished_before_recovery  # ... and recovery finished them
    assert (result.run.df["status"] == 201).all()


def test_the_same_seed_gives_the_same_outcomes():
    faults = SagaFaults(stock=30, payment_error_rate=0.2, decline_rate=0.2)
    a = run_saga(faults, seed=9, orders=60, concurrency=1, name="test-saga-same-a")
    b = run_saga(faults, seed=9, orders=60, concurrency=1, name="test-saga-same-b")
    assert a.outcomes.to_dict("records") == b.outcomes.to_dict("records")


def test_the_broken_saga_without_compensations_breaks_the_invariants():
    result = run_saga(SagaFaults(stock=20, decline_rate=0.3), seed=1, orders=60, concurrency=10,
                      compensate=False, name="test-saga-broken")
    holds = dict(zip(result.invariants["invariant"], result.invariants["holds"]))
    assert not holds["every failed order compensated"]
    assert result.invariants.set_index("invariant").loc[
        "every failed order compensated", "violations"] > 0


async def one_order(faults=None, *, name, before=None, **kw):
    """Place one order (product 1, quantity 2) and return the shop's data."""
    kw.setdefault("clock", FakeClock())
    kw.setdefault("timeout", "20ms")
    kw.setdefault("slow_delay", 0.1)
    shop = SagaShop(faults or SagaFaults(), seed=0, name=name, **kw)
    async with shop:
        if before is not None:
            await before(shop)
        r = await shop.net.client("frontend", timeout=30).post(
            "http://orders.svc/orders", json={"customer_id": 1, "product_id": 1, "quantity": 2})
        data = await shop.snapshot()
    return r, data


def steps(log):
    return [(r["step"], r["outcome"]) for r in log.to_dict("records")]


def test_out_of_stock_cancels_the_order_with_nothing_else_to_undo():
    r, data = simtime.run(one_order(SagaFaults(stock=1), name="test-saga-stock"))
    assert r.status_code == 201 and r.json()["status"] == "CANCELLED" and r.json()["reason"] == "out_of_stock"
    assert steps(data["log"]) == [("create_order", "ok"), ("reserve_stock", "rejected"), ("cancel_order", "ok")]
    assert data["stock"].set_index("product_id").loc[1, "available"] == 1


def test_a_declined_payment_releases_the_stock():
    r, data = simtime.run(one_order(SagaFaults(decline_rate=1.0), name="test-saga-declined"))
    assert r.json()["status"] == "CANCELLED" and r.json()["reason"] == "payment_declined"
    assert steps(data["log"]) == [("create_order", "ok"), ("reserve_stock", "ok"), ("charge_payment", "rejected"),
                                  ("release_stock", "ok"), ("cancel_order", "ok")]
    stock = data["stock"].set_index("product_id").loc[1]
    assert stock["available"] == stock["initial"]
    assert data["charges"]["status"].tolist() == ["DECLINED"]


def test_a_late_charge_is_found_by_retrying_with_the_same_idempotency_key():
    r, data = simtime.run(one_order(SagaFaults(slow_rate=1.0), name="test-saga-late"))
    assert r.json()["status"] == "APPROVED"
    charge = data["log"].query("step == 'charge_payment'").iloc[0]
    assert charge["outcome"] == "ok" and charge["attempts"] == 2  # the first attempt timed out
    assert data["charges"][["status", "amount"]].to_dict("records") == [{"status": "CAPTURED", "amount": 24.0}]


def test_a_charge_that_cannot_be_confirmed_is_refunded_and_the_stock_released():
    r, data = simtime.run(one_order(SagaFaults(slow_rate=1.0), name="test-saga-refund", attempts=1))
    assert r.json()["status"] == "CANCELLED" and r.json()["reason"] == "payment_unavailable"
    assert steps(data["log"])[-3:] == [("refund_payment", "ok"), ("release_stock", "ok"), ("cancel_order", "ok")]
    assert data["charges"]["status"].tolist() == ["REFUNDED"]  # it had been captured: now refunded
    assert check_invariants(data["orders"], data["stock"], data["reservations"], data["charges"])["holds"].all()


def test_compensations_wait_for_a_down_service_and_recovery_finishes_them():
    async def scenario():
        shop = SagaShop(seed=0, name="test-saga-recover", clock=FakeClock(), timeout="20ms")
        async with shop:
            shop.net.fault("inventory", down=True)
            r = await shop.place(0)
            still = await shop.recover(max_rounds=2)  # inventory still down: nothing finishes
            stuck = await shop.orders()
            shop.net.clear_faults()
            finished = await shop.recover()
            return r, still, stuck, finished, await shop.snapshot()

    r, still, stuck, finished, data = simtime.run(scenario())
    assert r.json()["status"] == "COMPENSATING" and r.json()["to_compensate"] == ["release_stock"]
    assert still == 0 and stuck["status"].tolist() == ["COMPENSATING"]
    assert finished == 1
    order = data["orders"].iloc[0]
    assert order["status"] == "CANCELLED" and order["reason"] == "inventory_unavailable"
    release = data["log"].query("step == 'release_stock'")
    assert release["outcome"].tolist() == ["unknown", "unknown", "unknown", "ok"]
    # The release came before any reservation: a tombstone refuses a late one.
    assert data["reservations"][["order_id", "status"]].to_dict("records") == [{"order_id": 1, "status": "RELEASED"}]


def test_a_saga_cut_short_is_compensated_by_recovery():
    async def scenario():
        shop = SagaShop(seed=0, name="test-saga-cut", clock=FakeClock(), timeout="1s")
        async with shop:
            shop.net.fault("payment", hang=True)
            # The caller gives up while the saga waits on the payment: the handler is cancelled mid-saga.
            with pytest.raises(httpx.ReadTimeout):
                await shop.net.client("frontend", timeout=0.05).post(
                    "http://orders.svc/orders", json={"customer_id": 1, "product_id": 1, "quantity": 2})
            cut = await shop.orders()
            shop.net.clear_faults()
            finished = await shop.recover()
            return cut, finished, await shop.snapshot()

    cut, finished, data = simtime.run(scenario())
    assert cut["status"].tolist() == ["PENDING"]
    assert finished == 1
    order = data["orders"].iloc[0]
    assert order["status"] == "CANCELLED" and order["reason"] == "interrupted"
    assert data["reservations"]["status"].tolist() == ["RELEASED"]
    assert data["charges"]["status"].tolist() == ["VOIDED"]  # refunded before it was ever charged
    assert check_invariants(data["orders"], data["stock"], data["reservations"], data["charges"])["holds"].all()


def test_late_actions_after_their_compensation_are_refused():
    async def scenario():
        async with SagaShop(seed=0, name="test-saga-tombstones") as shop:
            client = shop.net.client("test")
            await client.delete("http://inventory.svc/reservations/5")
            late_reserve = await client.post("http://inventory.svc/reservations",
                                             json={"order_id": 5, "product_id": 1, "quantity": 1})
            await client.post("http://payment.svc/refunds", json={"order_id": 9})
            late_charge = await client.post("http://payment.svc/charges", json={"order_id": 9, "amount": 5})
            again = await client.delete("http://inventory.svc/reservations/5")
            return late_reserve, late_charge, again, await shop.snapshot()

    late_reserve, late_charge, again, data = simtime.run(scenario())
    assert late_reserve.status_code == 409
    assert late_reserve.json()["type"] == "urn:labsvc:problem:reservation-released"
    assert late_charge.status_code == 409 and late_charge.json()["type"] == "urn:labsvc:problem:charge-voided"
    assert again.status_code == 200  # compensations are idempotent
    stock = data["stock"].set_index("product_id")
    assert (stock["available"] == stock["initial"]).all()


def test_invalid_requests_and_unknown_resources_are_problems():
    async def scenario():
        async with SagaShop(seed=0, name="test-saga-problems") as shop:
            client = shop.net.client("test")
            return [
                await client.post("http://orders.svc/orders", json={"customer_id": 1, "product_id": 0, "quantity": 1}),
                await client.post("http://orders.svc/orders", json={"customer_id": 1, "product_id": 1}),
                await client.get("http://orders.svc/orders/42"),
                await client.post("http://orders.svc/orders", json={"customer_id": 1, "product_id": 99, "quantity": 1}),
            ]

    bad_product, no_quantity, unknown, unknown_product = simtime.run(scenario())
    assert bad_product.status_code == 422 and [e["field"] for e in bad_product.json()["errors"]] == ["body.product_id"]
    assert no_quantity.status_code == 422 and [e["field"] for e in no_quantity.json()["errors"]] == ["body.quantity"]
    assert unknown.status_code == 404 and unknown.json()["type"] == "urn:labsvc:problem:not-found"
    for r in (bad_product, no_quantity, unknown):
        assert r.headers["content-type"] == PROBLEM_JSON
    # A product the inventory does not know: the participant says no, the order is cancelled.
    assert unknown_product.json()["status"] == "CANCELLED" and unknown_product.json()["reason"] == "unknown_product"


def test_the_steps_table_pairs_each_step_with_its_compensation():
    pairs = dict(zip(SAGA_STEPS["step"], SAGA_STEPS["compensation"]))
    assert pairs == {"create_order": "cancel_order", "reserve_stock": "release_stock",
                     "charge_payment": "refund_payment", "approve_order": None}


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ConfigurationError, match="inventory_down="):
        SagaFaults(inventory_down=(0.5, 0.2))
    with pytest.raises(ConfigurationError, match="not a scenario"):
        simtime.run(saga_experiment("meteor strike"))
    from labsvc.data import inventory_app, order_saga_app, payment_app

    with pytest.raises(ConfigurationError, match="stock="):
        inventory_app(-1)
    with pytest.raises(ConfigurationError, match="decline_rate="):
        payment_app(decline_rate=2)
    with pytest.raises(ConfigurationError, match="at least 1"):
        order_saga_app(attempts=0)


def test_with_an_events_topic_every_final_state_reaches_the_read_model_exactly_once():
    from labsvc import Network
    from labsvc.data import inventory_app, order_history_app, order_saga_app, payment_app
    from labsvc.messaging import Broker, broker_app

    async def main():
        net = Network(seed=2, name="test-saga-events")
        net.add("orders", lambda: order_saga_app(events_topic="orders"))
        net.add("inventory", lambda: inventory_app({1: 5}))
        net.add("payment", payment_app)
        broker = Broker()
        broker.declare("orders", "order-history")
        net.add("broker", broker_app(broker))
        net.add("history", order_history_app)
        async with net:
            c = net.client("web")
            placed = [await c.post("http://orders.svc/orders", json={"customer_id": 7, "product_id": 1,
                                                                    "quantity": q}) for q in (2, 9, 3)]
            before = (await c.get("http://orders.svc/outbox")).json()
            net.fault("broker", down=True)
            failed_relay = await c.post("http://orders.svc/outbox/relay")
            net.clear_faults("broker")
            relayed = (await c.post("http://orders.svc/outbox/relay")).json()
            again = (await c.post("http://orders.svc/outbox/relay")).json()
            polled = (await c.post("http://history.svc/projection/poll", json={})).json()
            views = (await c.get("http://history.svc/order-views", params={"customer_id": 7})).json()
        return placed, before, failed_relay, relayed, again, polled, views

    placed, before, failed_relay, relayed, again, polled, views = simtime.run(main())
    assert [r.json()["status"] for r in placed] == ["APPROVED", "CANCELLED", "APPROVED"]  # 9 > 5 in stock
    assert before == {"pending": 3, "published": 0}
    assert failed_relay.status_code == 503 and failed_relay.headers["content-type"] == PROBLEM_JSON
    assert relayed == {"published": 3, "pending": 0} and again == {"published": 0, "pending": 0}
    assert polled["applied"] == 3
    assert [(v["order_id"], v["status"]) for v in views] == [(1, "APPROVED"), (2, "CANCELLED"), (3, "APPROVED")]
    assert views[0]["total"] == 24.0  # 2 x 12.0
