"""Notebook 05's checkers recompute the truth by running the learner's answer."""

from fastapi import Response
from pydantic import BaseModel, ConfigDict

from labsvc import Problem, create_service
from labsvc.api import LeakyProduct, Product, RenamedPriceProduct, example_products, level1_app, level2_app
from labsvc.course import check


def test_level_two_accepts_a_level_two_app_of_the_learner():
    def mine():
        app = create_service("mine")
        store = example_products()

        @app.get("/products")
        async def all_products():
            return list(store.values())

        @app.get("/products/{sku}")
        async def one(sku: str):
            if sku not in store:
                raise Problem(404, "Unknown product")
            return store[sku]

        @app.post("/products", status_code=201)
        async def add(p: dict):
            return p

        @app.delete("/products/{sku}", status_code=204)
        async def remove(sku: str):
            return Response(status_code=204)

        return app

    assert check("05.level-2", mine)


def test_level_two_refuses_level_one_the_examples_and_other_resources():
    assert not check("05.level-2", level1_app)
    assert "example APIs" in check("05.level-2", level2_app).message

    def orders():
        app = create_service("orders")

        @app.get("/orders/{oid}", responses={404: {"description": "unknown order"}})
        async def one(oid: str):
            raise Problem(404, "Unknown order")

        @app.post("/orders", status_code=201)
        async def add():
            return {}

        return app

    result = check("05.level-2", orders)
    assert not result and "keep the products resource" in result.message
    assert "pass your app factory" in check("05.level-2", 42).message


def test_fix_deviation_runs_the_contract_test_with_the_learners_dto():
    assert check("05.fix-deviation", Product)
    renamed = check("05.fix-deviation", RenamedPriceProduct)
    assert not renamed and "8 checks still fail" in renamed.message
    assert not check("05.fix-deviation", LeakyProduct)

    class NoAttributes(BaseModel):
        sku: str

    assert "from_attributes" in check("05.fix-deviation", NoAttributes).message
    assert "DTO class" in check("05.fix-deviation", "price").message


def test_leaked_fields_are_the_ones_the_leaky_backend_sends():
    assert check("05.leaked-fields", {"id", "cost_price", "supplier_code"})
    assert "more" in check("05.leaked-fields", {"id"}).message
    assert not check("05.leaked-fields", {"id", "cost_price", "supplier_code", "name"})


def test_mock_rejects_needs_a_numeric_price_out_of_range():
    assert check("05.mock-rejects", {"sku": "NEW-001", "name": "kettle", "price": 10_001})
    assert check("05.mock-rejects", {"sku": "NEW-001", "name": "kettle", "price": -1})
    assert "accepted" in check("05.mock-rejects", {"sku": "NEW-001", "name": "kettle", "price": 5}).message
    assert "make price a number" in check("05.mock-rejects", {"sku": "NEW-001", "name": "k", "price": "x"}).message
    assert "keep sku and name valid" in check("05.mock-rejects", {"sku": "bad", "name": "kettle", "price": 0}).message


def test_model_config_is_what_the_backend_needs():
    class Mine(BaseModel):
        model_config = ConfigDict(from_attributes=True)
        sku: str
        name: str
        price: float
        currency: str = "EUR"

    assert check("05.fix-deviation", Mine)
