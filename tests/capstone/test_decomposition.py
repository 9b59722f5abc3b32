"""Merging services into one deployable unit: the system still works end to end, and a crash takes the whole unit."""

import pytest

from labsvc.capstone import (MERGEABLE, OrderSystem, check_merge, compare_decompositions, crash_experiment,
                             units)
from labsvc.capstone.experiments import spec
from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError


def run(coro):
    return simtime.run(coro)


def test_units_keep_the_network_order_and_put_a_merged_group_where_its_first_member_was():
    assert units() == tuple((name,) for name in ("catalog", "inventory", "payment", "orders", "broker", "history",
                                                 "delivery", "gateway"))
    assert units([("history", "orders")]) == (("catalog",), ("inventory",), ("payment",), ("history", "orders"),
                                              ("broker",), ("delivery",), ("gateway",))
    assert len(units([("orders", "inventory", "history")])) == 6


@pytest.mark.parametrize("merge, message", [
    ([("catalog", "orders")], "deployed release by release"),
    ([("payment", "orders")], "external provider"),
    ([("orders", "gateway")], "entry point"),
    ([("orders", "search")], "not a service of the order system"),
    ([("orders",)], "at least two"),
    ([("orders", "history"), ("history", "delivery")], "two merge groups"),
    ("orders", "give pairs"),
])
def test_merges_that_cannot_be_built_are_refused_with_the_reason(merge, message):
    with pytest.raises(ConfigurationError, match=message):
        check_merge(merge)


def test_a_merged_system_serves_every_journey_with_one_unit_fewer():
    async def main():
        system = OrderSystem(name="cap-merge-e2e", merge=[("orders", "history")])
        async with system:
            users = system.net.client("users")
            order = await users.post("http://gateway.svc/orders/orders",
                                     json={"customer_id": 4, "product_id": 1, "quantity": 1})
            await system.settle()
            history = await users.get("http://gateway.svc/history/order-views", params={"customer_id": 4})
            registered = {s: [(i.instance, i.url) for i in system.registry.lookup(s)] for s in ("orders", "history")}
            return system, order.json(), history.json(), system.net.calls, registered

    system, order, history, calls, registered = run(main())
    # the unit registers both services it runs, each under its own name, both reaching the one instance
    assert registered == {"orders": [("orders-1", "http://orders-1.svc")],
                          "history": [("history-1", "http://history-1.svc")]}
    assert sorted(system.net.services) == ["broker", "catalog", "delivery", "gateway", "inventory", "orders",
                                           "payment"]
    assert order["status"] == "APPROVED" and [v["order_id"] for v in history] == [1]
    served_history = calls[calls["path"].str.startswith("/order-views")]
    assert set(served_history["instance"]) == {"orders-1"}  # the unit's one instance served the read model


def test_crashing_the_orders_unit_takes_history_down_with_it_and_nothing_else():
    table = run(compare_decompositions({"reference": None, "orders + history": [("orders", "history")],
                                        "history + delivery": [("history", "delivery")]},
                                       crash="orders", seed=14, name="cap-merge-compare"))
    assert table["units"].tolist() == [8, 7, 7]
    assert table["checkout"].max() == 0.0  # no orders service: no checkout, in every decomposition
    assert table.loc["reference", "history"] == 1.0 and table.loc["history + delivery", "history"] == 1.0
    assert table.loc["orders + history", "history"] == 0.0  # shared fate
    assert (table["browse"] == 1.0).all()
    assert table["checkout_calls"].tolist() == [4, 4, 4] and table["hops_inside_units"].tolist() == [0, 0, 0]


def test_a_merged_pair_that_calls_each_other_keeps_the_call_inside_its_unit():
    table = run(compare_decompositions({"orders + inventory": [("orders", "inventory")]}, crash="payment", seed=3,
                                       name="cap-merge-inside"))
    assert table.loc["orders + inventory", "hops_inside_units"] == 1  # the reservation: orders -> inventory


def test_the_crash_experiment_keeps_the_capstone_hypothesis_and_undoes_its_crash():
    experiment = crash_experiment("inventory")
    assert experiment["steady-state-hypothesis"] == spec("instance_crash")["steady-state-hypothesis"]
    assert experiment["method"][0]["provider"]["arguments"] == {"target": "inventory-1"}
    assert experiment["rollbacks"][0]["provider"]["arguments"] == {"instance": "inventory-1"}
    with pytest.raises(ConfigurationError, match="crash one of"):
        crash_experiment("gateway")
    assert set(MERGEABLE) == {"orders", "inventory", "history", "delivery"}
