"""The mock generated from the contract serves its examples and rejects requests that break it."""

import asyncio
import copy

import pytest

from labsvc.api import ContractError, contract_test, failures, mock_app
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime

URL = "http://catalog.svc"


def test_mock_serves_the_documented_examples(contract, serve):
    async def scenario():
        async with serve(mock_app(contract)) as net:
            c = net.client("frontend")
            return (await c.get(f"{URL}/products"), await c.get(f"{URL}/products/MUG-003"),
                    await c.post(f"{URL}/products", json={"sku": "ABC-123", "name": "x", "price": 1}),
                    await c.delete(f"{URL}/products/MUG-003"))

    listing, one, created, deleted = simtime.run(scenario())
    assert listing.status_code == 200 and listing.headers["content-type"] == "application/json"
    assert listing.json() == contract["paths"]["/products"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    assert one.json()["sku"] == "BEA-001"  # static: the example, whatever the SKU asked for
    assert created.status_code == 201 and created.headers["location"] == "/products/NEW-001"
    assert created.json() == {"sku": "NEW-001", "name": "gooseneck kettle", "price": 45.0, "currency": "EUR"}
    assert deleted.status_code == 204 and deleted.content == b""


def test_prefer_code_selects_a_documented_error_example(contract, serve):
    async def scenario():
        async with serve(mock_app(contract)) as net:
            c = net.client("frontend")
            return (await c.get(f"{URL}/products/ZZZ-999", headers={"prefer": "code=404"}),
                    await c.get(f"{URL}/products/ZZZ-999", headers={"prefer": "code=418"}))

    missing, undocumented = simtime.run(scenario())
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM_JSON
    assert missing.json()["title"] == "Unknown product" and missing.json()["instance"] == "/products/ZZZ-999"
    assert missing.headers["preference-applied"] == "code=404"
    assert undocumented.status_code == 400 and "not 418" in undocumented.json()["detail"]


def test_prefer_example_picks_a_named_example(contract, serve):
    media = contract["paths"]["/products"]["get"]["responses"]["200"]["content"]["application/json"]
    media["examples"] = {"full": {"value": media.pop("example")}, "empty": {"value": {"items": [], "total": 0}}}

    async def scenario():
        async with serve(mock_app(contract)) as net:
            c = net.client("frontend")
            return (await c.get(f"{URL}/products"), await c.get(f"{URL}/products", headers={"prefer": "example=empty"}))

    default, empty = simtime.run(scenario())
    assert default.json()["total"] == 2  # no preference: the first example
    assert empty.json() == {"items": [], "total": 0} and empty.headers["preference-applied"] == "example=empty"


@pytest.mark.parametrize("method, path, kwargs, field", [
    ("POST", "/products", {"json": {"sku": "NEW-001", "name": "kettle", "price": "forty"}}, "body.price"),
    ("POST", "/products", {"json": {"sku": "NEW-001", "name": "kettle", "price": -3}}, "body.price"),
    ("POST", "/products", {"json": {"sku": "NEW-001", "price": 3}}, "body.name"),
    ("POST", "/products", {"json": {"sku": "NEW-001", "name": "k", "price": 3, "cost_price": 1}}, "body.cost_price"),
    ("POST", "/products", {"json": {"sku": "new1", "name": "kettle", "price": 3}}, "body.sku"),
    ("POST", "/products", {}, "body"),
    ("GET", "/products", {"params": {"limit": 0}}, "query.limit"),
    ("GET", "/products", {"params": {"limit": "many"}}, "query.limit"),
    ("GET", "/products/bea-1", {}, "path.sku"),
    ("PATCH", "/products/BEA-001", {"json": {"price": 10001}}, "body.price"),
])
def test_mock_rejects_requests_that_break_the_contract_with_422_naming_the_field(contract, serve, method, path, kwargs, field):
    async def scenario():
        async with serve(mock_app(contract)) as net:
            return await net.client("frontend").request(method, URL + path, **kwargs)

    r = simtime.run(scenario())
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON
    doc = r.json()
    assert doc["status"] == 422 and doc["type"] == "urn:labsvc:problem:validation-error"
    assert field in [e["field"] for e in doc["errors"]], doc
    assert field in doc["detail"]


def test_mock_answers_paths_and_methods_outside_the_contract_with_problems(contract, serve):
    async def scenario():
        async with serve(mock_app(contract)) as net:
            c = net.client("frontend")
            return (await c.get(f"{URL}/orders"), await c.put(f"{URL}/products", json={}),
                    await c.post(f"{URL}/products", content="sku=NEW-001", headers={"content-type": "text/plain"}))

    unknown, wrong_method, wrong_type = simtime.run(scenario())
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM_JSON
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET, POST"
    assert wrong_method.json()["status"] == 405 and "PUT /products" in wrong_method.json()["detail"]
    assert wrong_type.status_code == 415 and wrong_type.headers["content-type"] == PROBLEM_JSON


def test_mock_documents_the_contract_itself(contract, serve):
    async def scenario():
        async with serve(mock_app(contract)) as net:
            return await net.client("frontend").get(f"{URL}/openapi.json")

    assert simtime.run(scenario()).json() == contract


def test_the_mock_passes_the_contract_test(contract):
    report = simtime.run(contract_test(contract, mock_app(contract)))
    assert len(report) > 50 and failures(report).empty, failures(report).to_dict("records")


def test_the_mock_refuses_a_contract_whose_examples_break_it(contract):
    broken = copy.deepcopy(contract)
    broken["paths"]["/products/{sku}"]["get"]["responses"]["200"]["content"]["application/json"]["example"]["price"] = "14"
    with pytest.raises(ContractError, match="example.price"):
        mock_app(broken)


def test_mock_log_records_what_was_served(contract, serve):
    app = mock_app(contract)

    async def scenario():
        async with serve(app) as net:
            await net.client("frontend").get(f"{URL}/products")
            await net.client("frontend").get(f"{URL}/products/ZZZ-999", headers={"prefer": "code=404"})
            return net.calls

    calls = simtime.run(scenario())
    assert [(e["operation"], e["status"]) for e in app.state.mock_log] == [("GET /products", 200), ("GET /products/{sku}", 404)]
    assert list(calls["route"]) == ["/products", "/products/{sku}"]  # the call log names the contract's templates
