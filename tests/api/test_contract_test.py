"""The contract test passes the real backend and names each deliberate deviation."""

import asyncio

import pytest

from labsvc import Network
from labsvc.api import (
    DEVIATIONS,
    contract_summary,
    catalog_backend,
    contract_test,
    deviating_backend_app,
    failures,
    operations,
)
from labsvc.api._contract_test import REPORT_COLUMNS, invalid_value, missing_value
from labsvc.core import simtime


def test_the_real_backend_passes_every_check(contract):
    report = simtime.run(contract_test(contract, catalog_backend))
    assert list(report.columns) == REPORT_COLUMNS
    assert failures(report).empty, failures(report).to_dict("records")
    assert set(report["operation"]) >= {op.key for op in operations(contract)}
    cases = set(report["case"])
    assert {"example request", "duplicate", "invalid sku", "invalid price", "invalid limit", "unknown sku ZZZ-999",
            "unknown path", "undocumented method"} <= cases
    checks = set(report["check"])
    assert {"status", "content type", "required fields", "undocumented fields", "schema", "header Location",
            "problem status member", "names the field"} <= checks
    assert len(report) >= 70


def test_the_contract_test_can_run_twice_on_one_running_service(contract):
    async def scenario():
        net = Network(name="api-test-twice")
        net.add("catalog", catalog_backend)
        async with net:
            first = await contract_test(contract, "http://catalog.svc", net=net)
            second = await contract_test(contract, "http://catalog.svc", net=net)
            return first, second, net.calls

    first, second, calls = simtime.run(scenario())
    assert first["ok"].all() and second["ok"].all()
    assert set(calls["caller"]) == {"contract-test"}


@pytest.mark.parametrize("deviation, check, case, actual", [
    ("renamed-field", "required fields", "example request", "missing body.price"),
    ("renamed-field", "undocumented fields", "example request", "body.sale_price"),
    ("wrong-status", "status", "example request", "200"),
    ("leaky-dto", "undocumented fields", "example request", "body.id, body.cost_price, body.supplier_code"),
    ("plain-errors", "content type", "unknown sku ZZZ-999", "application/json"),
])
def test_each_deviation_fails_and_is_named(contract, deviation, check, case, actual):
    report = simtime.run(contract_test(contract, deviating_backend_app(deviation)))
    bad = failures(report)
    assert not bad.empty
    hit = bad[(bad["check"] == check) & (bad["case"] == case)]
    assert actual in set(hit["actual"]), bad.to_dict("records")


def test_renamed_field_fails_exactly_where_products_are_returned(contract):
    bad = failures(simtime.run(contract_test(contract, deviating_backend_app("renamed-field"))))
    assert set(bad["operation"]) == {"POST /products", "GET /products", "GET /products/{sku}", "PATCH /products/{sku}"}
    assert set(bad["check"]) == {"required fields", "undocumented fields"}
    assert "missing body.items[].price" in set(bad["actual"])


def test_wrong_status_is_the_only_deviation_of_that_backend(contract):
    bad = failures(simtime.run(contract_test(contract, deviating_backend_app("wrong-status"))))
    assert bad[["operation", "check", "expected", "actual"]].to_dict("records") == [
        {"operation": "POST /products", "check": "status", "expected": "201", "actual": "200"}]


def test_summary_counts_deviations_per_operation(contract):
    report = simtime.run(contract_test(contract, deviating_backend_app("wrong-status")))
    summary = contract_summary(report).set_index("operation")
    assert summary.loc["POST /products", "failed"] == 1
    assert "example request: status (200)" in summary.loc["POST /products", "deviations"]
    assert summary["failed"].sum() == 1 and summary["checks"].sum() == len(report)


def test_every_deviation_is_caught(contract):
    for deviation in DEVIATIONS:
        report = simtime.run(contract_test(contract, deviating_backend_app(deviation)))
        assert not report["ok"].all(), deviation


def test_an_unreachable_target_is_reported_not_raised(contract):
    async def scenario():
        net = Network(name="api-test-down")
        net.add("catalog", catalog_backend)
        async with net:
            net.fault("catalog", down=True)
            return await contract_test(contract, "http://catalog.svc", net=net)

    report = simtime.run(scenario())
    assert not report["ok"].any() and set(report["check"]) == {"answered"}


def test_helpers_keep_the_shape_of_values():
    assert missing_value("BEA-001") == "ZZZ-999" and missing_value("order-42") == "zzzzz-99"
    assert missing_value(7) == 999_999_999
    assert invalid_value({"type": "number"}) == "not-a-number" and invalid_value({"type": "string"}) == 12345


@pytest.mark.slow
def test_the_contract_test_runs_over_real_http_in_process_mode(contract):
    async def scenario():
        net = Network(mode="process", name="api-test-process")
        net.add("catalog", "labsvc.api:catalog_backend")
        async with net:
            port = net.instance("catalog-1").process.port
            over_network = await contract_test(contract, "http://catalog.svc", net=net)
            direct = await contract_test(contract, f"http://127.0.0.1:{port}")
            return over_network, direct

    over_network, direct = simtime.run(scenario())
    assert over_network["ok"].all() and direct["ok"].all()
