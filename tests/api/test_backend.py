"""The catalog backend: DTOs hide internal fields, errors are problem documents, each instance owns its database."""

import asyncio
import os
from pathlib import Path

import pytest

from labsvc import ConfigurationError
from labsvc.api import (
    DEMO_PRODUCTS,
    CatalogSettings,
    LeakyProduct,
    Product,
    catalog_backend,
    deviating_backend_app,
    dto_exposure,
    settings_table,
)
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime

URL = "http://catalog.svc"
INTERNAL = {"id", "cost_price", "supplier_code", "created_at"}


def test_responses_carry_the_public_sku_and_sale_price_and_nothing_internal(serve):
    async def scenario():
        async with serve(catalog_backend) as net:
            c = net.client("web")
            return (await c.get(f"{URL}/products/BEA-001"), await c.get(f"{URL}/products"),
                    await c.post(f"{URL}/products", json={"sku": "NEW-001", "name": "kettle", "price": 45}))

    one, page, created = simtime.run(scenario())
    assert one.json() == {"sku": "BEA-001", "name": "espresso beans", "price": 14.0, "currency": "EUR"}
    assert page.json()["total"] == len(DEMO_PRODUCTS)
    for body in [one.json(), created.json(), *page.json()["items"]]:
        assert set(body) == {"sku", "name", "price", "currency"}
        assert not INTERNAL & set(body)
    assert created.status_code == 201 and created.headers["location"] == "/products/NEW-001"


def test_the_dto_table_says_which_columns_stay_inside():
    table = dto_exposure().set_index("column")
    assert set(table.index[~table["in the API"]]) == INTERNAL
    assert set(table.index[table["in the API"]]) == {"sku", "name", "price", "(none)"}
    assert table.loc["(none)", "API name"] == "currency"  # a constant of the API, not a column
    assert table.loc["cost_price", "why hidden"] == "business secret (margin)"
    leaky = dto_exposure(dto=LeakyProduct).set_index("column")
    assert leaky.loc["cost_price", "in the API"] and leaky.loc["id", "in the API"]


@pytest.mark.parametrize("method, path, body, field", [
    ("POST", "/products", {"sku": "NEW-001", "name": "kettle", "price": "free"}, "body.price"),
    ("POST", "/products", {"sku": "NEW-001", "name": "kettle", "price": 0}, "body.price"),
    ("POST", "/products", {"sku": "NEW-001", "name": "kettle", "price": 5, "cost_price": 1}, "body.cost_price"),
    ("POST", "/products", {"sku": "new-1", "name": "kettle", "price": 5}, "body.sku"),
    ("PATCH", "/products/BEA-001", {"price": -1}, "body.price"),
    ("GET", "/products?limit=500", None, "query.limit"),
    ("GET", "/products/beans", None, "path.sku"),
])
def test_invalid_input_is_a_422_problem_naming_the_field(serve, method, path, body, field):
    async def scenario():
        async with serve(catalog_backend) as net:
            return await net.client("web").request(method, URL + path, json=body)

    r = simtime.run(scenario())
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON
    assert field in [e["field"] for e in r.json()["errors"]] and r.json()["status"] == 422


@pytest.mark.parametrize("method, body", [("GET", None), ("PATCH", {"price": 3}), ("DELETE", None)])
def test_an_unknown_product_is_a_404_problem(serve, method, body):
    async def scenario():
        async with serve(catalog_backend) as net:
            return await net.client("web").request(method, f"{URL}/products/ZZZ-999", json=body)

    r = simtime.run(scenario())
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json() == {"type": "urn:labsvc:problem:unknown-product", "title": "Unknown product", "status": 404,
                        "detail": "there is no product with SKU ZZZ-999", "instance": "/products/ZZZ-999"}


def test_create_change_delete_and_duplicate(serve):
    async def scenario():
        async with serve(catalog_backend) as net:
            c = net.client("web")
            new = {"sku": "NEW-001", "name": "kettle", "price": 45}
            out = [await c.post(f"{URL}/products", json=new), await c.post(f"{URL}/products", json=new),
                   await c.patch(f"{URL}/products/NEW-001", json={"price": 40}),
                   await c.get(f"{URL}/products", params={"max_price": 9.5}),
                   await c.delete(f"{URL}/products/NEW-001"), await c.get(f"{URL}/products/NEW-001")]
            return out

    created, duplicate, changed, cheap, deleted, gone = simtime.run(scenario())
    assert created.status_code == 201
    assert duplicate.status_code == 409 and duplicate.json()["title"] == "Product exists"
    assert changed.json()["price"] == 40
    assert [p["sku"] for p in cheap.json()["items"]] == ["FIL-005", "MUG-003", "NOT-010"] and cheap.json()["total"] == 3
    assert deleted.status_code == 204 and deleted.content == b""
    assert gone.status_code == 404


