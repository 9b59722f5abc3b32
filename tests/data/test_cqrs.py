"""CQRS: the read model is projected from events, applies each once, and converges to the command side.

The services stamp events with a FakeClock, so lag values are exact; the
relay and the projector are driven round by round (``drain``), never by
sleeping. Only the outbox-versus-direct test runs the background pumps, and
it waits for convergence with a bounded deadline loop.
"""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from labsvc.core.clock import FakeClock
from labsvc.data import CqrsShop, PumpError, lag_summary, outbox_experiment
from labsvc.core.errors import ConfigurationError
from labsvc.messaging import HttpBrokerClient
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime


def size(view):
    return "large" if view["total"] >= 100 else "small"


async def place_many(shop, n, *, start=0, ship_share=0.3, cancel_share=0.2):
    client = shop.net.client("frontend")
    answers = await asyncio.gather(*(shop.place(i, ship_share=ship_share, cancel_share=cancel_share, client=client)
                                     for i in range(start, start + n)))
    assert all(r.status_code in (200, 201) for r in answers)


def test_the_read_model_converges_to_the_command_side_equal_counts_and_sums():
    async def scenario():
        async with CqrsShop(seed=5, name="test-cqrs-converge", clock=FakeClock()) as shop:
            await place_many(shop, 80)
            before = await shop.stats()
            rounds = await shop.drain()
            after = await shop.stats()
            orders, views = await shop.orders(), await shop.views()
            return before, rounds, after, orders, views

    before, rounds, after, orders, views = simtime.run(scenario())
    assert before.set_index("side").loc["query", "orders"] == 0  # nothing projected until the pumps run
    assert rounds["relay_rounds"] >= 1 and rounds["projector_rounds"] >= 1
    command, query = (after.set_index("side").loc[s] for s in ("command", "query"))
    assert command.equals(query)
    assert command["orders"] == 80 and command["SHIPPED"] > 0 and command["CANCELLED"] > 0
    merged = orders.merge(views, left_on="id", right_on="order_id", suffixes=("", "_view"))
    assert len(merged) == 80
    assert (merged["status"] == merged["status_view"]).all()
    assert (merged["total"] == merged["total_view"]).all()
    assert (merged["version"] == merged["version_view"]).all()


def test_lag_is_the_time_an_event_became_visible_minus_the_time_it_was_committed():
    async def scenario():
        clock = FakeClock()
        async with CqrsShop(seed=1, name="test-cqrs-lag", clock=clock) as shop:
            await place_many(shop, 10, ship_share=0.0, cancel_share=0.0)
            clock.advance(0.25)
            await shop.drain()
            return await shop.lag()

    lag = simtime.run(scenario())
    assert len(lag) == 10 and set(lag["type"]) == {"OrderPlaced"}
    assert lag["lag_ms"].round(6).eq(250.0).all()
    summary = lag_summary(lag)
    assert summary["events"] == 10 and summary["p50_ms"] == pytest.approx(250.0) == summary["p99_ms"]


def test_lost_acks_bring_events_back_and_the_idempotent_consumer_applies_each_once():
    async def scenario():
        broker_clock = FakeClock()
        shop = CqrsShop(seed=7, name="test-cqrs-redeliver", clock=FakeClock(), broker_clock=broker_clock, batch=5)
        async with shop:
            await place_many(shop, 40)
            await shop.relay.drain(wait=0.0)
            shop.net.fault("broker", error_rate=0.3)  # pulls and acks fail: effects done, acks lost
            failures = 0
            for _ in range(60):
                try:
                    await shop.projector.once(wait=0.0)
                except PumpError:
                    failures += 1
                broker_clock.advance(shop.lease + 0.01)  # unacked deliveries come back
            shop.net.clear_faults()
            broker_clock.advance(shop.lease + 0.01)
            await shop.drain()
            consumer = shop.net.instance("order-history-1").app.state.consumer
            stats = await shop.stats()
            lag = await shop.lag()
            broker = shop.broker.stats()
            return failures, consumer, stats, lag, broker

    failures, consumer, stats, lag, broker = simtime.run(scenario())
    assert failures > 0
    assert int(broker["redelivered"].sum()) > 0
    assert consumer.duplicates > 0  # at least once delivered ...
    assert lag["event_id"].is_unique  # ... exactly once applied
    assert len(lag) == int(broker["published"].sum())
    command, query = (stats.set_index("side").loc[s] for s in ("command", "query"))
    assert command.equals(query)


def test_an_event_published_twice_is_applied_once():
    async def scenario():
        async with CqrsShop(seed=2, name="test-cqrs-duplicate", clock=FakeClock()) as shop:
            await place_many(shop, 5, ship_share=0.0, cancel_share=0.0)
            await shop.drain()
            events = (await shop.net.client("test").get("http://orders.svc/events")).json()["events"]
            broker = HttpBrokerClient(shop.net.client("outbox-relay"), "http://broker.svc")
            # A relay that crashed after publishing and before marking the row publishes it again.
            await broker.publish("orders", events[0], key="order-1", message_id=events[0]["event_id"])
            # And a different publisher id for the same event: the inbox table catches it.
            await broker.publish("orders", events[1], key="order-2", message_id="another-id")
            answer = await shop.projector.once(wait=0.0)
            return answer, await shop.stats(), await shop.lag()

    answer, stats, lag = simtime.run(scenario())
    assert answer["pulled"] == 2 and answer["duplicates"] == 1
    assert len(lag) == 5
    assert stats.set_index("side").loc["query", "orders"] == 5


