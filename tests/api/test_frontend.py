"""The front end's mock test passes against the mock, then unchanged against the backend."""

import asyncio

import pytest

from labsvc.api import Storefront, catalog_backend, deviating_backend_app, frontend_test, mock_app
from labsvc.core import simtime

URL = "http://catalog.svc"


def run_frontend(app, serve, times=1):
    async def scenario():
        async with serve(app) as net:
            return [await frontend_test(net.client("storefront"), URL) for _ in range(times)]

    return simtime.run(scenario())


def test_the_front_end_passes_against_the_mock_before_any_backend_exists(contract, serve):
    (result,) = run_frontend(mock_app(contract), serve)
    assert result["ok"].all(), result.to_dict("records")
    assert list(result["status"]) == [200, 200, 201, 422, 404]
    assert "espresso beans (BEA-001): 14.00 EUR" in result.loc[0, "shows"]


def test_the_same_front_end_passes_against_the_backend_and_can_run_again(serve):
    first, second = run_frontend(catalog_backend, serve, times=2)
    assert first["ok"].all() and second["ok"].all()
    assert "NEW-001" in first.loc[2, "shows"] and "NEW-002" in second.loc[2, "shows"]


def test_a_backend_that_breaks_the_contract_breaks_the_front_end(serve):
    with pytest.raises(KeyError, match="price"):  # the storefront reads the field the contract promised
        run_frontend(deviating_backend_app("renamed-field"), serve)


def test_cards_read_the_contract_fields():
    assert Storefront.card({"sku": "MUG-003", "name": "mug", "price": 9.5, "currency": "EUR"}) == "mug (MUG-003): 9.50 EUR"