def test_each_instance_owns_its_database(serve):
    async def scenario():
        async with serve(catalog_backend, instances=2) as net:
            c = net.client("web")
            await c.post("http://catalog-1.svc/products", json={"sku": "ONE-001", "name": "only on 1", "price": 1})
            return (await c.get("http://catalog-1.svc/products/ONE-001"), await c.get("http://catalog-2.svc/products/ONE-001"))

    on_one, on_two = simtime.run(scenario())
    assert on_one.status_code == 200 and on_two.status_code == 404


def test_even_one_app_object_run_twice_gets_two_databases(serve):
    app = catalog_backend()  # one object, shared: each lifespan run opens its own database

    async def scenario():
        async with serve(app) as a:
            await a.client("web").delete(f"{URL}/products/BEA-001")
            async with serve(app, service="other") as b:
                return (await a.client("web").get(f"{URL}/products/BEA-001"),
                        await b.client("web").get("http://other.svc/products/BEA-001"))

    in_a, in_b = simtime.run(scenario())
    assert in_a.status_code == 404 and in_b.status_code == 200


def test_file_database_is_created_at_start_and_removed_at_shutdown(serve, tmp_path):
    seen = {}

    async def scenario():
        async with serve(lambda: catalog_backend(CatalogSettings(database="file"))) as net:
            inst = net.instance("catalog-1")
            db = inst.lifespan.state["catalog_db"]
            seen["path"] = Path(db.url.removeprefix("sqlite:///"))
            seen["existed"] = seen["path"].is_file()
            seen["products"] = (await net.client("web").get(f"{URL}/products")).json()["total"]

    simtime.run(scenario())
    assert seen["existed"] and seen["products"] == len(DEMO_PRODUCTS)
    assert not seen["path"].exists() and not seen["path"].parent.exists()


def test_any_sqlalchemy_url_works_the_same(serve, tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"

    async def scenario():
        async with serve(lambda: catalog_backend(CatalogSettings(database=url))) as net:
            await net.client("web").delete(f"{URL}/products/BEA-001")
        async with serve(lambda: catalog_backend(CatalogSettings(database=url))) as net:  # a restart keeps the data
            return await net.client("web").get(f"{URL}/products")

    page = simtime.run(scenario()).json()
    assert page["total"] == len(DEMO_PRODUCTS) - 1 and (tmp_path / "catalog.db").is_file()


def test_settings_have_defaults_and_environment_overrides():
    assert CatalogSettings.from_env({}) == CatalogSettings() == CatalogSettings("memory", True, "")
    env = {"CATALOG_DATABASE": "file", "CATALOG_DEMO_DATA": "false", "CATALOG_ROOT_PATH": "/proxy/8000"}
    assert CatalogSettings.from_env(env) == CatalogSettings("file", False, "/proxy/8000")
    table = settings_table(environ=env).set_index("setting")
    assert table.loc["database", "default"] == "memory" and table.loc["database", "in effect"] == "file"
    assert table.loc["demo_data", "environment variable"] == "CATALOG_DEMO_DATA"


@pytest.mark.parametrize("env, message", [
    ({"CATALOG_DEMO_DATA": "maybe"}, "use true or false"),
    ({"CATALOG_DATABASE": "postgres"}, "SQLAlchemy URL"),
    ({"CATALOG_ROOT_PATH": "proxy/8000"}, "must start with '/'"),
])
def test_bad_settings_say_how_to_fix_them(env, message):
    with pytest.raises(ConfigurationError, match=message):
        CatalogSettings.from_env(env)


def test_without_demo_data_the_catalog_starts_empty(serve):
    async def scenario():
        async with serve(lambda: catalog_backend(CatalogSettings(demo_data=False))) as net:
            return await net.client("web").get(f"{URL}/products")

    assert simtime.run(scenario()).json() == {"items": [], "total": 0}


def test_a_root_path_setting_prefixes_the_docs(serve):
    async def scenario():
        async with serve(lambda: catalog_backend(CatalogSettings(root_path="/proxy/8123"))) as net:
            c = net.client("browser")
            return await c.get(f"{URL}/docs"), await c.get(f"{URL}/products/BEA-001")

    docs, product = simtime.run(scenario())
    assert "url: '/proxy/8123/openapi.json'" in docs.text and product.status_code == 200


def test_plain_errors_deviation_answers_fastapi_defaults(serve):
    async def scenario():
        async with serve(deviating_backend_app("plain-errors")) as net:
            return await net.client("web").get(f"{URL}/products/ZZZ-999")

    r = simtime.run(scenario())
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert r.json() == {"detail": "there is no product with SKU ZZZ-999"}


def test_unknown_deviation_lists_the_known_ones():
    with pytest.raises(ConfigurationError, match="leaky-dto"):
        deviating_backend_app("nope")


def test_the_public_dto_schema_is_closed_like_the_contract():
    assert Product.model_json_schema()["additionalProperties"] is False
    assert os.environ.get("CATALOG_DATABASE") is None  # the suite itself runs without configuration
