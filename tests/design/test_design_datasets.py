"""The dataset loaders: shapes match the data cards, references line up with the graphs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labsvc.design import (
    DATASETS_ENV,
    MONOLITHS,
    ContextMap,
    Decomposition,
    build_graph,
    compare,
    datasets_dir,
    load_monolith,
    load_shop,
)
from labsvc.core.errors import ConfigurationError

# Numbers from datasets/monoliths/DATA_CARD.md: classes, edges, total weight, LOC
CARD = {
    "jpetstore": (24, 53, 197, 1417),
    "daytrader": (108, 280, 1668, 10443),
    "plantsbywebsphere": (36, 97, 707, 3834),
}


def test_datasets_dir_is_the_repo_folder(monkeypatch):
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    root = datasets_dir()
    assert root == Path(__file__).resolve().parents[2] / "datasets"
    assert (root / "shop" / "DATA_CARD.md").is_file()
    assert (root / "monoliths" / "DATA_CARD.md").is_file()


# -- monoliths ------------------------------------------------------------------


@pytest.mark.parametrize("name", MONOLITHS)
def test_monolith_shapes_match_the_data_card(name):
    classes, edges, weight, loc = CARD[name]
    m = load_monolith(name)
    assert m.name == name
    assert len(m.classes) == m.graph.number_of_nodes() == classes
    assert len(m.dependencies) == m.graph.number_of_edges() == edges
    assert m.graph.size(weight="weight") == weight
    assert m.classes["loc"].sum() == loc
    assert not any(u == v for u, v in m.graph.edges)  # the card promises no self-loops
    # node attributes come from classes.csv, edge attributes from dependencies.csv
    some = m.classes["class"].iloc[0]
    assert m.graph.nodes[some]["layer"] == m.classes["layer"].iloc[0]
    u, v = m.dependencies[["source", "target"]].iloc[0]
    assert m.graph[u][v]["kinds"] == m.dependencies["kinds"].iloc[0]


def test_jpetstore_ground_truth_covers_every_class():
    m = load_monolith("jpetstore")
    gt = m.ground_truth
    assert gt.validate(m.graph) is gt  # all 24 classes, nothing extra
    # card: Order 8, Account 4, Cart 3, Catalog 8, Common (AbstractActionBean) 1
    assert gt.sizes().to_dict() == {"Order service": 8, "Catalog service": 8,
                                    "Account service": 4, "Cart service": 3,
                                    "Common component": 1}
    assert gt.service_of("org.mybatis.jpetstore.web.actions.AbstractActionBean") == "Common component"
    # the published table also lists views and tables, which have no class
    assert (m.ground_truth_table["class"] == "").sum() == len(m.ground_truth_table) - 24


def test_daytrader_ground_truth_covers_every_class():
    m = load_monolith("daytrader")
    assert m.ground_truth.validate(m.graph) is m.ground_truth
    assert sorted(m.ground_truth.sizes().tolist()) == [5, 7, 9, 9, 23, 55]


def test_plants_has_no_ground_truth_but_mono2micro_partitions():
    m = load_monolith("plantsbywebsphere")
    assert m.ground_truth is None and m.baselines is None
    assert sorted(m.mono2micro_partitions["k"].unique()) == [2, 4, 6, 8, 10, 12]
    d = m.mono2micro_partition(4)
    assert len(d) == 25  # 26 published components, OrderItem::PK folded into OrderItem
    assert d.completed(m.graph).validate(m.graph)


def test_mono2micro_partition_daytrader():
    m = load_monolith("daytrader")
    d = m.mono2micro_partition(5)
    assert d.n_services == 5 and len(d) == 73  # card: 74 components cover 73 classes
    with pytest.raises(ConfigurationError, match="valid k: 3, 5, 7"):
        m.mono2micro_partition(4)
    with pytest.raises(ConfigurationError, match="no published Mono2Micro"):
        load_monolith("jpetstore").mono2micro_partition(3)


def test_usb_baselines():
    m = load_monolith("jpetstore")
    assert m.baseline_methods == ("Mono2Micro", "MEM", "Bunch", "Study [2]")
    bunch = m.baseline("Bunch")
    assert bunch.validate(m.graph) and bunch.n_services == 4
    partial = m.baseline("MEM")  # from runtime traces: 15 of 24 classes
    assert len(partial) == 15
    with pytest.raises(ConfigurationError) as info:
        partial.validate(m.graph)
    assert len(info.value.unassigned) == 9
    assert partial.completed(m.graph).validate(m.graph)
    with pytest.raises(ConfigurationError, match="valid: Mono2Micro, MEM, Bunch, Study"):
        m.baseline("k-means")


def test_reference_metric_tables():
    for name, rows in (("jpetstore", 35), ("daytrader", 71), ("plantsbywebsphere", 27)):
        table = load_monolith(name).mono2micro_metrics
        assert len(table) == rows
        assert {"method", "k", "ICP", "SM", "IFN", "NED"} <= set(table.columns)


def test_unknown_monolith_lists_valid_names():
    with pytest.raises(ConfigurationError) as info:
        load_monolith("petclinic")
    assert "jpetstore, daytrader, plantsbywebsphere" in str(info.value)
    assert load_monolith(" JPetStore ").name == "jpetstore"


def test_metrics_for_jpetstore_decompositions():
    m = load_monolith("jpetstore")
    candidates = m.candidates(seed=0)
    assert {"monolith", "by layer", "nano", "communities (louvain)", "ground truth",
            "Bunch (USB)", "Study [2] (USB)"} == set(candidates)
    table = compare(candidates, m.graph)
    assert len(table) == 7 and not table[["icp", "cohesion", "modularity", "sm"]].isna().any().any()
    assert table.loc["monolith", "icp"] == 0 and table.loc["nano", "icp"] == 1
    # the expert split keeps far more dependencies inside services than the layer split
    assert table.loc["ground truth", "icp"] < table.loc["by layer", "icp"] / 2
    assert table.loc["ground truth", "modularity"] > 0.3 > table.loc["by layer", "modularity"]
    # ground truth: 51 of 197 weight crosses services (value pinned from the data)
    assert table.loc["ground truth", "coupling"] == 51


def test_log_weights_on_a_real_graph():
    from labsvc.design import inter_service_share, log_weights

    m = load_monolith("daytrader")
    # damping the Log / TradeConfig hubs changes the picture, not the graph's shape
    damped = log_weights(m.graph)
    assert damped.number_of_edges() == m.graph.number_of_edges()
    assert inter_service_share(damped, m.ground_truth) != inter_service_share(m.graph, m.ground_truth)


# -- the shop -------------------------------------------------------------------


def test_shop_shapes():
    shop = load_shop()
    assert shop.graph.number_of_nodes() == len(shop.modules) == 37
    assert shop.graph.number_of_edges() == len(shop.dependencies) == 83
    assert shop.changes["change_id"].nunique() == len(shop.change_sets) == 60
    assert set(shop.modules["layer"]) == {"web", "service", "persistence", "domain", "integration"}
    assert "37 modules" in repr(shop)


def test_shop_tables_are_consistent():
    shop = load_shop()
    contexts = set(shop.contexts["context"])
    assert set(shop.modules["bounded_context"]) <= contexts
    assert set(shop.entities["context"]) <= contexts
    assert set(shop.glossary["context"]) <= contexts
    assert set(shop.capabilities["context"]) <= contexts
    assert set(shop.user_stories["capability_id"]) <= set(shop.capabilities["capability_id"])
    assert set(shop.changes["module"]) <= set(shop.modules["module"])
    # every module's name starts with its bounded context
    assert (shop.modules["module"].str.split(".").str[0] == shop.modules["bounded_context"]).all()
    # external contexts (payment provider, carrier) have no code of ours
    external = set(shop.contexts.loc[shop.contexts["external"], "context"])
    assert external == {"payment-provider", "carrier"}
    assert not external & set(shop.modules["bounded_context"])


def test_shop_context_map():
    cm = load_shop().context_map
    assert isinstance(cm, ContextMap) and len(cm) == 12
    assert cm["catalog"].kind == "core" and cm["order"].kind == "core"
    assert cm["payment"].kind == "generic" and cm["payment-provider"].external
    assert "Product" in cm["catalog"].owns and "Item" in cm["inventory"].owns
    # "Product" means different things in different contexts (the guide's Product vs Item point)
    product = cm.glossary().query("term == 'Product'")
    assert set(product["context"]) >= {"catalog", "inventory", "order", "search"}
    kinds = set(cm.relationships_frame()["kind"])
    assert kinds == {"partnership", "shared-kernel", "customer-supplier", "conformist",
                     "anticorruption-layer", "open-host-service", "published-language"}


def test_shop_reference_decompositions_tell_the_lesson():
    shop = load_shop()
    ds = shop.decompositions
    assert set(ds) == {"ddd", "layered", "coarse", "nano", "monolith"}
    assert ds["ddd"].n_services == 10 and ds["layered"].n_services == 5
    assert ds["coarse"].n_services == 3 and ds["nano"].n_services == 37
    for d in ds.values():
        assert isinstance(d, Decomposition) and d.validate(shop.graph)
    t = compare(ds, shop.graph, shop.changes)
    # by bounded context beats by layer on every axis the guide cares about
    assert t.loc["ddd", "icp"] < t.loc["layered", "icp"]
    assert t.loc["ddd", "cohesion"] > t.loc["layered", "cohesion"]
    assert t.loc["ddd", "services_per_change"] < t.loc["layered", "services_per_change"]
    assert t.loc["ddd", "modularity"] == t["modularity"].max()
    # nano-services: every change spreads the most
    assert t.loc["nano", "services_per_change"] == t["services_per_change"].max()


# -- the environment variable ---------------------------------------------------


def test_env_var_points_elsewhere(tmp_path, monkeypatch):
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    shutil.copytree(datasets_dir() / "shop", tmp_path / "shop")
    # drop one change from the copy so we can tell the copy was read
    changes = tmp_path / "shop" / "changes.csv"
    lines = changes.read_text().splitlines(keepends=True)
    changes.write_text("".join(line for line in lines if not line.startswith("CH-060,")))
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path))
    assert datasets_dir() == tmp_path
    assert load_shop().changes["change_id"].nunique() == 59
    with pytest.raises(ConfigurationError, match="missing"):
        load_monolith("jpetstore")  # the copy has no monoliths/


def test_env_var_to_missing_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ConfigurationError, match=DATASETS_ENV):
        load_shop()


def test_build_graph_checks_its_input():
    import pandas as pd

    modules = pd.DataFrame({"module": ["a", "b"]})
    with pytest.raises(ConfigurationError, match="missing from the module table"):
        build_graph(modules, pd.DataFrame({"source": ["a"], "target": ["c"], "weight": [1]}))
    with pytest.raises(ConfigurationError, match="lacks columns"):
        build_graph(modules, pd.DataFrame({"from": ["a"], "to": ["b"]}))
    with pytest.raises(ConfigurationError, match="'module' or 'class'"):
        build_graph(pd.DataFrame({"name": ["a"]}), pd.DataFrame({"source": [], "target": []}))
