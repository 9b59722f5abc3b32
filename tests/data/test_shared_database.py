"""The shared-database anti-pattern: one team's schema change breaks another team's service at run time."""

from __future__ import annotations

import asyncio

import pytest

from labsvc import Network
from labsvc.data import customers_app, orders_app, schema_change_experiment
from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime


@pytest.fixture(scope="module")
def results():
    async def both():
        return {d: await schema_change_experiment(d, orders=5, customers=3, seed=4, name=f"test-schema-{d}")
                for d in ("shared", "per-service")}

    return simtime.run(both())


def test_with_a_shared_database_the_customers_migration_breaks_every_receipt_of_the_orders_service(results):
    r = results["shared"].requests
    before = r[(r["phase"] == "v1") & (r["service"] == "orders")]
    after = r[(r["phase"] == "v2") & (r["service"] == "orders")]
    assert len(before) == len(after) == 5
    assert before["ok"].all()
    assert (after["status"] == 500).all()
    assert set(after["error_class"]) == {"OperationalError"}
    assert set(after["problem_type"]) == {"urn:labsvc:problem:database-error"}
    problem = results["shared"].problem
    assert problem["status"] == 500 and problem["sql_error"] == "no such column: customers.name"
    # The customers service itself works: it migrated its own code with its schema.
    own = r[(r["phase"] == "v2") & (r["service"] == "customers")]
    assert own["ok"].all()


def test_with_a_database_per_service_the_same_migration_stays_behind_the_customers_api(results):
    r = results["per-service"].requests
    assert r["ok"].all()
    names = r[r["service"] == "orders"].pivot_table(index="path", columns="phase", values="customer_name", aggfunc="first")
    assert (names["v1"] == names["v2"]).all()  # the API kept its contract
    assert results["per-service"].problem is None


def test_the_migration_really_split_the_column_in_both_designs(results):
    for result in results.values():
        assert result.columns["v1"] == ["id", "name", "email"]
        assert result.columns["v2"] == ["id", "email", "first_name", "last_name"]


def test_summary_counts_requests_per_design_phase_and_service(results):
    s = results["shared"].summary().set_index(["phase", "service"])
    assert s.loc[("v2", "orders"), "availability"] == 0.0
    assert s.loc[("v2", "orders"), "error_class"] == "OperationalError"
    assert s.loc[("v1", "orders"), "availability"] == 1.0


def _network(name):
    net = Network(seed=1, name=name)
    net.add("customers", customers_app)
    net.add("orders", orders_app)
    return net


def test_invalid_bodies_get_a_422_problem_naming_the_field():
    async def scenario():
        async with _network("test-schema-422") as net:
            client = net.client("test")
            bad_total = await client.post("http://orders.svc/orders", json={"customer_id": 1, "total": -5})
            bad_email = await client.post("http://customers.svc/customers", json={"name": "Ada", "email": "nope"})
            unknown = await client.post("http://orders.svc/orders", json={"customer_id": 99, "total": 5})
            return bad_total, bad_email, unknown

    bad_total, bad_email, unknown = simtime.run(scenario())
    for r, field in ((bad_total, "body.total"), (bad_email, "body.email"), (unknown, "body.customer_id")):
        assert r.status_code == 422
        assert r.headers["content-type"] == PROBLEM_JSON
        assert [e["field"] for e in r.json()["errors"]] == [field]
        assert field in r.json()["detail"]


def test_unknown_resources_get_a_404_problem():
    async def scenario():
        async with _network("test-schema-404") as net:
            client = net.client("test")
            return [await client.get(u) for u in ("http://orders.svc/orders/7", "http://orders.svc/orders/7/receipt",
                                                  "http://customers.svc/customers/7")]

    for r in simtime.run(scenario()):
        assert r.status_code == 404
        assert r.headers["content-type"] == PROBLEM_JSON
        assert r.json()["type"] == "urn:labsvc:problem:not-found"


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ConfigurationError, match="design="):
        orders_app("shared-nothing")
    with pytest.raises(ConfigurationError, match="versions 1 and 2"):
        customers_app(3)
    with pytest.raises(ConfigurationError, match="design="):
        simtime.run(schema_change_experiment("mixed"))
