"""labsvc.design.lab.reads_through_api: a reader moved onto the owner's API stops costing the owner a second team."""

import doctest

import pytest

import labsvc.design.lab as lab
from labsvc.core.errors import ConfigurationError
from labsvc.design import load_shop
from labsvc.design.criteria import foreign_table_access
from labsvc.design.lab import reads_through_api
from labsvc.design.ownership import shared_table_impact


@pytest.fixture(scope="module")
def shop():
    return load_shop()


def alone(frame):
    return int((frame["teams_if_shared"] == 1).sum())


def test_moving_nobody_is_section_6s_table(shop):
    ddd = shop.decompositions["ddd"]
    before = shared_table_impact(shop.graph, shop.changes, ddd)
    after = reads_through_api(shop, [])
    assert after.equals(before) and after.attrs["through_api"] == ()
    assert alone(after) == 29 and after.attrs["decomposition"] == "ddd"


def test_each_moved_reader_wins_back_the_changes_its_owner_would_ship_alone(shop):
    # search and notification each read tables that four one-team changes alter; delivery, two
    assert {r: alone(reads_through_api(shop, [r])) for r in ("search", "notification", "delivery")} == \
        {"search": 33, "notification": 33, "delivery": 31}
    both = reads_through_api(shop, ("notification", "search", "search"))
    assert alone(both) == 37 and both.attrs["through_api"] == ("notification", "search")
    assert sorted({r for rs in both["readers"] for r in rs}) == ["delivery"]
    assert alone(reads_through_api(shop, ["search", "notification", "delivery"])) == 39


def test_the_reader_calls_the_owners_api_and_the_shop_graph_is_left_alone(shop):
    edges = set(shop.graph.edges)
    assert reads_through_api(shop, "search").attrs["through_api"] == ("search",)  # one name, not six letters
    assert set(shop.graph.edges) == edges
    assert len(foreign_table_access(shop.graph, shop.decompositions["ddd"])) == 3


def test_a_service_that_reads_no_foreign_tables_is_refused_with_the_ones_that_do(shop):
    with pytest.raises(ConfigurationError, match="catalog read.* no other service's tables.*delivery, notification, search"):
        reads_through_api(shop, ["catalog"])
    with pytest.raises(ConfigurationError, match="shop dataset"):
        reads_through_api(shop.graph, ["search"])


def test_the_docstring_example_runs():
    assert doctest.testmod(lab, optionflags=doctest.ELLIPSIS).failed == 0
