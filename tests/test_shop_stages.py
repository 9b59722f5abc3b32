"""One shop through the course: each notebook's starting state, read from the code that runs it."""

import pytest

from labsvc.capstone import REGISTERED, RESILIENCE_OFF, RESILIENCE_ON, OrderSystem
from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError
from labsvc.shop import STAGES, after, at
from labsvc.shop.stages import NOTEBOOKS


def test_each_notebook_starts_with_what_the_notebooks_before_it_built():
    assert NOTEBOOKS == tuple(f"nb{n:02d}" for n in range(2, 15))
    for i, notebook in enumerate(NOTEBOOKS):
        state = at(notebook)
        assert [s.notebook for s in state.built] == list(NOTEBOOKS[:i])
        assert state.next.notebook == notebook
        assert after(notebook).built == state.built + (state.next,)
    assert after("nb14").next is None and "after notebook 14" in after("nb14").title


def test_services_appear_in_the_notebook_that_adds_them():
    assert at("nb04").services == []
    assert at("nb05").services == ["catalog", "inventory", "orders", "payment", "delivery"]
    assert "history" in at("nb07").services and "broker" not in at("nb07").services
    assert at("nb10").services[-2:] == ["broker", "gateway"]


def test_an_aspect_not_built_yet_is_refused_saying_which_notebook_adds_it():
    with pytest.raises(ConfigurationError, match="notebook 09 adds it.*after\\('nb09'\\)"):
        at("nb09").detail("gateway")
    with pytest.raises(ConfigurationError, match="not one of"):
        at("nb09").has("gateways")
    with pytest.raises(ConfigurationError, match="nb02..nb14"):
        at("nb15")
    with pytest.raises(ConfigurationError, match="until notebook 04"):
        at("nb04").system()


def test_details_come_from_the_running_code():
    shop = after("nb14")
    api = shop.detail("api")
    assert {("POST", "/orders"), ("GET", "/orders/{order_id}")} <= set(zip(api.query("service == 'orders'")["method"],
                                                                          api.query("service == 'orders'")["path"]))
    assert shop.detail("data").loc["inventory", "tables"] == "reservations, stock"
    assert shop.detail("events")["group"].tolist() == ["order-history", "delivery"]
    discovery = shop.detail("discovery")
    assert discovery.loc["catalog", "instances"] == 2
    assert sorted(discovery.index[discovery["registered"]]) == sorted(REGISTERED)
    assert shop.detail("gateway")["prefix"].tolist() == ["/catalog", "/history", "/orders"]
    assert shop.detail("resilience").loc["retries"].tolist() == [str(RESILIENCE_OFF.retries), str(RESILIENCE_ON.retries)]
    assert "catalog" in shop.detail("deployment").index and len(shop.detail("chaos")) == 5
    assert set(shop.detail("contexts")["context"]) >= {"catalog", "inventory", "order", "delivery"}
    assert shop.detail("modules").loc["order", "modules"] == 6


def test_the_system_of_each_stage_switches_on_what_the_stage_has():
    early, late = at("nb07").system(name="stages-early"), after("nb14").system(name="stages-late")
    assert isinstance(early, OrderSystem) and isinstance(late, OrderSystem)
    assert early.resilience == RESILIENCE_OFF and late.resilience == RESILIENCE_ON
    assert len(early.net.service("catalog").instances) == 1 and len(late.net.service("catalog").instances) == 2
    assert early.net.instrumentation is None and late.net.instrumentation is not None
    assert at("nb09").system(name="stages-options", catalog_instances=3).net.service("catalog").instances[2]


def test_merging_and_splitting_change_the_units_and_the_system_built():
    shop = after("nb14").merge("orders", "history")
    assert ("orders", "history") in shop.units and "merged: orders + history" in shop.title
    assert shop.detail("services").loc["history", "unit"] == "orders + history"
    system = shop.system(name="stages-merged")
    assert "history" not in system.net.services and system.net.service("history").name == "orders"
    assert shop.split("history").units == after("nb14").units
    with pytest.raises(ConfigurationError, match="not merged"):
        shop.split("delivery")
    with pytest.raises(ConfigurationError, match="two merge groups"):
        shop.merge("history", "delivery")


def test_the_summary_shows_one_line_per_notebook_and_what_comes_next():
    text = repr(at("nb08"))
    assert text.splitlines()[0] == "The shop at the start of notebook 08"
    assert "nb07 events" in text and "This notebook adds: a registry" in text
    html = at("nb08")._repr_html_()
    assert html.count("<tr>") == 1 + 6 and "This notebook adds" in html
    assert "nothing yet" in repr(at("nb02"))


def test_the_reference_system_runs_at_every_stage_that_has_services():
    async def main():
        served = {}
        for notebook in ("nb05", "nb10", "nb12"):
            async with at(notebook).system(name=f"stages-run-{notebook}") as system:
                r = await system.net.client("users").post(
                    "http://gateway.svc/orders/orders", json={"customer_id": 1, "product_id": 1, "quantity": 1})
                served[notebook] = r.json()["status"]
        return served

    assert simtime.run(main()) == {"nb05": "APPROVED", "nb10": "APPROVED", "nb12": "APPROVED"}


def test_every_stage_says_what_it_adds():
    assert len({s.aspect for s in STAGES}) == len(STAGES)
    assert all(s.adds and not s.adds.endswith(".") for s in STAGES)
