"""Notebook 05 runs the API-first process it describes, and its exercise solutions pass their checks."""

import pytest

pytestmark = pytest.mark.slow
# tb: notebooks/05_api_first.ipynb after two passes in one kernel (tests/notebooks/conftest.py)


def test_the_contract_is_rendered_with_every_operation(tb):
    assert tb.value("len(render_contract(contract).operations)") == 5
    page = tb.value("render_contract(contract)._repr_html_()")
    assert "<code>/products/{sku}</code>" in page and "Catalog API" in page


def test_the_mock_serves_examples_and_rejects_a_bad_price(tb):
    assert tb.value("r.status_code") == 200 and tb.value("r.json()['total']") == 2
    assert tb.value("bad.status_code") == 422
    assert tb.value("bad.headers['content-type']") == "application/problem+json"
    assert [e["field"] for e in tb.value("bad.json()['errors']")] == ["body.price"]
    assert tb.value("mock_test['ok'].tolist()") == [True] * 5
    assert tb.value("mock_test['status'].tolist()") == [200, 200, 201, 422, 404]


def test_the_backend_hides_internal_fields_and_answers_problems(tb):
    hidden = tb.value("sorted(dto_exposure().query('not `in the API`')['column'])")
    assert hidden == ["cost_price", "created_at", "id", "supplier_code"]
    assert set(tb.ref("product")) == {"sku", "name", "price", "currency"}
    assert tb.value("[r.status_code for r in errors.values()]") == [422, 404, 405]
    assert set(tb.value("[r.headers['content-type'] for r in errors.values()]")) == {"application/problem+json"}
    assert tb.value("bool(integration['ok'].all())") is True
    assert tb.value("bool(contract_vs_code(contract, catalog_backend())['same'].all())") is True


def test_the_contract_test_passes_the_backend_and_catches_every_deviation(tb):
    assert tb.value("bool(report['ok'].all())") is True and tb.value("len(report)") >= 70
    table = tb.value("outcome.pivot(index='backend', columns='result', values='checks').to_dict('index')")
    assert table["real backend"]["failed"] == 0
    for deviation in ("renamed-field", "wrong-status", "leaky-dto", "plain-errors"):
        assert table[deviation]["failed"] > 0, deviation
    assert table["wrong-status"]["failed"] == 1
    actual = set(tb.value("failures(reports['renamed-field'])['actual'].tolist()"))
    assert {"missing body.price", "body.sale_price"} <= actual


def test_the_maturity_table_finds_levels_zero_to_three(tb):
    assert tb.value("maturity['level'].tolist()") == [0, 1, 2, 3, 2, 2]
    assert tb.value("rest_maturity(level2_app).observations['status'].tolist()") == [200, 200, 404]


def test_the_rest_lint_reviews_a_bad_api_and_the_catalog_contract(tb):
    assert tb.value("len(lint_rules())") == 16
    assert tb.value("len(review)") == 16 and tb.value("review['rule'].nunique()") == 12
    flagged = tb.value("review[['rule', 'where']].values.tolist()")
    assert ["naming.verb-free", "path /getOrders"] in flagged and ["method.safe-get", "GET /orders/{id}/cancel"] in flagged
    assert ["problem.media-type", "POST /order_items → 400"] in flagged and ["version.info", "info"] in flagged
    assert tb.value("catalog_review[['rule', 'severity', 'where']].values.tolist()") == [
        ["paging.collection", "error", "GET /products"], ["version.scheme", "warning", "paths"]]
    assert "add offset or cursor" in tb.value("catalog_review['message'].iloc[0]")


def test_the_service_started_without_configuration_and_behind_the_proxy(tb):
    zero = tb.value("zero.set_index('observation')['value'].to_dict()")
    assert zero["environment variables given"] == "0 (env={})"
    assert zero["GET /health"].startswith("200") and zero["GET /products?limit=3"].startswith("200")
    assert tb.value("url").endswith("/docs") and "/proxy/" in tb.value("url")
    assert tb.value("proxied['status'].tolist()") == [200, 200]
    assert tb.value("proxied['browser asks for'].tolist()") == [tb.ref("url"), tb.ref("url").replace("/docs", "/openapi.json")]


def test_the_starting_exercise_cells_are_not_yet_right(tb):
    assert tb.value("bool(check('05.level-2', my_catalog))") is False
    assert tb.value("bool(check('05.fix-deviation', MyProduct))") is False
    assert tb.value("bool(check('05.leaked-fields', ...))") is False
    assert tb.value("lint(my_catalog)['rule'].tolist()") == ["doc.operations"]
    assert "no routes yet" in tb.value("check('05.lint-clean', my_clean_catalog).message")


