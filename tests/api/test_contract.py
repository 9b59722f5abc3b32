"""The contract document: loaded, validated, walked, rendered."""

import copy

import pytest

from labsvc.api import (
    ContractError,
    SchemaChecker,
    catalog_backend,
    contract_vs_code,
    load_contract,
    operations,
    operations_table,
    render_contract,
    schemas_table,
    validate_contract,
)


def test_the_catalog_contract_is_openapi_3_1_with_five_operations(contract):
    assert contract["openapi"].startswith("3.1")
    keys = [op.key for op in operations(contract)]
    assert keys == ["GET /products", "POST /products", "GET /products/{sku}", "DELETE /products/{sku}",
                    "PATCH /products/{sku}"]


def test_operations_follow_references_and_merge_path_level_parameters(contract):
    get_one = next(op for op in operations(contract) if op.key == "GET /products/{sku}")
    assert [p["name"] for p in get_one.path_params] == ["sku"]
    assert get_one.responses["404"]["description"] == "no product with this SKU"
    assert "application/problem+json" in get_one.response_media("404")


def test_loading_gives_a_fresh_copy_each_time():
    a = load_contract("catalog")
    a["info"]["title"] = "changed"
    assert load_contract("catalog")["info"]["title"] == "Catalog API"


def test_unknown_contract_name_lists_the_known_ones():
    with pytest.raises(ContractError, match=r"\['catalog'\]"):
        load_contract("nope")


@pytest.mark.parametrize("break_it, message", [
    (lambda c: c.update(openapi="3.0.3"), "must be 3.1"),
    (lambda c: c["paths"]["/products/{sku}"].pop("parameters"), "path parameter 'sku' is not declared"),
    (lambda c: c["paths"]["/products"]["get"]["responses"]["200"]["content"]["application/json"]["schema"].update(
        {"$ref": "#/components/schemas/Nope"}), "points at nothing"),
    (lambda c: c["paths"]["/products"]["post"]["requestBody"]["content"]["application/json"]["example"].update(
        price=-1), "example breaks its schema at example.price"),
    (lambda c: c["components"]["schemas"]["Sku"].update(type="text"), "not a valid JSON Schema"),
    (lambda c: c["paths"]["/products"]["post"].update(operationId="listProducts"), "is used by"),
])
def test_validation_names_what_is_wrong(contract, break_it, message):
    break_it(contract)
    with pytest.raises(ContractError, match=message):
        validate_contract(contract)


def test_field_errors_name_missing_unexpected_and_invalid_fields(contract):
    checker = SchemaChecker(contract)
    ptr = "/components/schemas/Product"
    errors = checker.errors(ptr, {"sku": "bad", "name": "x", "sale_price": 3, "currency": "EUR"})
    by_kind = {(e["kind"], e["field"]) for e in errors}
    assert ("missing", "body.price") in by_kind
    assert ("unexpected", "body.sale_price") in by_kind
    assert ("pattern", "body.sku") in by_kind
    assert len([e for e in errors if e["field"] == "body.price"]) == 1


def test_tables_show_every_operation_and_field(contract):
    ops = operations_table(contract)
    assert list(ops["method"]) == ["GET", "POST", "GET", "DELETE", "PATCH"]
    assert "201 Product" in ops.loc[1, "responses"] and "Sku (string matches" in ops.loc[2, "parameters"]
    fields = schemas_table(contract)
    product = fields[fields["schema"] == "Product (closed)"]
    assert set(product["field"]) == {"sku", "name", "price", "currency"}
    assert set(product.loc[product["required"] == "yes", "field"]) == {"sku", "name", "price", "currency"}


def test_rendered_contract_is_html_with_each_path(contract):
    page = render_contract(contract)._repr_html_()
    assert "Catalog API" in page and page.count("<tr>") >= 5
    for path in ("/products", "/products/{sku}"):
        assert f"<code>{path}</code>" in page


def test_the_code_documents_the_same_operations_and_codes_as_the_contract(contract):
    table = contract_vs_code(contract, catalog_backend())
    assert table["same"].all(), table.to_dict("records")
    changed = copy.deepcopy(contract)
    changed["paths"]["/products/{sku}"].pop("delete")
    table = contract_vs_code(changed, catalog_backend())
    row = table[table["operation"] == "DELETE /products/{sku}"].iloc[0]
    assert not row["in contract"] and row["in code"]
