"""The broker keeps RabbitMQ's promises: at-least-once, redelivery, dead letters, key order.

Time is a FakeClock throughout; async tests are sync functions that call
``asyncio.run``. ``await asyncio.sleep(0)`` appears only as a yield point
standing in for a consumer's I/O (it lets the other consumers run); nothing
here sleeps to wait for something to happen.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import httpx
import pandas as pd
import pytest

from labsvc.core.clock import FakeClock
from labsvc.core.errors import ConfigurationError
from labsvc.messaging import (
    DEFAULT_MAX_DELIVERIES,
    Broker,
    ConsumerClosedError,
    DurableIdempotentConsumer,
    HttpBrokerClient,
    IdempotentConsumer,
    UnknownDeliveryError,
    UnknownGroupError,
    broker_app,
)
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime


def make_broker(**kw) -> tuple[Broker, FakeClock]:
    clock = FakeClock()
    return Broker(clock=clock, **kw), clock


# -- the big one: crashes everywhere, nothing lost, every effect once ----------


def test_ten_thousand_messages_with_crashing_consumers_lose_nothing_and_apply_each_effect_once():
    n = 10_000
    rng = random.Random(1234)
    broker, _ = make_broker()
    broker.declare("orders", "billing")
    published = [broker.publish_nowait("orders", {"n": i}, key=f"customer-{i % 100}").id for i in range(n)]

    effects: Counter[str] = Counter()
    inbox = IdempotentConsumer(lambda message: effects.update([message.id]))
    acked: set[str] = set()
    crashes = Counter()

    async def worker(name: str) -> None:
        while len(acked) < n:
            consumer = broker.subscribe("orders", "billing", name)  # (re)start after a crash
            async for first in consumer:
                # Take a small batch, so a crash leaves several deliveries unacked.
                batch = [first] + [d for d in (consumer.poll() for _ in range(3)) if d is not None]
                crashed = False
                for delivery in batch:
                    roll = rng.random()
                    if roll < 0.04:
                        crashes["before effect"] += 1
                        crashed = True
                        break
                    await inbox.aprocess(delivery)
                    await asyncio.sleep(0)  # the consumer's I/O: other workers run here
                    if roll < 0.08:
                        crashes["after effect, before ack"] += 1
                        crashed = True
                        break
                    delivery.ack()
                    acked.add(delivery.id)
                if crashed:
                    consumer.close()  # what the broker sees when a consumer dies
                    break
                if len(acked) == n:
                    broker.close()  # wakes and stops every worker

    async def main() -> None:
        await asyncio.gather(*(worker(f"worker-{i}") for i in range(4)))

    simtime.run(main())

    stats = broker.stats().set_index(["topic", "group"]).loc[("orders", "billing")]
    # Nothing acknowledged was lost, and everything was processed.
    assert acked == set(published)
    assert stats["acked"] == n
    assert stats["ready"] == stats["in_flight"] == stats["dead_lettered"] == 0
    # Redeliveries really happened, including after effects had been applied ...
    assert crashes["before effect"] > 0 and crashes["after effect, before ack"] > 0
    assert stats["redelivered"] > 0
    assert inbox.duplicates > 0
    # ... and still each message's effect was applied exactly once.
    assert set(effects) == set(published)
    assert set(effects.values()) == {1}
    assert inbox.applied == n


# -- leases, crashes, redelivery ------------------------------------------------


def test_lease_expiry_redelivers_with_redelivered_flag_and_not_before():
    broker, clock = make_broker(lease="10s")
    a = broker.subscribe("orders", "billing", "a")
    b = broker.subscribe("orders", "billing", "b")
    broker.publish_nowait("orders", {"order": 1})

    first = a.poll()
    assert (first.delivery_count, first.redelivered, first.lease_expires_at) == (1, False, 10.0)
    assert b.poll() is None

    clock.advance(9.999)
    assert broker.tick() == 0
    assert b.poll() is None and [d.tag for d in a.in_flight] == [first.tag]

    clock.advance(0.001)
    second = b.poll()  # any broker operation notices the expired lease
    assert second.id == first.id and second.tag != first.tag
    assert (second.delivery_count, second.redelivered) == (2, True)
    assert a.in_flight == []

    # The first consumer's late ack is refused: its tag is no longer in flight.
    with pytest.raises(UnknownDeliveryError, match="lease expired"):
        first.ack()
    second.ack()
    events = broker.delivery_log["event"].tolist()
    assert events == ["published", "delivered", "expired", "requeued", "delivered", "acked"]


def test_explicit_expire_leases_counts_expired_deliveries():
    broker, clock = make_broker(lease=5)
    consumer = broker.subscribe("t", "g", lease="2s")
    for i in range(3):
        broker.publish_nowait("t", i)
    held = [consumer.poll() for _ in range(3)]
    assert [d.lease_expires_at for d in held] == [2.0, 2.0, 2.0]
    clock.advance(2)
    assert broker.expire_leases() == 3
    assert broker.stats().loc[0, "expired"] == 3


def test_consumer_crash_requeues_unacked_deliveries_for_another_consumer():
    broker, _ = make_broker()
    survivor = broker.subscribe("orders", "billing", "survivor")
    for i in range(3):
        broker.publish_nowait("orders", {"n": i})

    async def crash() -> None:
        async with broker.subscribe("orders", "billing", "doomed") as doomed:
            doomed.poll().ack()
            doomed.poll()
            doomed.poll()
            raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        simtime.run(crash())

    again = [survivor.poll(), survivor.poll()]
    assert [d.payload["n"] for d in again] == [1, 2]
    assert all(d.redelivered and d.delivery_count == 2 for d in again)
    assert survivor.poll() is None
    requeued = broker.delivery_log.query("event == 'requeued'")
    assert set(requeued["reason"]) == {"consumer_closed"}
    assert set(requeued["consumer"]) == {"doomed"}


def test_requeued_message_keeps_its_place_and_payload_is_a_fresh_copy():
    broker, _ = make_broker()
    consumer = broker.subscribe("t", "g")
    for i in range(3):
        broker.publish_nowait("t", {"n": i, "tags": []})
    first = consumer.poll()
    first.payload["tags"].append("mutated by a buggy consumer")
    second = consumer.poll()
    first.nack()  # back to its original place: before message 2 and 3
    again = consumer.poll()
    assert again.payload == {"n": 0, "tags": []}
    assert again.redelivered
    second.ack()
    assert consumer.poll().payload["n"] == 2


def test_prefetch_caps_unacknowledged_deliveries():
    broker, _ = make_broker()
    consumer = broker.subscribe("t", "g", prefetch=2)
    for i in range(3):
        broker.publish_nowait("t", i)
    held = [consumer.poll(), consumer.poll()]
    assert consumer.poll() is None
    held[0].ack()
    assert consumer.poll().payload == 2


# -- dead letters ---------------------------------------------------------------


def test_poison_message_is_dead_lettered_after_exactly_max_deliveries():
    assert DEFAULT_MAX_DELIVERIES == 20  # RabbitMQ quorum queues since 4.0
    broker, _ = make_broker(max_deliveries=5)
    consumer = broker.subscribe("orders", "billing")
    broker.publish_nowait("orders", {"order": "poison"}, key="customer-1")
    broker.publish_nowait("orders", {"order": "fine"}, key="customer-1")

    deliveries = 0
    while (delivery := consumer.poll()) is not None and delivery.payload["order"] == "poison":
        deliveries += 1
        assert delivery.delivery_count == deliveries
        delivery.nack(requeue=True)  # the handler always fails

    assert deliveries == 5
    # The poison message no longer blocks its key: the next one got through.
    assert delivery is not None and delivery.payload["order"] == "fine"
    delivery.ack()
    [letter] = broker.dead_letters("orders", "billing")
    assert (letter.message.payload, letter.reason, letter.delivery_count) == ({"order": "poison"}, "delivery_limit", 5)
    stats = broker.stats().iloc[0]
    assert (stats["delivered"], stats["redelivered"], stats["dead_lettered"], stats["acked"]) == (6, 4, 1, 1)


def test_lease_expiries_also_count_towards_max_deliveries():
    broker, clock = make_broker(max_deliveries=2, lease=1)
    consumer = broker.subscribe("t", "g")
    broker.publish_nowait("t", "hangs the consumer")
    for _ in range(2):
        assert consumer.poll() is not None
        clock.advance(1)
    assert consumer.poll() is None
    assert [d.reason for d in broker.dead_letters("t", "g")] == ["delivery_limit"]


def test_nack_without_requeue_dead_letters_at_once_and_redrive_brings_it_back():
    broker, _ = make_broker()
    consumer = broker.subscribe("t", "g")
    broker.publish_nowait("t", {"bad": True}, message_id="m-1")
    consumer.poll().nack(requeue=False)
    [letter] = broker.dead_letters("t", "g")
    assert (letter.reason, letter.delivery_count, letter.message.id) == ("rejected", 1, "m-1")
    assert consumer.poll() is None

    assert broker.redrive("t", "g") == 1
    assert broker.dead_letters("t", "g") == []
    again = consumer.poll()
    assert (again.id, again.delivery_count) == ("m-1", 1)


# -- groups and ordering ----------------------------------------------------------


def test_every_group_gets_every_message_and_each_goes_to_one_consumer_within_a_group():
    broker, _ = make_broker()
    billing = [broker.subscribe("orders", "billing") for _ in range(2)]
    shipping = broker.subscribe("orders", "shipping")
    for i in range(10):
        broker.publish_nowait("orders", i)

    got: dict[str, list[int]] = defaultdict(list)
    for consumer in [*billing, shipping] * 10:
        if (d := consumer.poll()) is not None:
            got[consumer.name].append(d.payload)
            d.ack()
    assert sorted(got["billing-1"] + got["billing-2"]) == list(range(10))
    assert got["billing-1"] and got["billing-2"]
    assert not set(got["billing-1"]) & set(got["billing-2"])
    assert got["shipping-1"] == list(range(10))
    assert broker.stats()[["group", "published", "acked"]].to_dict("records") == [
        {"group": "billing", "published": 10, "acked": 10},
        {"group": "shipping", "published": 10, "acked": 10},
    ]


def test_a_topic_without_groups_drops_messages_as_unrouted():
    broker, _ = make_broker()
    broker.publish_nowait("audit", {"event": "login"})
    broker.subscribe("audit", "archive")  # declared too late for that one
    assert broker.subscribe("audit", "archive", "second").poll() is None
    assert broker.topic_stats().to_dict("records") == [{"topic": "audit", "groups": 1, "unrouted": 1}]


def test_per_key_order_holds_under_concurrent_consumers_with_requeues():
    rng = random.Random(7)
    broker, _ = make_broker()
    broker.declare("orders", "billing")
    n, keys = 600, 6
    for i in range(n):
        broker.publish_nowait("orders", {"n": i}, key=f"customer-{i % keys}")

    in_flight: set[str] = set()
    processed: dict[str, list[int]] = defaultdict(list)
    handled_by: dict[str, set[str]] = defaultdict(set)

    async def worker(name: str) -> None:
        consumer = broker.subscribe("orders", "billing", name)
        async for delivery in consumer:
            # A key is never handed to a second consumer while one of its messages is in flight.
            assert delivery.key not in in_flight
            in_flight.add(delivery.key)
            await asyncio.sleep(0)  # the consumer's I/O
            in_flight.discard(delivery.key)
            if rng.random() < 0.2:
                delivery.nack()  # failed: must come back before the key's later messages
                continue
            processed[delivery.key].append(delivery.payload["n"])
            handled_by[delivery.key].add(name)
            delivery.ack()
            if sum(map(len, processed.values())) == n:
                broker.close()

    async def main() -> None:
        await asyncio.gather(*(worker(f"w{i}") for i in range(4)))

    simtime.run(main())
    assert broker.stats().loc[0, "redelivered"] > 0
    for k in range(keys):
        assert processed[f"customer-{k}"] == list(range(k, n, keys))
    # The keys were spread over consumers, not pinned to one.
    assert any(len(names) > 1 for names in handled_by.values())


# -- the async consumer API -------------------------------------------------------


def test_get_waits_for_a_publish_and_times_out_with_none():
    broker, _ = make_broker()
    consumer = broker.subscribe("t", "g")

    async def main() -> None:
        assert await consumer.get(timeout=0) is None
        getter = asyncio.create_task(consumer.get())
        await asyncio.sleep(0)  # a yield: let the getter start waiting
        assert not getter.done()
        await broker.publish("t", {"hello": "world"})
        delivery = await asyncio.wait_for(getter, timeout=5)
        assert delivery.payload == {"hello": "world"}

    simtime.run(main())


def test_closing_a_consumer_ends_its_async_for_and_get_raises_afterwards():
    broker, _ = make_broker()
    consumer = broker.subscribe("t", "g")

    async def main() -> list:
        seen = []
        got_one = asyncio.Event()

        async def collect() -> None:
            async for delivery in consumer:
                seen.append(delivery.payload)
                delivery.ack()
                got_one.set()

        loop_task = asyncio.create_task(collect())
        broker.publish_nowait("t", 1)
        await asyncio.wait_for(got_one.wait(), timeout=5)
        consumer.close()  # the loop is waiting for a second message: it ends instead
        await asyncio.wait_for(loop_task, timeout=5)
        with pytest.raises(ConsumerClosedError, match="subscribe again"):
            await consumer.get()
        return seen

    assert simtime.run(main()) == [1]


def test_get_with_the_real_clock_wakes_when_another_consumers_lease_expires():
    broker = Broker(lease=0.02)  # MonotonicClock: a short real lease
    holder = broker.subscribe("t", "g")
    waiter = broker.subscribe("t", "g")
    broker.publish_nowait("t", "job")
    assert holder.poll() is not None

    async def main():
        return await asyncio.wait_for(waiter.get(), timeout=5)

    delivery = asyncio.run(main())  # the real clock, on purpose
    assert delivery.redelivered and delivery.consumer == waiter.name


# -- the idempotent consumer ----------------------------------------------------------


def test_idempotent_consumer_does_not_remember_a_failed_effect():
    broker, _ = make_broker()
    consumer = broker.subscribe("t", "g")
    broker.publish_nowait("t", 10)
    calls = []

    def effect(message):
        calls.append(message.payload)
        if len(calls) == 1:
            raise ConnectionError("database down")

    inbox = IdempotentConsumer(effect)
    with pytest.raises(ConnectionError):
        inbox.handle(consumer.poll())
    consumer.close()  # the failed delivery goes back
    retry = broker.subscribe("t", "g").poll()
    assert inbox.handle(retry) is True
    assert calls == [10, 10] and inbox.applied == 1 and retry.id in inbox


def test_idempotent_consumer_bounded_memory_forgets_the_oldest_ids():
    inbox = IdempotentConsumer(max_remembered=2)
    broker, _ = make_broker()
    consumer = broker.subscribe("t", "g")
    for i in range(3):
        broker.publish_nowait("t", i, message_id=f"m{i}")
    for _ in range(3):
        assert inbox.process(consumer.poll()) is True
    assert (len(inbox), inbox.forgotten) == (2, 1)
    assert not inbox.seen("m0") and inbox.seen("m2")


def test_idempotent_consumer_waits_for_a_concurrent_duplicate_instead_of_applying_twice():
    broker, clock = make_broker(lease=1)
    a = broker.subscribe("t", "g")
    b = broker.subscribe("t", "g")
    broker.publish_nowait("t", "charge card")
    effects = []
    release = None

    async def slow_effect(message):
        effects.append(message.id)
        await release.wait()

    async def main() -> tuple[bool, bool]:
        nonlocal release
        release = asyncio.Event()
        inbox = IdempotentConsumer(slow_effect)
        first = asyncio.create_task(inbox.aprocess(a.poll()))
        await asyncio.sleep(0)  # the first effect is now running
        clock.advance(1)  # ... so long that its lease expires
        second = asyncio.create_task(inbox.aprocess(b.poll()))
        await asyncio.sleep(0)
        release.set()
        return await first, await second

    assert simtime.run(main()) == (True, False)
    assert len(effects) == 1


def test_idempotent_consumer_rejects_a_coroutine_effect_in_sync_process():
    broker, _ = make_broker()
    consumer = broker.subscribe("t", "g")
    broker.publish_nowait("t", 1)

    async def effect(message):
        return None

    with pytest.raises(ConfigurationError, match="aprocess"):
        IdempotentConsumer(effect).process(consumer.poll())


# -- the durable inbox: the applied ids commit with the effect ---------------------------


def _ledger_db(path):
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{path / 'payment.db'}")
    metadata = sa.MetaData()
    ledger = sa.Table("ledger", metadata, sa.Column("order_id", sa.Integer), sa.Column("amount", sa.Float))

    def charge(conn, message):
        conn.execute(ledger.insert().values(**message.payload))

    def charges():
        with engine.connect() as conn:
            return conn.execute(sa.select(ledger.c.order_id)).scalars().all()

    return engine, metadata, charge, charges


def test_durable_inbox_survives_a_new_process_where_the_memory_one_does_not(tmp_path):
    engine, metadata, charge, charges = _ledger_db(tmp_path)
    broker, _ = make_broker()
    consumer = broker.subscribe("orders", "payment")
    broker.publish_nowait("orders", {"order_id": 1, "amount": 5.0}, message_id="order-1")

    # charged, committed, then the process died before the ack
    assert DurableIdempotentConsumer(engine, charge, metadata=metadata).process(consumer.poll()) is True
    consumer.close()
    redelivery = broker.subscribe("orders", "payment").poll()
    assert redelivery.redelivered
    restarted = DurableIdempotentConsumer(engine, charge, metadata=metadata)  # fresh memory, same database
    assert restarted.handle(redelivery) is False
    assert (restarted.applied, restarted.duplicates, len(restarted)) == (0, 1, 1)
    assert charges() == [1]
    assert broker.stats().set_index("group").loc["payment", "acked"] == 1  # the duplicate was acked too

    # an in-memory consumer restarted the same way has forgotten the id: it charges again
    def charge_and_commit(message):
        with engine.begin() as conn:
            charge(conn, message)

    forgetful = IdempotentConsumer(charge_and_commit)
    assert not forgetful.seen("order-1") and forgetful.process(redelivery) is True
    assert charges() == [1, 1]


def test_durable_inbox_rolls_back_the_id_with_a_failed_effect(tmp_path):
    engine, metadata, charge, charges = _ledger_db(tmp_path)
    calls = []

    def flaky(conn, message):
        charge(conn, message)
        calls.append(message.id)
        if len(calls) == 1:
            raise ConnectionError("card network down")  # after the ledger write: it must not stay

    from labsvc.messaging import Message

    m = Message("order-1", "orders", None, {"order_id": 1, "amount": 5.0}, {}, 0.0)
    inbox = DurableIdempotentConsumer(engine, flaky, metadata=metadata)
    with pytest.raises(ConnectionError):
        inbox.process(m)
    assert not inbox.seen("order-1") and charges() == []
    assert inbox.process(m) is True and inbox.process(m) is False
    assert calls == ["order-1", "order-1"] and charges() == [1]


def test_durable_inbox_tells_a_duplicate_from_the_effects_own_integrity_error(tmp_path):
    import sqlalchemy as sa
    from sqlalchemy.exc import IntegrityError

    from labsvc.messaging import Message

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    metadata = sa.MetaData()
    unique = sa.Table("u", metadata, sa.Column("k", sa.Integer, primary_key=True))
    inbox = DurableIdempotentConsumer(engine, lambda conn, m: conn.execute(unique.insert().values(k=1)),
                                      metadata=metadata)
    assert inbox.process(Message("a", "t", None, {}, {}, 0.0)) is True
    with pytest.raises(IntegrityError):  # a different message that breaks the effect's own key
        inbox.process(Message("b", "t", None, {}, {}, 0.0))
    assert inbox.duplicates == 0 and not inbox.seen("b")


def test_durable_inbox_rejects_bad_arguments():
    import sqlalchemy as sa

    with pytest.raises(ConfigurationError, match="Engine"):
        DurableIdempotentConsumer("sqlite:///x.db")

    async def effect(conn, message):
        return None

    with pytest.raises(ConfigurationError, match="plain function"):
        DurableIdempotentConsumer(sa.create_engine("sqlite://"), effect)
    with pytest.raises(ConfigurationError, match="Delivery or a Message"):
        DurableIdempotentConsumer(sa.create_engine("sqlite://")).process({"id": 1})


def test_durable_idempotency_under_a_real_crash():
    """The payment instance is crashed after a charge and before its ack, then restarted by the
    network (memory lost, SQLite file kept): in-memory ids double-charge, the inbox table does not."""
    from labsvc.messaging.lab import crash_experiment

    async def main():
        return {inbox: await crash_experiment(inbox=inbox, crash_at=(4, 11), orders=16, seed=7, name=f"t-{inbox}")
                for inbox in ("memory", "database")}

    runs = simtime.run(main())
    for r in runs.values():
        s = r.summary
        assert s["crashes"] == 2 and s["redelivered"] >= 2 and s["notified"] == 16
        for order in ("order-4", "order-11"):  # crashed holding the delivery, then redelivered
            events = r.history(order)
            assert list(events["event"])[:2] == ["delivered", "requeued"]
            assert events["redelivered"].iloc[-1] and events["event"].iloc[-1] == "acked"
    memory, durable = runs["memory"], runs["database"]
    per_order = memory.ledger.groupby("order_id").size()
    assert sorted(per_order[per_order > 1].index) == [4, 11] and memory.summary["charges"] == 18
    assert durable.summary["double_charged"] == 0 and durable.summary["charges"] == 16
    assert sorted(durable.ledger["order_id"]) == list(range(1, 17))  # charges from before the crashes survived


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_deliveries": 0}, "max_deliveries=0 must be a whole number of at least 1"),
        ({"max_deliveries": 2.5}, "max_deliveries"),
        ({"lease": -1}, "lease"),
        ({"lease": 0}, "more than zero"),
        ({"lease": "soon"}, "not a duration"),
        ({"log_size": -1}, "log_size"),
    ],
)
def test_bad_broker_settings_raise_configuration_error(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        Broker(**kwargs)


def test_bad_arguments_raise_specific_errors():
    broker, _ = make_broker()
    with pytest.raises(ConfigurationError, match="JSON-able"):
        broker.publish_nowait("t", object())
    with pytest.raises(ConfigurationError, match="JSON-able"):
        broker.publish_nowait("t", float("nan"))
    with pytest.raises(ConfigurationError, match="not a valid name"):
        broker.publish_nowait("my topic", 1)
    with pytest.raises(ConfigurationError, match="key"):
        broker.publish_nowait("t", 1, key=True)
    with pytest.raises(ConfigurationError, match="headers"):
        broker.publish_nowait("t", 1, headers={1: "x"})
    broker.subscribe("t", "g", "w1")
    with pytest.raises(ConfigurationError, match="already active"):
        broker.subscribe("t", "g", "w1")
    with pytest.raises(ConfigurationError, match="prefetch"):
        broker.subscribe("t", "g", prefetch=0)
    with pytest.raises(UnknownGroupError, match="declare it"):
        broker.dead_letters("t", "nope")
    with pytest.raises(UnknownDeliveryError, match="not in flight"):
        broker.ack(12345)
    with pytest.raises(ConfigurationError, match="max_remembered"):
        IdempotentConsumer(max_remembered=0)
    assert isinstance(UnknownDeliveryError("x"), LookupError)


def test_delivery_log_and_stats_are_dataframes_with_stable_columns():
    broker, _ = make_broker()
    assert list(broker.stats().columns) == [
        "topic", "group", "published", "delivered", "redelivered", "acked", "nacked", "expired",
        "requeued", "dead_lettered", "ready", "in_flight", "dead_letters", "consumers",
    ]
    consumer = broker.subscribe("t", "g")
    broker.publish_nowait("t", 1, key="k")
    consumer.poll().ack()
    log = broker.delivery_log
    assert isinstance(log, pd.DataFrame)
    assert log["event"].tolist() == ["published", "delivered", "acked"]
    assert log["group"].isna().tolist() == [True, False, False]  # a publish is per topic
    assert log.loc[1:, ["group", "consumer", "key", "delivery_count"]].to_dict("records") == [
        {"group": "g", "consumer": "g-1", "key": "k", "delivery_count": 1},
        {"group": "g", "consumer": "g-1", "key": "k", "delivery_count": 1},
    ]


# -- over HTTP ----------------------------------------------------------------------


def http_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://broker.svc")


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    doc = response.json()
    assert doc["status"] == status and doc["title"]
    if slug is not None:
        assert doc["type"] == f"urn:labsvc:problem:{slug}"
    return doc


def test_http_publish_pull_ack_nack_and_stats():
    broker, clock = make_broker(lease=10)

    async def main() -> None:
        async with http_client(broker_app(broker)) as http:
            assert (await http.put("/topics/orders/groups/billing")).status_code == 200
            r = await http.post("/topics/orders/messages", json={"payload": {"order": 1}, "key": "c-1"})
            assert r.status_code == 201 and r.json()["id"] == "msg-1"
            await http.post("/topics/orders/messages", json={"payload": {"order": 2}})

            r = await http.post("/topics/orders/groups/billing/pull", json={"consumer": "w1", "max": 5, "lease": 2})
            first, second = r.json()["deliveries"]
            assert first["message"]["payload"] == {"order": 1} and first["lease_seconds"] == 2
            assert (await http.post(f"/deliveries/{first['tag']}/ack")).json() == {"tag": first["tag"], "status": "acked"}
            r = await http.post(f"/deliveries/{second['tag']}/nack", json={"requeue": True})
            assert r.json()["status"] == "requeued"

            # A puller that goes silent: its lease expires and the message comes back.
            [again] = (await http.post("/topics/orders/groups/billing/pull", json={"consumer": "w1"})).json()["deliveries"]
            clock.advance(10)
            [third] = (await http.post("/topics/orders/groups/billing/pull", json={"consumer": "w2"})).json()["deliveries"]
            assert third["redelivered"] and third["delivery_count"] == 3 and third["consumer"] == "w2"
            await http.post(f"/deliveries/{third['tag']}/nack", json={"requeue": False})

            [letter] = (await http.get("/topics/orders/groups/billing/dead-letters")).json()
            assert letter["reason"] == "rejected" and letter["message"]["payload"] == {"order": 2}
            [row] = (await http.get("/stats")).json()
            assert (row["published"], row["acked"], row["dead_lettered"], row["expired"]) == (2, 1, 1, 1)

    simtime.run(main())


def test_http_errors_are_problem_documents():
    broker, _ = make_broker()

    async def main() -> None:
        async with http_client(broker_app(broker)) as http:
            doc = assert_problem(await http.post("/deliveries/42/ack"), 404, "unknown-delivery")
            assert "not in flight" in doc["detail"] and doc["instance"] == "/deliveries/42/ack"
            doc = assert_problem(await http.post("/topics/orders/messages", json={"key": "k"}), 422, "validation-error")
            assert doc["errors"][0]["loc"] == ["body", "payload"]
            assert_problem(await http.post("/topics/orders/messages", content=b"{not json"), 422, "validation-error")
            doc = assert_problem(await http.post("/topics/orders/groups/g/pull", json={"max": 0}), 422)
            assert doc["errors"][0]["loc"] == ["body", "max"]
            assert_problem(await http.post("/topics/a b/messages", json={"payload": 1}), 422, "invalid-argument")
            assert_problem(await http.post("/deliveries/not-a-number/ack"), 422, "validation-error")
            assert_problem(await http.get("/topics/t/groups/none/dead-letters"), 404, "unknown-group")
            assert_problem(await http.get("/no/such/route"), 404)

    simtime.run(main())


def test_http_broker_client_round_trip_and_errors():
    broker, clock = make_broker(lease=5)

    async def main() -> None:
        async with http_client(broker_app(broker)) as http:
            client = HttpBrokerClient(http, "http://broker.svc/")
            await client.declare("orders", "billing")
            message = await client.publish("orders", {"order": 9}, key=9, headers={"trace": "t-1"})
            assert (message.key, message.headers) == (9, {"trace": "t-1"})

            [delivery] = await client.pull("orders", "billing", consumer="remote")
            assert (delivery.payload, delivery.redelivered, delivery.lease_seconds) == ({"order": 9}, False, 5)
            assert await client.leave("orders", "billing", "remote") == 1  # a clean shutdown requeues
            with pytest.raises(UnknownDeliveryError, match="not in flight"):
                await delivery.ack()

            [again] = await client.pull("orders", "billing", consumer="remote")
            inbox = IdempotentConsumer()
            assert await inbox.ahandle(again) is True and again.redelivered
            stats = await client.stats()
            assert isinstance(stats, pd.DataFrame) and stats.loc[0, "acked"] == 1

            with pytest.raises(ConfigurationError, match="max"):
                await client.pull("orders", "billing", max=0)
            with pytest.raises(UnknownGroupError):
                await client.dead_letters("orders", "nope")

            # Long poll: a pull that waits is answered by a later publish.
            pulling = asyncio.create_task(client.pull("orders", "billing", consumer="remote", wait=5, lease=7))
            await asyncio.sleep(0)
            await client.publish("orders", {"order": 10})
            [late] = await asyncio.wait_for(pulling, timeout=5)
            assert (late.payload, late.lease_seconds) == ({"order": 10}, 7)

    simtime.run(main())


def test_broker_server_create_app_gives_every_call_a_broker_of_its_own():
    from labsvc.core.apps import is_factory, load_app
    from labsvc.messaging.broker_server import Settings, app, create_app

    clock = FakeClock()
    first, second = create_app(Settings(lease=5, max_deliveries=2, clock=clock)), create_app()
    assert first.state.broker is not second.state.broker
    assert (first.state.broker.lease, first.state.broker.max_deliveries, first.state.broker.clock) == (5, 2, clock)

    async def main() -> None:
        async with http_client(first) as a, http_client(second) as b:
            await a.put("/topics/orders/groups/billing")
            await a.post("/topics/orders/messages", json={"payload": 1})
            assert [r["published"] for r in (await a.get("/stats")).json()] == [1]
            assert (await b.get("/stats")).json() == []          # the other instance shares nothing

    simtime.run(main())
    # What `python -m labsvc serve` and process mode load:
    assert load_app("labsvc.messaging.broker_server:app") is app
    assert is_factory("labsvc.messaging.broker_server:create_app")
    with pytest.raises(ConfigurationError, match="Settings"):
        create_app({"lease": 5})


def test_docstring_examples_run():
    import doctest
    import importlib

    for name in ["", "._broker", "._consumer", "._message", "._idempotent", "._inbox", "._http", "._backend",
                 ".broker_server"]:
        module = importlib.import_module("labsvc.messaging" + name)
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__
