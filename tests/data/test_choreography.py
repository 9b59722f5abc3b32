"""The order saga both ways: the choreography on the broker keeps its invariants under each fault, compensates on its
own, and gives the same results for the same seed; the comparison measures what differs.

Everything runs on simulated time (one experiment = both styles, a few seconds of real time).
"""

from __future__ import annotations

import functools

import pandas as pd
import pytest
from matplotlib.figure import Figure

from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError
from labsvc.data.lab import (
    SAGA_TOPIC, STYLE_SCENARIOS, ChoreoShop, SagaShop, StyleFaults, order_body, saga_styles_experiment, service_tables,
)
from labsvc.data.plots import plot_saga_styles

ORDERS = 24


@functools.cache
def run(scenario: str, seed: int = 3):
    return simtime.run(saga_styles_experiment(scenario, orders=ORDERS, seed=seed, name=f"test-styles-{scenario}"))


def choreo(scenario: str):
    return run(scenario).runs["choreographed"]


@pytest.mark.parametrize("scenario", list(STYLE_SCENARIOS))
def test_every_invariant_holds_in_both_styles_under_each_fault(scenario):
    result = run(scenario)
    bad = result.invariants[~result.invariants.all(axis=1)]
    assert bad.empty, f"{scenario}: broken invariants\n{bad}"
    for style, r in result.runs.items():
        assert len(r.orders) == ORDERS
        assert r.orders["status"].isin(["APPROVED", "CANCELLED"]).all(), f"{style} left orders unfinished"
        assert r.summary()["stuck"] == 0


def test_a_declined_card_makes_inventory_release_and_orders_cancel_on_their_own():
    r = choreo("declines and shortage")
    declined = r.orders.loc[r.orders["reason"] == "payment_declined", "id"].tolist()
    assert declined, "the seeded declines hit no order"
    reservations = r.reservations.set_index("order_id")
    for oid in declined:
        assert reservations.loc[oid, "status"] == "RELEASED"
        steps = r.flow_of(oid)
        emitted = steps[steps["source"].str.endswith(".outbox")]["what"].tolist()
        assert emitted == ["OrderCreated", "StockReserved", "PaymentFailed", "StockReleased", "OrderCancelled"] or \
            emitted == ["OrderCreated", "StockReserved", "PaymentFailed", "OrderCancelled", "StockReleased"]
        # inventory acted on payment's event, not on an instruction from orders
        acted = steps[(steps["source"] == "inventory.inbox") & steps["acted"].astype(bool)]["what"].tolist()
        assert "PaymentFailed" in acted
    stock = r.stock.set_index("product_id")
    held = r.reservations[r.reservations["status"] == "RESERVED"].groupby("product_id")["quantity"].sum()
    assert (stock["initial"] - stock["available"]).eq(held.reindex(stock.index, fill_value=0)).all()


def test_a_shortage_is_never_charged_and_payment_voids_it_in_advance():
    r = choreo("declines and shortage")
    short = r.orders.loc[r.orders["reason"] == "out_of_stock", "id"].tolist()
    assert short
    charges = r.charges.set_index("order_id")
    # payment never saw StockReserved; on OrderCancelled it leaves a tombstone so a late one would be refused
    assert (charges.loc[short, "status"] == "VOIDED").all()


def test_lost_acks_bring_duplicates_that_the_inbox_skips():
    r = choreo("lost messages")
    assert r.summary()["redeliveries"] > 0
    inbox = r.flow[r.flow["source"].str.endswith(".inbox")]
    assert not inbox.duplicated(["source", "what", "order_id"]).any()  # each event applied once per service
    assert (r.orders["status"] == "APPROVED").all()
    assert (r.charges["status"] == "CAPTURED").sum() == ORDERS


def test_payment_down_delays_the_choreography_but_cancels_orchestrated_orders():
    result = run("payment down")
    orch, cho = result.runs["orchestrated"], result.runs["choreographed"]
    assert (orch.orders["reason"] == "payment_unavailable").sum() > 0
    assert (cho.orders["status"] == "APPROVED").all()  # the events waited at the broker
    assert cho.unfinished_at_load_end > orch.unfinished_at_load_end
    assert cho.orders["seconds_to_final"].max() > run("no faults").runs["choreographed"].orders["seconds_to_final"].max()


def test_both_styles_get_the_same_orders_and_the_same_declined_cards():
    assert order_body(3, 7) == SagaShop(seed=3).order_body(7)
    result = run("declines and shortage")
    orch, cho = (result.runs[s].orders.set_index("id") for s in ("orchestrated", "choreographed"))
    pd.testing.assert_frame_equal(orch[["product_id", "quantity"]], cho[["product_id", "quantity"]])
    assert set(orch.index[orch["reason"] == "payment_declined"]) == set(cho.index[cho["reason"] == "payment_declined"])


