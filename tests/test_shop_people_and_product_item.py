"""labsvc.shop.product_item and labsvc.shop.people: the services behave as notebooks 02 and 04 say."""

from __future__ import annotations

import asyncio

import pytest

from labsvc.core.errors import ConfigurationError
from labsvc.shop.people import (
    SearchIndex,
    build_people,
    directory,
    index_products,
    login,
    people_load,
    search_outage_experiment,
    search_scaling_experiment,
)
from labsvc.shop.product_item import GIFT_SET, PLANNED_SETS, PRODUCTS_ON_HAND, build_product_item, gift_set_experiment
from labsvc.core import simtime


def run(coro):
    return simtime.run(coro)


# -- Product and Item (the guide's words: a Product is a supplied good, an Item is what is sold) ----


def test_selling_a_set_from_the_shared_table_leaves_its_parts_on_the_books():
    async def scenario():
        net = build_product_item("shared", name="test-shared")
        async with net:
            c = net.client("customer")
            r = await c.post("http://store.svc/orders", json={"item_id": GIFT_SET["id"]})
            rows = {row["id"]: row for row in (await c.get("http://store.svc/products")).json()}
        return r, rows

    r, rows = run(scenario())
    assert r.status_code == 201
    assert rows[GIFT_SET["id"]]["stock"] == PLANNED_SETS - 1
    assert all(rows[i]["stock"] == PRODUCTS_ON_HAND[i] for i in GIFT_SET["components"])  # kettle, filters, mug untouched


def test_the_order_context_reserves_the_products_of_a_set_item_all_or_nothing():
    async def scenario():
        net = build_product_item("contexts", name="test-contexts")
        async with net:
            c = net.client("customer")
            set_item = (await c.get(f"http://catalog.svc/items/{GIFT_SET['id']}")).json()
            first = await c.post("http://order.svc/orders", json={"item_id": GIFT_SET["id"]})
            products = (await c.get("http://inventory.svc/products")).json()
            too_many = await c.post("http://order.svc/orders", json={"item_id": GIFT_SET["id"], "quantity": 10})
            after = (await c.get("http://inventory.svc/products")).json()
            unknown = await c.post("http://order.svc/orders", json={"item_id": 99})
            no_set_in_inventory = await c.post("http://inventory.svc/reservations",
                                               json={"products": {str(GIFT_SET["id"]): 1}})
            hops = net.calls.query("caller == 'order'")[["callee", "route"]].values.tolist()
        return set_item, first, products, too_many, after, unknown, no_set_in_inventory, hops

    set_item, first, products, too_many, after, unknown, no_set, hops = run(scenario())
    assert set_item["price"] == GIFT_SET["price"] and "stock" not in set_item  # the item: sold, priced, no stock
    assert {int(k): v for k, v in set_item["components"].items()} == GIFT_SET["components"]
    assert first.status_code == 201 and first.json()["item_id"] == GIFT_SET["id"]
    assert {int(k): v for k, v in products.items()} == {i: PRODUCTS_ON_HAND[i] - GIFT_SET["components"].get(i, 0)
                                                        for i in PRODUCTS_ON_HAND}
    assert too_many.status_code == 409 and too_many.headers["content-type"] == "application/problem+json"
    assert after == products  # nothing reserved when one product is short
    assert unknown.status_code == 404 and unknown.json()["title"] == "Unknown item"
    assert no_set.status_code == 404 and no_set.json()["title"] == "Unknown product"  # inventory has never heard of sets
    assert hops[:2] == [["catalog", "/items/{item_id}"], ["inventory", "/reservations"]]


def test_the_gift_set_experiment_audits_the_shelf():
    shared = run(gift_set_experiment("shared", orders=40, seed=1))
    contexts = run(gift_set_experiment("contexts", orders=40, seed=1))
    assert list(shared.orders["item_id"]) == list(contexts.orders["item_id"])  # same seeded orders
    s, c = shared.summary, contexts.summary
    assert s["oversold"] == s["accepted"] - s["shipped"] > 0
    assert c["oversold"] == 0 and c["phantom units"] == 0
    assert s["shipped"] == c["shipped"]  # the shelf is the same: only the books differ
    assert (shared.shelf["phantom"] >= 0).all()
    assert set(shared.shelf["product_id"]) == {1, 2, 3, 5}  # the shelf audit counts products, never the set


