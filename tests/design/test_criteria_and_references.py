"""labsvc.design.criteria and labsvc.design.references: the numbers are the ones worked out by hand or published."""

from __future__ import annotations

import doctest

import networkx as nx
import pytest

import labsvc.design.criteria as criteria
import labsvc.design.references as references
from labsvc.design import Decomposition, load_monolith, load_shop
from labsvc.design.criteria import foreign_table_access, module_reuse, service_criteria
from labsvc.design.references import baseline_coverage, mono2micro_side_by_side, published_metrics, usb_baselines
from labsvc.core.errors import ConfigurationError


@pytest.fixture
def small() -> nx.DiGraph:
    """web -> auth (2), orders -> auth (1), orders -> repo (4), ship -> repo (3), repo is persistence."""
    g = nx.DiGraph()
    for u, v, w in [("web", "auth", 2), ("orders", "auth", 1), ("orders", "repo", 4), ("ship", "repo", 3)]:
        g.add_edge(u, v, weight=w)
    g.nodes["repo"]["layer"] = "persistence"
    return g


@pytest.fixture
def small_split() -> Decomposition:
    return Decomposition("s", {"web": "front", "auth": "identity", "orders": "sales", "repo": "sales",
                               "ship": "delivery"})


def test_module_reuse_counts_other_services_that_depend_on_a_module(small, small_split):
    table = module_reuse(small, small_split)
    assert table.index[0] == "auth"
    assert table.loc["auth"].to_dict() == {"service": "identity", "used_by_services": 2, "used_by_modules": 2,
                                           "incoming_weight": 3}
    # repo is used by orders (same service: not reuse) and ship (another service)
    assert table.loc["repo", "used_by_services"] == 1 and table.loc["repo", "incoming_weight"] == 3


def test_service_criteria_by_hand(small, small_split):
    changes = [{"web", "auth"}, {"orders", "repo"}, {"ship"}, {"orders", "ship"}]
    table = service_criteria(small, small_split, changes)
    sales = table.loc["sales"]
    # sales: internal orders -> repo (4), outgoing orders -> auth (1)
    assert sales["cohesion"] == pytest.approx(4 / 5)
    assert (sales["used_by"], sales["uses"]) == (1, 1)  # used by delivery, uses identity
    assert sales["changes"] == 2 and sales["changes_alone"] == pytest.approx(0.5)
    assert table.loc["identity", "used_by"] == 2
    assert "changes" not in service_criteria(small, small_split).columns


def test_foreign_table_access_lists_reads_of_another_services_tables(small, small_split):
    rows = foreign_table_access(small, small_split)
    assert rows.to_dict("records") == [{"service": "delivery", "module": "ship", "table_module": "repo",
                                        "owner": "sales", "weight": 3}]
    assert foreign_table_access(small, Decomposition("one", dict.fromkeys(small, "x"))).empty


def test_criteria_on_the_shop_find_the_guides_examples():
    shop = load_shop()
    ddd = shop.decompositions["ddd"]
    assert module_reuse(shop.graph, ddd).index[0] == "customer.auth"
    table = service_criteria(shop.graph, ddd, shop.changes)
    assert table["used_by"].idxmax() == "customer"
    assert set(foreign_table_access(shop.graph, ddd)["table_module"]) == {"catalog.repo", "customer.repo",
                                                                           "order.repo"}


def test_published_and_our_metrics_side_by_side():
    daytrader = load_monolith("daytrader")
    side = mono2micro_side_by_side(daytrader, ks=[5])
    assert list(side.columns) == ["classes", "ICP published", "icp ours", "SM published", "sm ours",
                                  "IFN published", "ifn ours", "NED published", "ned ours"]
    assert side.loc[5, "classes"] == 73
    assert side.loc[5, "ICP published"] == pytest.approx(0.346)
    assert abs(side.loc[5, "NED published"] - side.loc[5, "ned ours"]) < 0.02
    rows = published_metrics(daytrader, "Mono2Micro")
    assert set(rows["method"]) == {"Mono2Micro"} and len(rows) == 17


def test_usb_baselines_are_completed_and_their_coverage_reported():
    pet = load_monolith("jpetstore")
    baselines = usb_baselines(pet)
    assert set(baselines) == {"Mono2Micro (USB)", "MEM (USB)", "Bunch (USB)", "Study [2] (USB)"}
    for d in baselines.values():
        d.validate(pet.graph)
    assert "(unassigned)" in baselines["MEM (USB)"].services
    assert baseline_coverage(pet)["Bunch"] == 1.0


def test_bad_input_says_what_to_fix():
    pet = load_monolith("jpetstore")
    with pytest.raises(ConfigurationError, match="has no published Mono2Micro partitions"):
        mono2micro_side_by_side(pet)
    with pytest.raises(ConfigurationError, match="valid k"):
        mono2micro_side_by_side(load_monolith("daytrader"), ks=[4])
    with pytest.raises(ConfigurationError, match="no published rows for method 'Nope'"):
        published_metrics(pet, "Nope")
    with pytest.raises(ConfigurationError, match="has no USB baselines"):
        usb_baselines(load_monolith("plantsbywebsphere"))
    with pytest.raises(ConfigurationError, match="expected a MonolithDataset"):
        baseline_coverage(load_shop())
    with pytest.raises(ConfigurationError, match="expected a Decomposition"):
        module_reuse(nx.DiGraph(), {"a": "b"})


@pytest.mark.parametrize("module", [criteria, references])
def test_public_api_is_documented_and_examples_run(module):
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