def test_coupling_and_where_the_flow_is_read():
    happy = run("no faults").coupling.set_index(["style", "service"])["reacts_to_events_of"]
    # with nothing failing, each service only reacts to the step before it: a ring
    assert happy.loc["choreographed"].to_dict() == {"orders": "payment", "inventory": "orders", "payment": "inventory"}
    result = run("all at once")
    c = result.coupling.set_index(["style", "service"])
    assert c.loc[("orchestrated", "orders"), "calls"] == "inventory, payment"
    assert c.loc[("orchestrated", "inventory"), "knows_about"] == 0
    for svc in ("orders", "inventory", "payment"):
        assert c.loc[("choreographed", svc), "calls"] == "broker"
        assert c.loc[("choreographed", svc), "knows_about"] == 2
    s = run("no faults").summary.set_index("style")
    assert s.loc["orchestrated", "services_read_for_one_order"] == 1
    assert s.loc["choreographed", "services_read_for_one_order"] == 3
    assert s.loc["orchestrated", "events_published"] == 0
    assert s.loc["choreographed", "events_published"] == 4 * ORDERS  # created, reserved, charged, approved


def test_the_same_seed_gives_identical_results():
    first = run("all at once")
    again = simtime.run(saga_styles_experiment("all at once", orders=ORDERS, seed=3, name="test-styles-again"))
    pd.testing.assert_frame_equal(first.summary, again.summary)
    for style in first.runs:
        pd.testing.assert_frame_equal(first.runs[style].orders, again.runs[style].orders)
        pd.testing.assert_frame_equal(first.runs[style].flow, again.runs[style].flow)


def test_each_service_owns_only_its_own_small_tables():
    tables = choreo("no faults").tables
    owned = tables.groupby("service")["table"].apply(set).to_dict()
    assert owned["orders"] == {"orders", "outbox", "inbox"}
    assert owned["inventory"] == {"stock", "reservations", "outbox", "inbox"}
    assert owned["payment"] == {"charges", "outbox", "inbox"}
    assert "broker" not in owned  # the broker keeps no database
    assert service_tables.__doc__


def test_faults_and_scenarios_are_checked():
    with pytest.raises(ConfigurationError, match="payment_down"):
        StyleFaults(payment_down=(0.5, 0.2))
    with pytest.raises(ConfigurationError, match="lost_rate"):
        StyleFaults(lost_rate=2)
    with pytest.raises(ConfigurationError, match="not a scenario"):
        simtime.run(saga_styles_experiment("meteor strike", orders=2))
    with pytest.raises(ConfigurationError, match="orders"):
        simtime.run(saga_styles_experiment("no faults", orders=0))


def test_plot_saga_styles():
    summary = pd.concat([run(s).summary for s in ("no faults", "payment down")], ignore_index=True)
    fig = plot_saga_styles(summary)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2


def test_an_event_published_twice_is_applied_once():
    async def scenario():
        shop = ChoreoShop(StyleFaults(stock=5), seed=1, name="test-choreo-duplicate")
        async with shop:
            r = await shop.net.client("frontend").post("http://orders.svc/orders", json=order_body(1, 0))
            assert r.status_code == 201 and r.json()["status"] == "PENDING"  # the saga goes on without the caller
            await shop.settle()
            first = await shop.snapshot()
            created = first["events"].query("type == 'OrderCreated'").iloc[0].to_dict()
            payload = {k: created[k] for k in ("event_id", "type", "producer", "order_id", "product_id", "quantity")}
            # a publisher that retried after a lost answer: the same event, a second message
            shop.broker.publish_nowait(SAGA_TOPIC, payload, key="order-1")
            await shop.settle()
            second = await shop.snapshot()
            return first, second, shop.broker.stats()

    first, second, stats = simtime.run(scenario())
    assert first["orders"]["status"].tolist() == ["APPROVED"]
    pd.testing.assert_frame_equal(first["stock"], second["stock"])  # not reserved twice
    pd.testing.assert_frame_equal(first["reservations"], second["reservations"])
    assert len(second["events"]) == len(first["events"])  # nothing new emitted
    inbox = second["inbox"].query("type == 'OrderCreated'")
    assert sorted(inbox["service"]) == ["inventory", "orders", "payment"]  # one row per service, not two
    assert (stats["acked"] == stats["published"]).all()  # the duplicate was consumed and acknowledged everywhere