def test_a_new_field_is_added_by_redeploying_the_read_model_and_rebuilding_it_from_the_event_feed():
    async def scenario():
        async with CqrsShop(seed=3, name="test-cqrs-rebuild", clock=FakeClock()) as shop:
            await place_many(shop, 30)
            await shop.drain()
            await place_many(shop, 10, start=30)
            await shop.relay.drain(wait=0.0)  # these events wait in the broker during the redeploy
            report = await shop.redeploy_read_model(fields={"size": size})
            await shop.drain()
            return report, await shop.orders(), await shop.views(), await shop.stats(), await shop.lag()

    report, orders, views, stats, lag = simtime.run(scenario())
    assert report["replayed"] == len(lag)
    assert len(views) == len(orders) == 40
    expected = {int(o["id"]): size(o) for o in orders.to_dict("records")}
    assert dict(zip(views["order_id"].astype(int), views["size"])) == expected
    command, query = (stats.set_index("side").loc[s] for s in ("command", "query"))
    assert command.equals(query)


def test_the_outbox_loses_nothing_when_the_broker_is_down_and_direct_publishing_does():
    result = simtime.run(outbox_experiment(orders=40, rate=400, outage=(0.25, 0.5), seed=1, name="test-cqrs-outage"))
    t = result.table.set_index("publish")
    assert t.loc["outbox", "accepted"] == 40 and t.loc["outbox", "missing"] == 0 and t.loc["outbox", "converged"]
    assert t.loc["direct", "failed"] == 10  # requests 10..19 met the outage
    assert t.loc["direct", "command_orders"] == 40  # ... yet their orders were saved
    assert t.loc["direct", "missing"] == 10 and not t.loc["direct", "converged"]
    assert result.convergence["outbox"].converged
    failed = result.runs["direct"].df[~result.runs["direct"].df["ok"]]
    assert set(failed["status"]) == {503}


def test_background_pumps_keep_the_read_model_up_to_date_and_stop_with_the_network():
    async def scenario():
        shop = CqrsShop(seed=4, name="test-cqrs-pumps")
        async with shop:
            shop.start_pumps()
            await shop.load(rate=200, requests=30)
            report = await shop.converge(deadline="5s")
            with pytest.raises(ConfigurationError, match="stop the pumps"):
                await shop.drain()
        return report, shop

    report, shop = simtime.run(scenario())
    assert report.converged and report.stats["orders"].tolist() == [30, 30]
    assert not shop.relay.running and not shop.projector.running


def test_errors_are_problem_documents():
    async def scenario():
        async with CqrsShop(seed=1, name="test-cqrs-errors", clock=FakeClock()) as shop:
            client = shop.net.client("test")
            placed = (await client.post("http://orders.svc/orders",
                                        json={"customer_id": 1, "customer_name": "Ada", "total": 10})).json()
            return [
                await client.post("http://orders.svc/orders", json={"customer_id": 1, "total": 10}),
                await client.post("http://orders.svc/orders/99/ship"),
                await client.post(f"http://orders.svc/orders/{placed['id']}/cancel"),
                await client.post(f"http://orders.svc/orders/{placed['id']}/ship"),
                await client.get("http://order-history.svc/order-views/99"),
            ]

    missing_name, unknown, cancelled, ship_cancelled, no_view = simtime.run(scenario())
    assert missing_name.status_code == 422
    assert [e["field"] for e in missing_name.json()["errors"]] == ["body.customer_name"]
    assert unknown.status_code == 404 and unknown.json()["type"] == "urn:labsvc:problem:not-found"
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert ship_cancelled.status_code == 409
    assert ship_cancelled.json()["type"] == "urn:labsvc:problem:invalid-transition"
    assert no_view.status_code == 404
    for r in (missing_name, unknown, ship_cancelled, no_view):
        assert r.headers["content-type"] == PROBLEM_JSON


def test_direct_publishing_has_no_event_feed_to_rebuild_from():
    async def scenario():
        async with CqrsShop(publish="direct", seed=1, name="test-cqrs-direct", clock=FakeClock()) as shop:
            feed = await shop.net.client("test").get("http://orders.svc/events")
            with pytest.raises(ConfigurationError, match="outbox"):
                await shop.redeploy_read_model({"size": size})
            return feed

    feed = simtime.run(scenario())
    assert feed.status_code == 404 and feed.json()["type"] == "urn:labsvc:problem:no-event-feed"


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ConfigurationError, match="publish="):
        CqrsShop(publish="carrier-pigeon")
    with pytest.raises(ConfigurationError, match="already a column"):
        CqrsShop(fields={"total": size})
    with pytest.raises(ConfigurationError, match="identifier"):
        CqrsShop(fields={"big order": size})
    with pytest.raises(ConfigurationError, match="function"):
        CqrsShop(fields={"size": "large"})
    with pytest.raises(ConfigurationError, match="outage="):
        simtime.run(outbox_experiment(outage=(0.6, 0.3)))
    empty = lag_summary(pd.DataFrame({"lag_ms": []}))
    assert empty["events"] == 0 and empty.isna().sum() == 4


def test_a_restarted_shop_converges_again_although_its_order_ids_start_over():
    async def scenario():
        shop = CqrsShop(seed=8, name="test-cqrs-restart", clock=FakeClock())
        async with shop:
            await place_many(shop, 5, ship_share=0.0, cancel_share=0.0)
            await shop.drain()
        async with shop:  # in-memory databases: both sides start empty, order ids from 1 again
            await place_many(shop, 3, ship_share=0.0, cancel_share=0.0)
            await shop.drain()
            return await shop.stats(), await shop.views()

    stats, views = simtime.run(scenario())
    assert stats["orders"].tolist() == [3, 3]
    assert views["order_id"].tolist() == [1, 2, 3]
