"""API composition: a query across three services costs hops, and needs all three up."""

from __future__ import annotations

import asyncio

import pytest

from labsvc.data import STRATEGIES, composition_experiment, composition_network, expected_hops, seed_composition
from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime


@pytest.fixture(scope="module")
def result():
    return simtime.run(composition_experiment(orders=6, latency=None, repeats=2, seed=3, name="test-composition"))


def test_each_strategy_makes_the_hops_its_shape_predicts(result):
    up = result.table[result.table["delivery"] == "up"].set_index("strategy")
    for strategy in STRATEGIES:
        assert up.loc[strategy, "hops"] == expected_hops(strategy, 6)
    assert expected_hops("sequential", 6) == 14 and expected_hops("batched", 6) == 4


def test_every_strategy_returns_the_same_joined_answer(result):
    assert result.table["same_answer"].dropna().all()
    answer = result.answers["batched"]
    assert len(answer) == 6
    assert all(row["customer_name"] and row["delivery_status"] in ("preparing", "shipped", "delivered")
               for row in answer)


def test_with_one_service_down_no_strategy_can_answer(result):
    down = result.table[result.table["delivery"] == "down"]
    assert (down["availability"] == 0.0).all()
    failed = result.queries[result.queries["delivery"] == "down"]
    assert set(failed["status"]) == {503}


def test_the_composer_reports_a_missing_dependency_as_a_503_problem_and_a_bad_strategy_as_422():
    async def scenario():
        net = composition_network(seed=1, name="test-composition-errors")
        async with net:
            await seed_composition(net, orders=2, seed=1)
            client = net.client("test")
            bad = await client.get("http://order-summary.svc/order-summaries?strategy=magic")
            net.fault("customers", down=True)
            down = await client.get("http://order-summary.svc/order-summaries?strategy=batched")
            missing = await client.get("http://delivery.svc/deliveries/99")
            bad_ids = await client.get("http://delivery.svc/deliveries?order_ids=1,x")
            return bad, down, missing, bad_ids

    bad, down, missing, bad_ids = simtime.run(scenario())
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["query.strategy"]
    assert down.status_code == 503 and down.headers["content-type"] == PROBLEM_JSON
    assert down.json()["type"] == "urn:labsvc:problem:dependency-unavailable"
    assert "customers.svc" in down.json()["detail"]
    assert missing.status_code == 404 and missing.json()["type"] == "urn:labsvc:problem:not-found"
    assert bad_ids.status_code == 422 and bad_ids.json()["errors"][0]["field"] == "query.order_ids"


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ConfigurationError, match="strategy="):
        expected_hops("random", 3)
    with pytest.raises(ConfigurationError, match="at least 1"):
        simtime.run(composition_experiment(orders=0))
