"""The broker contract (:class:`~labsvc.messaging.BrokerBackend`), run against every backend.

Each test takes ``broker_rig`` (``conftest.py``) and runs twice: on the
in-memory broker and on the broker service over HTTP. The broker has a
lease of 10 s and dead-letters after 3 deliveries; time is a FakeClock.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import replace

import pytest

from labsvc.core.errors import ConfigurationError
from labsvc.messaging import Broker, BrokerBackend, UnknownDeliveryError, UnknownGroupError

T, G = "orders", "billing"
#: The columns of ``Broker.stats()``: every backend's stats have them, even before the first group.
STATS_COLUMNS = list(Broker().stats().columns)


def payloads(deliveries) -> list:
    return [d.payload for d in deliveries]


def stats_row(stats, group: str = G) -> dict:
    [row] = stats[(stats["topic"] == T) & (stats["group"] == group)].to_dict("records")
    return row


def test_the_backend_has_every_method_of_the_protocol_with_the_same_signature(broker_rig):
    methods = [name for name, value in vars(BrokerBackend).items() if inspect.iscoroutinefunction(value)]
    assert sorted(methods) == ["ack", "dead_letters", "declare", "leave", "nack", "publish", "pull", "stats"]

    async def scenario(bus, clock):
        assert isinstance(bus, BrokerBackend)
        for name in methods:
            assert inspect.iscoroutinefunction(getattr(bus, name)), name
            assert inspect.signature(getattr(type(bus), name)) == inspect.signature(getattr(BrokerBackend, name)), name

    broker_rig.run(scenario)


def test_publish_returns_the_message_as_the_broker_stored_it(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        first = await bus.publish(T, {"order": 1}, key="customer-1", headers={"trace": "t-1"})
        clock.advance(5)
        second = await bus.publish(T, [1, 2], key=7, message_id="order-2")
        return first, second

    first, second = broker_rig.run(scenario)
    assert (first.id, first.topic, first.key, first.payload, first.headers, first.published_at) == (
        "msg-1", T, "customer-1", {"order": 1}, {"trace": "t-1"}, 0.0)
    assert (second.id, second.key, second.payload, second.headers, second.published_at) == (
        "order-2", 7, [1, 2], {}, 5.0)


def test_a_group_only_gets_the_messages_published_after_it_was_declared(broker_rig):
    async def scenario(bus, clock):
        await bus.publish(T, {"n": 0})                 # no group yet: dropped (unrouted)
        await bus.declare(T, G)
        await bus.declare(T, G)                        # declaring again changes nothing
        await bus.publish(T, {"n": 1})
        got = await bus.pull(T, G, consumer="w1", max=10)
        return got, await bus.stats()

    got, stats = broker_rig.run(scenario)
    assert payloads(got) == [{"n": 1}]
    assert stats_row(stats)["published"] == 1


def test_every_group_gets_its_own_copy_and_inside_a_group_each_message_goes_to_one_consumer(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        await bus.declare(T, "shipping")
        for n in range(2):
            await bus.publish(T, {"n": n})
        w1 = await bus.pull(T, G, consumer="w1")
        w2 = await bus.pull(T, G, consumer="w2", max=10)
        w3 = await bus.pull(T, G, consumer="w3", max=10)
        shipping = await bus.pull(T, "shipping", consumer="s1", max=10)
        return w1, w2, w3, shipping

    w1, w2, w3, shipping = broker_rig.run(scenario)
    assert payloads(w1) == [{"n": 0}] and payloads(w2) == [{"n": 1}] and w3 == []
    assert payloads(shipping) == [{"n": 0}, {"n": 1}]
    assert {d.group for d in w1 + w2} == {G} and {d.consumer for d in w1 + w2} == {"w1", "w2"}


def test_pull_returns_at_most_max_deliveries_oldest_first_each_with_its_own_tag(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        for n in range(5):
            await bus.publish(T, {"n": n})
        return await bus.pull(T, G, consumer="w1", max=3), await bus.pull(T, G, consumer="w1", max=10)

    first, rest = broker_rig.run(scenario)
    assert payloads(first) == [{"n": 0}, {"n": 1}, {"n": 2}] and payloads(rest) == [{"n": 3}, {"n": 4}]
    assert len({d.tag for d in first + rest}) == 5
    assert all(d.delivery_count == 1 and not d.redelivered and d.lease_seconds == 10 for d in first + rest)


def test_an_acked_delivery_is_settled_for_good(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        await bus.publish(T, {"order": 1})
        [delivery] = await bus.pull(T, G, consumer="w1")
        await delivery.ack()
        clock.advance(100)                             # long past its lease: nothing comes back
        again = await bus.pull(T, G, consumer="w2", max=10)
        with pytest.raises(UnknownDeliveryError, match="not in flight"):
            await bus.ack(delivery.tag)
        return again, await bus.stats()

    again, stats = broker_rig.run(scenario)
    row = stats_row(stats)
    assert again == []
    assert (row["delivered"], row["acked"], row["expired"], row["ready"], row["in_flight"]) == (1, 1, 0, 0, 0)


def test_nack_with_requeue_redelivers_under_a_new_tag_with_a_higher_count(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        await bus.publish(T, {"order": 1})
        [first] = await bus.pull(T, G, consumer="w1")
        await first.nack()                             # requeue=True by default
        [second] = await bus.pull(T, G, consumer="w1")
        with pytest.raises(UnknownDeliveryError):
            await bus.ack(first.tag)                   # the old tag is gone
        await bus.ack(second.tag)
        return first, second, await bus.stats()

    first, second, stats = broker_rig.run(scenario)
    assert second.id == first.id and second.payload == {"order": 1}
    assert (first.delivery_count, first.redelivered) == (1, False)
    assert (second.delivery_count, second.redelivered) == (2, True) and second.tag != first.tag
    row = stats_row(stats)
    assert (row["nacked"], row["requeued"], row["redelivered"], row["acked"]) == (1, 1, 1, 1)


def test_a_requeued_message_goes_back_to_its_place_in_the_queue(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        for n in range(3):
            await bus.publish(T, {"n": n})
        [first] = await bus.pull(T, G, consumer="w1")
        await bus.nack(first.tag, requeue=True)
        return await bus.pull(T, G, consumer="w1", max=10)

    again = broker_rig.run(scenario)
    assert payloads(again) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [d.redelivered for d in again] == [True, False, False]


def test_nack_without_requeue_dead_letters_the_message_at_once(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        await bus.publish(T, {"order": 2}, key="customer-2")
        [delivery] = await bus.pull(T, G, consumer="w1")
        clock.advance(3)
        await delivery.nack(requeue=False)
        return await bus.pull(T, G, consumer="w1", max=10), await bus.dead_letters(T, G), await bus.stats()

    again, dead, stats = broker_rig.run(scenario)
    assert again == []
    [letter] = dead
    assert (letter["reason"], letter["delivery_count"], letter["group"], letter["dead_lettered_at"]) == (
        "rejected", 1, G, 3.0)
    assert letter["message"]["payload"] == {"order": 2} and letter["message"]["key"] == "customer-2"
    assert stats_row(stats)["dead_lettered"] == 1


@pytest.mark.parametrize("failure", ["nack", "lease"])
def test_a_message_delivered_max_deliveries_times_goes_to_the_dead_letters(broker_rig, failure):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        await bus.publish(T, {"order": 3})
        counts = []
        for _ in range(3):                             # max_deliveries=3
            [delivery] = await bus.pull(T, G, consumer="w1")
            counts.append(delivery.delivery_count)
            if failure == "nack":
                await delivery.nack(requeue=True)
            else:
                clock.advance(11)                      # the consumer went silent: its lease runs out
        return counts, await bus.pull(T, G, consumer="w1", max=10), await bus.dead_letters(T, G)

    counts, again, dead = broker_rig.run(scenario)
    assert counts == [1, 2, 3] and again == []
    assert [(d["reason"], d["delivery_count"], d["message"]["payload"]) for d in dead] == [
        ("delivery_limit", 3, {"order": 3})]


def test_an_expired_lease_hands_the_message_out_again(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        await bus.publish(T, {"order": 4})
        [first] = await bus.pull(T, G, consumer="w1")
        clock.advance(9)
        early = await bus.pull(T, G, consumer="w2", max=10)     # still leased to w1
        clock.advance(2)
        late = await bus.pull(T, G, consumer="w2", max=10)      # lease over: w2 gets it
        with pytest.raises(UnknownDeliveryError):
            await first.ack()                          # too late: w1's ack is refused
        await late[0].ack()
        return first, early, late, await bus.stats()

    first, early, late, stats = broker_rig.run(scenario)
    assert early == []
    [second] = late
    assert (second.id, second.consumer, second.delivery_count, second.redelivered) == (first.id, "w2", 2, True)
    row = stats_row(stats)
    assert (row["expired"], row["requeued"], row["acked"]) == (1, 1, 1)


def test_a_pull_can_ask_for_its_own_lease(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        await bus.publish(T, {"n": 0})
        await bus.publish(T, {"n": 1})
        [short] = await bus.pull(T, G, consumer="w1", lease=2.5)
        [default] = await bus.pull(T, G, consumer="w1")
        clock.advance(3)
        return short, default, await bus.pull(T, G, consumer="w2", max=10)

    short, default, again = broker_rig.run(scenario)
    assert (short.lease_seconds, default.lease_seconds) == (2.5, 10)
    assert payloads(again) == [{"n": 0}] and again[0].redelivered


def test_a_consumer_that_leaves_gives_its_deliveries_back_at_once(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        for n in range(3):
            await bus.publish(T, {"n": n})
        held = await bus.pull(T, G, consumer="w1", max=3)
        requeued = await bus.leave(T, G, "w1")
        twice = await bus.leave(T, G, "w1")
        again = await bus.pull(T, G, consumer="w2", max=10)
        with pytest.raises(UnknownDeliveryError):
            await held[0].ack()
        return requeued, twice, again

    requeued, twice, again = broker_rig.run(scenario)
    assert (requeued, twice) == (3, 0)
    assert payloads(again) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert all(d.redelivered and d.delivery_count == 2 and d.consumer == "w2" for d in again)


def test_messages_with_the_same_key_are_in_flight_one_at_a_time_in_publish_order(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        await bus.publish(T, {"n": 1}, key="customer-1")
        await bus.publish(T, {"n": 2}, key="customer-1")
        await bus.publish(T, {"n": 3}, key="customer-2")
        first = await bus.pull(T, G, consumer="w1", max=10)     # customer-1's second waits
        other = await bus.pull(T, G, consumer="w2", max=10)
        await first[0].nack()                          # back to the head of customer-1's line
        retried = await bus.pull(T, G, consumer="w2", max=10)
        await retried[0].ack()
        last = await bus.pull(T, G, consumer="w2", max=10)
        return first, other, retried, last

    first, other, retried, last = broker_rig.run(scenario)
    assert payloads(first) == [{"n": 1}, {"n": 3}] and other == []
    assert payloads(retried) == [{"n": 1}] and retried[0].redelivered
    assert payloads(last) == [{"n": 2}]


def test_each_delivery_carries_its_own_copy_of_the_payload(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        await bus.publish(T, {"items": ["kettle"]})
        [first] = await bus.pull(T, G, consumer="w1")
        first.payload["items"].append("teapot")        # a consumer that changes what it got, then fails
        await first.nack()
        [second] = await bus.pull(T, G, consumer="w1")
        return second

    assert broker_rig.run(scenario).payload == {"items": ["kettle"]}


def test_stats_report_every_group_with_its_counters_and_queue_depths(broker_rig):
    async def scenario(bus, clock):
        empty = await bus.stats()
        await bus.declare(T, G)
        for n in range(3):
            await bus.publish(T, {"n": n})
        a, b = await bus.pull(T, G, consumer="w1", max=2)
        await a.ack()
        return empty, await bus.stats()

    empty, stats = broker_rig.run(scenario)
    assert list(empty.columns) == STATS_COLUMNS and len(empty) == 0
    assert list(stats.columns) == STATS_COLUMNS
    row = stats_row(stats)
    assert {k: row[k] for k in ("published", "delivered", "acked", "ready", "in_flight", "dead_letters", "consumers")} == {
        "published": 3, "delivered": 2, "acked": 1, "ready": 1, "in_flight": 1, "dead_letters": 0, "consumers": 1}


def test_a_long_poll_is_answered_by_the_next_publish(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        empty = await bus.pull(T, G, consumer="w1", wait=0)     # nothing ready, no wait: at once
        pulling = asyncio.ensure_future(bus.pull(T, G, consumer="w1", wait=5, lease=7))
        await asyncio.sleep(0)
        await bus.publish(T, {"late": True})
        return empty, await asyncio.wait_for(pulling, timeout=5)

    empty, [late] = broker_rig.run(scenario)
    assert empty == []
    assert (late.payload, late.lease_seconds) == ({"late": True}, 7)


def test_every_backend_raises_the_same_errors(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        with pytest.raises(UnknownDeliveryError, match="not in flight"):
            await bus.ack(999)
        with pytest.raises(UnknownDeliveryError, match="not in flight"):
            await bus.nack(999, requeue=False)
        with pytest.raises(UnknownGroupError):
            await bus.dead_letters(T, "nope")
        with pytest.raises(UnknownGroupError):
            await bus.leave(T, "nope", "w1")
        with pytest.raises(ConfigurationError, match="max"):
            await bus.pull(T, G, max=0)
        with pytest.raises(ConfigurationError, match="lease"):
            await bus.pull(T, G, lease=0)
        with pytest.raises(ConfigurationError, match="topic"):
            await bus.publish("a topic with spaces", {"n": 1})
        return await bus.stats()

    stats = broker_rig.run(scenario)
    assert stats_row(stats)["delivered"] == 0          # the refused calls changed nothing


def test_settings_change_the_lease_and_the_delivery_limit(broker_rig):
    async def scenario(bus, clock):
        await bus.declare(T, G)
        await bus.publish(T, {"order": 5})
        [delivery] = await bus.pull(T, G, consumer="w1")
        await delivery.nack()
        return delivery, await bus.dead_letters(T, G)

    delivery, dead = broker_rig.run(scenario, replace(broker_rig.default, lease=4, max_deliveries=1))
    assert delivery.lease_seconds == 4
    assert [(d["reason"], d["delivery_count"]) for d in dead] == [("delivery_limit", 1)]
