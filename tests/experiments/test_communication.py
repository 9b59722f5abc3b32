"""The order flow: a synchronous chain loses orders during an outage, the broker keeps them.

These tests run the real experiments on a network, in real time but short
(about two seconds each, the two styles side by side).
"""

from __future__ import annotations

import asyncio

import pytest

from labsvc.core.errors import ConfigurationError
from labsvc.messaging.lab import (
    OrderFlow,
    compare_styles,
    delivery_experiment,
    delivery_summary,
    outage_experiment,
    outage_summary,
    plot_backlog,
    plot_completion,
)
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime


@pytest.fixture(scope="module")
def outage():
    return simtime.run(compare_styles(down="payment", at="0.5s", outage="0.6s", rate=40, duration="1.6s", seed=3,
                                      name="t-outage"))


@pytest.fixture(scope="module")
def deliveries():
    async def both():
        return await asyncio.gather(delivery_experiment(idempotent=True, seed=3, name="t-idem"),
                                    delivery_experiment(idempotent=False, seed=3, name="t-naive"))

    idempotent, naive = simtime.run(both())
    return {"idempotent": idempotent, "naive": naive}


# Margins around the outage window: an order placed just before the outage
# may still reach payment, and the event loop of a busy machine stalls now and then.
MARGIN = 0.1


def test_sync_flow_loses_the_orders_placed_while_payment_is_down(outage):
    sync = outage["sync"]
    start, end = sync.window
    o = sync.orders
    lost = o[~o["completed"]]
    assert len(lost) >= 5
    assert (~lost["accepted"]).all() and (lost["status"] == 503).all()
    inside = o[o["submitted_at"].between(start + MARGIN, end - MARGIN)]
    outside = o[(o["submitted_at"] < start - MARGIN) | (o["submitted_at"] > end + MARGIN)]
    assert len(inside) >= 3 and not inside["completed"].any()
    assert outside["completed"].all()


def test_async_flow_accepts_every_order_and_completes_them_after_recovery(outage):
    a = outage["async"]
    o = a.orders
    assert o["accepted"].all() and (o["status"] == 202).all()
    assert o["completed"].all() and a.lost == 0
    start, end = a.window
    during = o[o["submitted_at"].between(start + MARGIN, end - MARGIN)]
    # Orders placed during the outage completed only after payment came back.
    assert (during["completed_at"] >= end).all()
    assert len(during) >= 3 and during["completion_latency"].max() > 0.2


def test_the_backlog_grows_during_the_outage_and_drains_after(outage):
    b = outage["async"].backlog
    start, end = outage["async"].window
    pay = b[b["group"] == "payment"]
    before = pay[pay["time"] < start]
    at_restart = pay[pay["time"] <= end].iloc[-1]
    assert before["backlog"].max() <= 3  # the consumer keeps up while payment runs
    assert at_restart["backlog"] >= 5 and pay["backlog"].max() >= at_restart["backlog"]
    assert pay["backlog"].iloc[-1] == 0


def test_summary_compares_what_users_saw_and_what_got_done(outage):
    s = outage_summary(outage).set_index("style")
    assert s.loc["async", "availability"] == 1.0 and s.loc["async", "completed"] == 1.0
    assert s.loc["sync", "availability"] == s.loc["sync", "completed"] < 0.95
    assert s.loc["sync", "lost"] == outage["sync"].lost and s.loc["sync", "max_backlog"] == 0
    assert s.loc["async", "completion_max_ms"] > s.loc["sync", "completion_max_ms"]


def test_the_broker_is_a_hop_in_the_call_log(outage):
    calls = outage["async"].calls
    edges = set(zip(calls["caller"], calls["callee"], calls["route"]))
    assert ("orders", "broker", "/topics/{topic}/messages") in edges
    assert ("payment", "broker", "/topics/{topic}/groups/{group}/pull") in edges
    assert ("payment", "broker", "/deliveries/{tag}/ack") in edges
    assert ("notification", "broker", "/topics/{topic}/groups/{group}/pull") in edges
    assert "payment" not in set(calls["callee"])  # nobody calls payment directly
    sync_edges = set(zip(outage["sync"].calls["caller"], outage["sync"].calls["callee"]))
    assert {("users", "orders"), ("orders", "payment"), ("payment", "notification")} <= sync_edges
    assert "broker" not in set(outage["sync"].calls["callee"])


def test_consumers_call_as_their_own_instance(outage):
    calls = outage["async"].calls
    assert set(calls.loc[calls["caller"] == "payment", "caller_instance"]) == {"payment-1"}


def test_without_an_outage_the_user_waits_for_the_whole_sync_chain():
    results = simtime.run(compare_styles(down=None, duration="0.5s", rate=40, seed=3, name="t-happy"))
    s = outage_summary(results).set_index("style")
    assert (s["availability"] == 1.0).all() and (s["completed"] == 1.0).all()
    assert s.loc["sync", "user_p50_ms"] >= 6.0  # three services, 2 ms of work each
    assert s.loc["async", "user_p50_ms"] < s.loc["sync", "user_p50_ms"]
    assert results["sync"].window == (None, None)


def test_idempotent_consumer_charges_each_order_once_despite_redeliveries(deliveries):
    s = deliveries["idempotent"].summary
    assert s["redelivered"] > 0 and s["duplicates_skipped"] > 0
    assert s["double_charged"] == 0 and s["charges"] == s["orders"] - 1  # order 7 is poison
    assert s["notified"] == s["orders"] - 1


def test_naive_consumer_charges_again_on_redelivery(deliveries):
    s = deliveries["naive"].summary
    assert s["double_charged"] > 0 and s["charges"] > s["orders"] - 1
    assert s["notified"] == s["orders"] - 1  # notification is idempotent: nobody is told twice
    table = delivery_summary(deliveries).set_index("consumer")
    assert list(table.index) == ["idempotent", "naive"]


def test_poison_message_is_dead_lettered_after_max_deliveries(deliveries):
    dead = deliveries["idempotent"].dead_letters
    assert dead.to_dict("records") == [{"message_id": "order-7", "order_id": 7, "amount": 0.0,
                                         "reason": "delivery_limit", "delivery_count": 4}]
    log = deliveries["idempotent"].delivery_log
    seven = log[(log["message_id"] == "order-7") & (log["group"] == "payment")]
    assert list(seven["event"]).count("delivered") == 4 and seven["event"].iloc[-1] == "dead_lettered"


def test_a_failed_sync_order_is_a_problem_document():
    async def main():
        flow = OrderFlow("sync", seed=1, name="t-problem")
        async with flow:
            await flow.net.stop_instance("payment-1")
            return await flow.place(flow.net.client("users"), 1)

    r = simtime.run(main())
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["title"] == "Payment unavailable" and "InstanceDownError" in r.json()["detail"]


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ConfigurationError, match="style='pigeon'"):
        OrderFlow("pigeon")
    with pytest.raises(ConfigurationError, match="down='billing'"):
        simtime.run(outage_experiment("sync", down="billing"))
    with pytest.raises(ConfigurationError, match="crash_before_ack"):
        OrderFlow("async", crash_before_ack=2)


def test_plots_return_figures(outage):
    assert len(plot_completion(outage).axes) == 2
    assert plot_backlog(outage["async"]).axes[0].get_ylabel() == "messages"


def test_the_chapter_plots_live_in_plots_and_the_lab_re_exports_them():
    import labsvc.messaging.lab as lab
    import labsvc.messaging.plots as plots

    assert plots.__all__ == ["plot_completion", "plot_backlog"]
    assert all(getattr(lab, name) is getattr(plots, name) and name in lab.__all__ for name in plots.__all__)