def test_solutions_pass_their_checks(tb):
    tb.inject("await front.start()")  # the last cell stopped the networks
    tb.inject("""
        def my_catalog():
            app = create_service("my-catalog")
            store = example_products()

            @app.get("/products")
            async def list_products():
                return {"items": list(store.values())}

            @app.get("/products/{sku}")
            async def get_product(sku: str):
                if sku not in store:
                    raise Problem(404, "Unknown product", detail=f"there is no product with SKU {sku}")
                return store[sku]

            @app.post("/products", status_code=201)
            async def add_product(new: NewProduct):
                store[new.sku] = new.model_dump()
                return store[new.sku]

            @app.delete("/products/{sku}", status_code=204)
            async def delete_product(sku: str):
                if store.pop(sku, None) is None:
                    raise Problem(404, "Unknown product", detail=f"there is no product with SKU {sku}")
                return Response(status_code=204)

            return app

        ok1 = bool(check("05.level-2", my_catalog))
        wrong1 = bool(check("05.level-2", level1_app))

        class MyProduct(BaseModel):
            model_config = ConfigDict(from_attributes=True)

            sku: str
            name: str
            price: float
            currency: str = "EUR"

        ok2 = bool(check("05.fix-deviation", MyProduct))

        leaky = await contract_test(contract, deviating_backend_app("leaky-dto"))
        rows = failures(leaky).query("check == 'undocumented fields'")
        answer3 = {field.split(".")[-1] for actual in rows["actual"] for field in actual.split(", ")}
        ok3 = bool(check("05.leaked-fields", answer3))
        wrong3 = bool(check("05.leaked-fields", {"id"}))

        body = {"sku": "NEW-001", "name": "kettle", "price": 0}
        r4 = await client.post("http://catalog.svc/products", json=body)
        ok4 = bool(check("05.mock-rejects", body))
        wrong4 = bool(check("05.mock-rejects", {"sku": "NEW-001", "name": "kettle", "price": "0"}))
    """)
    assert tb.ref("ok1") is True and tb.ref("wrong1") is False
    assert tb.ref("ok2") is True
    assert sorted(tb.ref("answer3")) == ["cost_price", "id", "supplier_code"]
    assert tb.ref("ok3") is True and tb.ref("wrong3") is False
    assert tb.value("r4.status_code") == 422 and tb.ref("ok4") is True and tb.ref("wrong4") is False
    tb.inject("""
        wrong5 = bool(check("05.lint-clean", my_catalog))
        first_review = lint(my_catalog)

        NOT_FOUND = {404: {"description": "no product with this SKU", "content": {"application/problem+json": {}}}}
        CREATED = {201: {"headers": {"Location": {"description": "path of the new product",
                                                  "schema": {"type": "string"}}}}}

        def my_clean_catalog():
            app = create_service("my-catalog")
            store = example_products()

            @app.get("/products")
            async def list_products(limit: int = 20, offset: int = 0):
                items = list(store.values())
                return {"items": items[offset:offset + limit], "total": len(items)}

            @app.get("/products/{sku}", responses=NOT_FOUND)
            async def get_product(sku: str):
                if sku not in store:
                    raise Problem(404, "Unknown product", detail=f"there is no product with SKU {sku}")
                return store[sku]

            @app.post("/products", status_code=201, responses=CREATED)
            async def add_product(new: NewProduct, response: Response):
                store[new.sku] = new.model_dump()
                response.headers["Location"] = f"/products/{new.sku}"
                return store[new.sku]

            @app.delete("/products/{sku}", status_code=204, responses=NOT_FOUND)
            async def delete_product(sku: str):
                if store.pop(sku, None) is None:
                    raise Problem(404, "Unknown product", detail=f"there is no product with SKU {sku}")
                return Response(status_code=204)

            return app

        clean_review = lint(my_clean_catalog)
        ok5 = check("05.lint-clean", my_clean_catalog)
    """)
    assert tb.ref("wrong5") is False
    assert tb.value("sorted(set(first_review[first_review['severity'] == 'error']['rule']))") == [
        "paging.collection", "status.client-error"]
    assert tb.value("clean_review['rule'].tolist()") == ["version.scheme"]
    assert tb.value("bool(ok5)") is True and "version.scheme" in tb.value("ok5.message")
    tb.inject("await front.stop()")


def test_the_maturity_prediction_is_judged_against_the_measured_level(tb):
    tb.inject("""
        from labsvc.course.predictions import forget
        forget("05.predict-maturity")
        none_made = check("05.predict-maturity", maturity)
        predict("05.predict-maturity", level=3)
        too_high = check("05.predict-maturity", maturity)
        predict("05.predict-maturity", level=2.5)
        not_a_level = check("05.predict-maturity", maturity)
        predict("05.predict-maturity", percent=2)
        wrong_unit = check("05.predict-maturity", maturity)
        predict("05.predict-maturity", level=2)
        right = check("05.predict-maturity", maturity)
        no_table = check("05.predict-maturity", rest_maturity(level2_app))
        forget("05.predict-maturity")
    """)
    assert tb.value("int(maturity.set_index('api').loc['catalog backend', 'level'])") == 2
    assert tb.value("bool(none_made)") is False and "no prediction was made" in tb.value("none_made.message")
    too_high = tb.value("too_high.message")
    assert tb.value("bool(too_high)") is False and "gave 2" in too_high and "hypermedia" in too_high
    assert tb.value("bool(not_a_level)") is False and "whole number from 0 to 3" in tb.value("not_a_level.message")
    assert tb.value("bool(wrong_unit)") is False and "asks for level" in tb.value("wrong_unit.message")
    assert tb.value("bool(right)") is True, tb.value("right.message")
    assert tb.value("bool(no_table)") is False and "maturity table" in tb.value("no_table.message")


def test_every_exercise_runs_again_after_run_all(exercise_replay):
    # last in this file: it runs every exercise (placeholder, then solution) in the notebook's kernel after Run All
    assert not exercise_replay, "\n".join(exercise_replay)
