"""The REST API lint: each rule passes a document that keeps it and names the place that breaks it."""

import pytest
from fastapi import Response

from labsvc import Problem, create_service
from labsvc.api import (
    RULES, bad_contract, example_products, findings_table, level1_app, lint, lint_rules, load_contract,
)

PROBLEM = {"description": "problem", "content": {"application/problem+json": {"schema": {"type": "object"}}}}
OK = {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}
PAGING = [{"name": "limit", "in": "query", "schema": {"type": "integer"}},
          {"name": "offset", "in": "query", "schema": {"type": "integer"}}]


def doc(paths: dict, version: str | None = "1.0.0", servers=({"url": "http://shop.svc/v1"},)) -> dict:
    """A document around ``paths``; versioned through its server URL unless told otherwise."""
    info = {"title": "t"} | ({"version": version} if version is not None else {})
    return {"openapi": "3.1.0", "info": info, "servers": list(servers), "paths": paths}


def clean_paths() -> dict:
    return {
        "/orders": {
            "get": {"parameters": PAGING, "responses": {"200": OK, "400": PROBLEM}},
            "post": {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                     "responses": {"201": OK | {"headers": {"Location": {"schema": {"type": "string"}}}},
                                   "422": PROBLEM}},
        },
        "/orders/{id}": {
            "get": {"responses": {"200": OK, "404": PROBLEM}},
            "delete": {"responses": {"204": {"description": "gone"}, "404": PROBLEM}},
        },
        "/orders/{id}/order-items": {"get": {"parameters": PAGING, "responses": {"200": OK, "404": PROBLEM}}},
    }


def rules(document) -> list[str]:
    return lint(document)["rule"].tolist()


def test_a_clean_document_has_no_findings_and_every_rule_names_its_source():
    findings = lint(doc(clean_paths()))
    assert findings.empty and list(findings.columns) == ["rule", "severity", "where", "message", "source"]
    table = lint_rules()
    assert table["rule"].tolist() == list(RULES) and table["source"].str.len().min() > 5
    assert set(table["severity"]) == {"error", "warning"}


@pytest.mark.parametrize("path, rule, said", [
    ("/order/{id}", "naming.plural", "'order' names a collection"),
    ("/getOrders", "naming.verb-free", "'getOrders' names an action"),
    ("/orders/{id}/cancel", "naming.verb-free", "'cancel' names an action"),
    ("/Order_Items/{id}", "naming.kebab-case", "write it as 'order-items'"),
    ("/{id}", "naming.item-param", "{id} does not follow a collection"),
    ("/orders/{id}/{line}", "naming.item-param", "{line} does not follow a collection"),
])
def test_naming_rules_flag_the_segment(path, rule, said):
    paths = clean_paths() | {path: {"delete": {"responses": {"204": {"description": "gone"}, "404": PROBLEM}}}}
    findings = lint(doc(paths)).query("rule == @rule")
    assert len(findings) == 1 and findings["where"].iloc[0] == f"path {path}"
    assert said in findings["message"].iloc[0]


def test_a_path_parameter_after_its_plural_collection_and_people_pass_naming():
    paths = clean_paths() | {"/people/{id}": {"get": {"responses": {"200": OK, "404": PROBLEM}}}}
    assert rules(doc(paths)) == []


def test_get_head_and_delete_take_no_body():
    paths = clean_paths()
    paths["/orders/{id}"]["delete"]["requestBody"] = {"content": {"application/json": {"schema": {}}}}
    findings = lint(doc(paths))
    assert findings[["rule", "where"]].values.tolist() == [["method.no-body", "DELETE /orders/{id}"]]
    assert "query parameters" in findings["message"].iloc[0]


def test_a_get_that_creates_is_not_safe():
    paths = clean_paths()
    paths["/orders/{id}"]["get"]["summary"] = "Create an order"
    assert rules(doc(paths)) == ["method.safe-get"]
    paths = clean_paths()
    paths["/orders/{id}"]["get"]["responses"]["201"] = OK
    assert rules(doc(paths)) == ["method.safe-get"]


