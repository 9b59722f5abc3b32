"""The maturity checker finds levels 0 to 3 in the four example APIs, and says why."""

import pytest
from fastapi import Response

from labsvc.api import (
    EXAMPLE_APIS,
    catalog_backend,
    level0_app,
    level1_app,
    level2_app,
    level3_app,
    maturity_table,
    plot_maturity,
    rest_maturity,
)
from labsvc.core.service import create_service


@pytest.mark.parametrize("factory, level", [(level0_app, 0), (level1_app, 1), (level2_app, 2), (level3_app, 3)])
def test_each_example_api_reaches_its_level(factory, level):
    assert rest_maturity(factory).level == level


def test_the_reasons_explain_where_each_example_stops():
    m0, m1, m2, m3 = (rest_maturity(f) for f in (level0_app, level1_app, level2_app, level3_app))
    assert "one URI (/api) carries every call" in m0.reasons["resources"]
    assert m1.criteria["resources"] and "no GET" in m1.reasons["verbs"] and not m1.criteria["status codes"]
    assert m2.criteria == {"resources": True, "verbs": True, "status codes": True, "hypermedia": False}
    assert "404 observed" in m2.reasons["status codes"] and "201" in m2.reasons["status codes"]
    assert m3.reasons["hypermedia"] == "answers carry links (seen in responses)"
    assert m3.why == "all four criteria hold"


def test_the_probe_uses_only_safe_gets_on_a_real_item_and_a_missing_one():
    obs = rest_maturity(level2_app).observations
    assert list(obs["request"]) == ["GET /products", "GET /products/BEA-001", "GET /products/ZZZ-999"]
    assert list(obs["status"]) == [200, 200, 404]


def test_the_table_has_one_row_per_api_and_a_plot():
    table = maturity_table(EXAMPLE_APIS)
    assert list(table["level"]) == [0, 1, 2, 3]
    assert list(table.columns) == ["api", "level", "resources", "verbs", "status codes", "hypermedia", "why"]
    fig = plot_maturity(table)
    assert len(fig.axes[0].patches) == 4


def test_the_catalog_contract_and_backend_are_level_two(contract):
    assert rest_maturity(contract).level == 2  # a contract is read, not probed
    backend = rest_maturity(catalog_backend)
    assert backend.level == 2 and 404 in set(backend.observations["status"])


def test_uris_that_name_actions_are_level_zero():
    def app():
        api = create_service("verby")

        @api.get("/getProduct")
        async def get_product(sku: str) -> dict:
            return {}

        @api.post("/createProduct")
        async def create_product() -> dict:
            return {}

        return api

    m = rest_maturity(app)
    assert m.level == 0 and "createProduct, getProduct" in m.reasons["resources"]


def test_an_error_hidden_in_a_200_keeps_an_api_below_level_two():
    def app():
        api = create_service("hides-errors")
        store = {"BEA-001": {"sku": "BEA-001"}}

        @api.get("/products")
        async def products() -> list:
            return list(store.values())

        @api.get("/products/{sku}", responses={404: {"description": "documented, never sent"}})
        async def product(sku: str) -> dict:
            return store.get(sku) or {"error": "not found"}

        @api.delete("/products/{sku}", status_code=204)
        async def delete(sku: str) -> Response:
            return Response(status_code=204)

        return api

    m = rest_maturity(app)
    assert m.level == 1 and "GET /products/ZZZ-999 answered 200" in m.reasons["status codes"]
    assert rest_maturity(app, probe=False).level == 2  # documentation alone would have believed it


def test_only_contracts_and_apps_are_accepted():
    with pytest.raises(TypeError, match="OpenAPI contract"):
        rest_maturity(42)
