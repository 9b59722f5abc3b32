"""labsvc.design.ownership: one team per context, and what reading another team's tables costs, counted by hand."""

import doctest

import networkx as nx
import pytest

import labsvc.design.ownership as ownership
from labsvc.core.errors import ConfigurationError
from labsvc.design import Decomposition, load_shop
from labsvc.design.ownership import ownership_table, shared_table_impact


@pytest.fixture
def orders():
    """order_api -> order_repo (order's tables), ship -> order_repo (delivery reads them), ship -> ship_repo."""
    g = nx.DiGraph([("order_api", "order_repo"), ("ship", "order_repo"), ("ship", "ship_repo")])
    for table in ("order_repo", "ship_repo"):
        g.nodes[table]["layer"] = "persistence"
    d = Decomposition("d", {"order_api": "order", "order_repo": "order", "ship": "delivery", "ship_repo": "delivery"})
    return g, d


def test_a_change_to_tables_another_service_reads_needs_the_readers_team(orders):
    g, d = orders
    changes = {"schema": {"order_api", "order_repo"}, "both": {"order_repo", "ship"}, "ship": {"ship", "ship_repo"}}
    table = shared_table_impact(g, changes, d).set_index("change_id")
    assert table.loc["schema", "teams"] == 1 and table.loc["schema", "readers"] == ("delivery",)
    assert table.loc["schema", "teams_if_shared"] == 2
    # delivery already takes part in "both"; nobody reads delivery's tables
    assert table.loc["both", "readers"] == () and table.loc["both", "teams_if_shared"] == 2
    assert table.loc["ship", "readers"] == () and table.loc["ship", "teams_if_shared"] == 1


def test_without_foreign_reads_sharing_changes_nothing(orders):
    g, _ = orders
    one = Decomposition("one", dict.fromkeys(g.nodes, "all"))
    table = shared_table_impact(g, [{"order_repo"}, {"ship"}], one)
    assert (table["teams"] == table["teams_if_shared"]).all()


def test_ownership_table_of_the_shop():
    shop = load_shop()
    table = ownership_table(shop).set_index("context")
    assert set(table.index) == set(shop.contexts.loc[~shop.contexts["external"], "context"])
    assert table.loc["order", "tables"] == "order.repo" and table.loc["order", "owns"] == "Cart, Order, OrderLine"
    assert table.loc["order", "services"] == "order"
    merged = shop.decompositions["coarse"]
    assert ownership_table(shop, merged).set_index("context").loc["catalog", "services"] == "sales"


def test_bad_input_says_what_to_fix(orders):
    with pytest.raises(ConfigurationError, match="pass load_shop"):
        ownership_table("shop")
    g, d = orders
    with pytest.raises(ConfigurationError, match="does not assign the shop modules"):
        ownership_table(load_shop(), d)


def test_docstring_examples_run():
    assert doctest.testmod(ownership).failed == 0