def test_post_on_a_collection_answers_201_with_a_location():
    paths = clean_paths()
    paths["/orders"]["post"]["responses"]["201"] = OK
    findings = lint(doc(paths))
    assert findings[["rule", "severity"]].values.tolist() == [["method.location", "warning"]]
    paths["/orders"]["post"]["responses"] = {"200": OK, "422": PROBLEM}
    findings = lint(doc(paths))
    assert findings["rule"].tolist() == ["method.post-201"]
    assert "its documented success is 200: answer 201 Created" in findings["message"].iloc[0]


def test_status_codes_success_client_errors_and_404_on_items():
    paths = clean_paths()
    paths["/orders"]["get"]["responses"] = {"400": PROBLEM}
    paths["/orders/{id}"]["get"]["responses"] = {"200": OK, "400": PROBLEM}
    paths["/orders"]["post"]["responses"] = {"201": paths["/orders"]["post"]["responses"]["201"]}
    findings = lint(doc(paths))
    assert findings[["rule", "where"]].values.tolist() == [
        ["status.success", "GET /orders"],
        ["status.client-error", "POST /orders"],
        ["status.client-error", "GET /orders/{id}"],
    ]
    assert "does not document 404" in findings["message"].iloc[2]


def test_an_error_inside_a_200_is_flagged():
    paths = clean_paths()
    paths["/orders/{id}"]["get"]["responses"]["200"] = {"description": "order or error", "content": {
        "application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}}
    assert lint(doc(paths))[["rule", "where"]].values.tolist() == [["status.no-error-2xx", "GET /orders/{id} → 200"]]


def test_errors_are_problem_documents_except_fastapis_generated_422():
    paths = clean_paths()
    paths["/orders/{id}"]["get"]["responses"]["404"] = {"description": "nope", "content": {"application/json": {}}}
    findings = lint(doc(paths))
    assert findings[["rule", "where"]].values.tolist() == [["problem.media-type", "GET /orders/{id} → 404"]]
    assert "documented as application/json" in findings["message"].iloc[0] and "RFC 9457" in findings["message"].iloc[0]

    generated = {"description": "Validation Error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
    paths = clean_paths()
    paths["/orders"]["post"]["responses"]["422"] = generated
    assert rules(doc(paths) | {"components": {"schemas": {"HTTPValidationError": {"type": "object"}}}}) == []


@pytest.mark.parametrize("params, said", [
    ([], "a collection answered whole"),
    (PAGING[:1], "only limit: clients cannot reach the next page; add offset or cursor"),
    ([{"name": "cursor", "in": "query"}], "only cursor"),
])
def test_collections_are_paged(params, said):
    paths = clean_paths()
    paths["/orders"]["get"]["parameters"] = params
    findings = lint(doc(paths))
    assert findings[["rule", "where"]].values.tolist() == [["paging.collection", "GET /orders"]]
    assert said in findings["message"].iloc[0]
    paths["/orders"]["get"]["parameters"] = [{"name": "limit", "in": "query"}, {"name": "cursor", "in": "query"}]
    assert rules(doc(paths)) == []


def test_versioning_needs_info_version_and_a_visible_major_version():
    assert rules(doc(clean_paths(), version=None)) == ["version.info"]
    unversioned = doc(clean_paths(), servers=[{"url": "http://shop.svc"}])
    findings = lint(unversioned)
    assert findings[["rule", "severity"]].values.tolist() == [["version.scheme", "warning"]]
    prefixed = doc({f"/v1{p}": item for p, item in clean_paths().items()}, servers=[])
    assert rules(prefixed) == []
    by_query = clean_paths()
    for item in by_query.values():
        for op in item.values():
            op["parameters"] = [*op.get("parameters", []), {"name": "api-version", "in": "query", "required": True}]
    assert rules(doc(by_query, servers=[])) == []


def test_the_catalog_contract_has_no_errors_only_two_warnings_worth_a_decision():
    findings = lint(load_contract("catalog"))
    assert findings[["rule", "where"]].values.tolist() == [["paging.collection", "GET /products"],
                                                           ["version.scheme", "paths"]]


def test_the_bad_contract_breaks_many_rules_and_apps_are_linted_through_their_document():
    findings = lint(bad_contract())
    assert len(findings) == 16 and len(set(findings["rule"])) == 12
    assert "method.safe-get" in findings["rule"].tolist() and "version.info" in findings["rule"].tolist()
    assert lint(level1_app)["rule"].tolist() == ["method.post-201", "status.client-error", "version.scheme"]


def test_findings_table_wraps_the_text_and_renders_the_same_html_twice():
    findings = lint(bad_contract())
    html = findings_table(findings, uuid="t").to_html()
    assert html == findings_table(findings, uuid="t").to_html()
    assert "white-space: normal" in html and "max-width: 520px" in html and "...</td>" not in html
    assert "'getOrders' names an action: name the resource and let the HTTP method say what happens" in html


def test_an_app_without_routes_and_a_wrong_target_are_explained():
    assert lint(lambda: create_service("empty"))["rule"].tolist() == ["doc.operations"]
    with pytest.raises(TypeError, match="lint takes an OpenAPI document"):
        lint(42)


def test_a_fastapi_app_documenting_problems_passes_all_errors():
    problem = {404: {"description": "unknown", "content": {"application/problem+json": {}}}}

    def app():
        service = create_service("shop")
        store = example_products()

        @service.get("/v1/products")
        async def products(limit: int = 20, offset: int = 0):
            return list(store.values())[offset:offset + limit]

        @service.get("/v1/products/{sku}", responses=problem)
        async def one(sku: str):
            if sku not in store:
                raise Problem(404, "Unknown product")
            return store[sku]

        @service.delete("/v1/products/{sku}", status_code=204, responses=problem)
        async def remove(sku: str):
            return Response(status_code=204)

        return service

    assert rules(app) == []


NOT_FOUND = {404: {"description": "no product with this SKU", "content": {"application/problem+json": {}}}}


def catalog_factory(*, paged: bool = True, documented: bool = True, delete: bool = True):
    """Exercise 1's catalog, with the lint's errors fixed unless told otherwise."""
    def factory():
        app = create_service("my-catalog")
        store = example_products()
        found = NOT_FOUND if documented else None

        if paged:
            @app.get("/products")
            async def list_products(limit: int = 20, offset: int = 0):
                items = list(store.values())
                return {"items": items[offset:offset + limit], "total": len(items)}
        else:
            @app.get("/products")
            async def list_all():
                return {"items": list(store.values())}

        @app.get("/products/{sku}", responses=found)
        async def get_product(sku: str):
            if sku not in store:
                raise Problem(404, "Unknown product")
            return store[sku]

        @app.post("/products", status_code=201)
        async def add_product(new: dict):
            return new

        if delete:
            @app.delete("/products/{sku}", status_code=204, responses=found)
            async def delete_product(sku: str):
                return Response(status_code=204)

        return app

    return factory


def test_lint_clean_passes_a_catalog_without_errors_and_lists_the_warnings_left():
    from labsvc.course import check

    result = check("05.lint-clean", catalog_factory())
    assert result and "method.location, version.scheme" in result.message


def test_lint_clean_fails_with_the_first_error_and_explains_placeholders():
    from labsvc.course import check

    unpaged = check("05.lint-clean", catalog_factory(paged=False))
    assert not unpaged and unpaged.message.startswith("2 errors left, e.g. status.client-error at GET /products")
    undocumented = check("05.lint-clean", catalog_factory(documented=False))
    assert not undocumented and "does not document 404" in undocumented.message
    fewer = check("05.lint-clean", catalog_factory(delete=False))
    assert not fewer and "missing: DELETE /products/{sku}" in fewer.message
    empty = check("05.lint-clean", lambda: create_service("my-catalog"))
    assert not empty and "no routes yet" in empty.message and "exercise 1" in empty.message
    assert "pass your app factory" in check("05.lint-clean", 42).message


def test_lint_clean_reports_an_app_factory_that_fails():
    from labsvc.course import check

    def broken():
        raise RuntimeError("no database")

    result = check("05.lint-clean", broken)
    assert not result and "did not run: RuntimeError: no database" in result.message