def test_product_item_bad_input():
    with pytest.raises(ConfigurationError, match="design='both'"):
        build_product_item("both")
    with pytest.raises(ConfigurationError, match="orders=0"):
        run(gift_set_experiment("shared", orders=0))


# -- employees, auth, search --------------------------------------------------------------------


def test_search_index_matches_every_word():
    index = SearchIndex()
    index.put("people", "1", {"name": "Kim Sora", "department": "it"})
    index.put("people", "2", {"name": "Kim Minho", "department": "sales"})
    assert [h["id"] for h in index.search("people", "kim")] == ["1", "2"]
    assert [h["id"] for h in index.search("people", "KIM it")] == ["1"]
    assert index.search("nothing", "kim") == []


def test_employee_service_checks_tokens_with_auth_and_feeds_search():
    async def scenario():
        net = build_people("service", seed=2, name="test-people")
        async with net:
            c = net.client("browser")
            hr = await login(c, "hana")
            staff = await login(c, "minjun")
            added = await c.post("http://employee.svc/employees", headers=hr,
                                 json={"name": "Park Test", "department": "it", "role": "engineer"})
            denied = await c.post("http://employee.svc/employees", headers=staff,
                                  json={"name": "X", "department": "it", "role": "engineer"})
            from labsvc.auth.jwt_tokens import TokenIssuer

            # A well-formed JWT for the right issuer and audience, signed with another secret.
            impostor = TokenIssuer("HS256", secret=b"x" * 32, issuer="labsvc-auth", audience="labsvc-people")
            bad = impostor.issue("hana", claims={"roles": ["admin"]})
            forged = await c.get("http://employee.svc/employees", headers={"authorization": f"Bearer {bad}"})
            found = (await c.get("http://search.svc/indexes/employees/search", params={"q": "park test"})).json()
            await index_products(net)
            indexes = (await c.get("http://search.svc/indexes")).json()
            missing = await c.get("http://search.svc/indexes/nope/search", params={"q": "x"})
        return added, denied, forged, found, indexes, missing

    added, denied, forged, found, indexes, missing = run(scenario())
    assert added.status_code == 201 and added.json()["indexed"] is True
    assert denied.status_code == 403
    assert forged.status_code == 401 and "bad_signature" in forged.json()["detail"]
    assert [h["name"] for h in found] == ["Park Test"]
    assert indexes == {"employees": len(directory(seed=2)) + 1, "products": 10}
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_people_load_labels_features_and_is_seeded():
    async def scenario(design):
        net = build_people(design, seed=3, name="test-people-load")
        async with net:
            return (await people_load(net, design, rate=200, requests=40, seed=3)).df

    a, b = run(scenario("embedded")), run(scenario("service"))
    assert list(a["label"]) == list(b["label"])
    assert set(a["label"]) == {"search", "list", "add"} and a["ok"].all() and b["ok"].all()


def test_a_search_outage_only_hurts_search_when_it_is_its_own_service():
    service = run(search_outage_experiment("service", rate=200, requests=60, at="0.1s", seed=1))
    embedded = run(search_outage_experiment("embedded", rate=200, requests=60, at="0.1s", seed=1))
    s = service.availability.set_index("feature")["availability"]
    e = embedded.availability.set_index("feature")["availability"]
    assert s["list"] == s["add"] == 1.0 and s["search"] < 1.0
    assert e["list"] < 1.0 and e["add"] < 1.0
    assert service.pending_index  # new employees wait to be indexed


def test_scaling_search_out_adds_capacity():
    table = run(search_scaling_experiment((1, 2), rate=300, requests=120, seed=1))
    one, two = table.set_index("instances").loc[1], table.set_index("instances").loc[2]
    assert one["utilisation"] == pytest.approx(1.2) and two["utilisation"] == pytest.approx(0.6)
    assert one["p95_ms"] > 3 * two["p95_ms"]


def test_people_bad_input():
    with pytest.raises(ConfigurationError, match="design='nope'"):
        build_people("nope")
    with pytest.raises(ConfigurationError, match="no search service to scale"):
        build_people("embedded", search_instances=2)
    with pytest.raises(ConfigurationError, match="instances"):
        run(search_scaling_experiment((0,)))

    async def bad_user():
        net = build_people("service", name="test-people-bad")
        async with net:
            await login(net.client("x"), "nobody")

    with pytest.raises(ConfigurationError, match="unknown user 'nobody'"):
        run(bad_user())
