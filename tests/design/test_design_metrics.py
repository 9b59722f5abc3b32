"""Every metric on small graphs, against values worked out by hand in the comments.

Fixtures (see conftest.py):

square: a->b 2, b->a 1, b->c 1, c->d 3, d->a 1   (total 8)
        split: x = {a, b}, y = {c, d}

six:    a->b 4, b->c 2, c->a 1, a->d 1, d->e 3, e->f 2, f->a 1   (total 14)
        split: X = {a, b, c}, Y = {d, e}, Z = {f}
"""

from __future__ import annotations

import math

import networkx as nx
import pandas as pd
import pytest

from labsvc.design import (
    METRICS,
    Decomposition,
    DecompositionError,
    change_impact,
    cohesion,
    compare,
    coupling_matrix,
    edge_density,
    inter_service_share,
    inter_service_weight,
    interface_number,
    largest_service_share,
    log_weights,
    mean_services_per_change,
    modularity,
    multi_service_change_share,
    non_extreme_distribution,
    one_per_module,
    service_cohesion,
    service_dependencies,
    service_graph,
    single_service,
    size_cv,
    structural_modularity,
)
from labsvc.core.errors import ConfigurationError

approx = pytest.approx


# -- coupling -------------------------------------------------------------------


def test_coupling_square(square, square_split):
    # crossing edges: b->c (1) and d->a (1) -> 2; total 2+1+1+3+1 = 8 -> 2/8
    assert inter_service_weight(square, square_split) == 2
    assert inter_service_share(square, square_split) == approx(0.25)


def test_coupling_six(six, six_split):
    # crossing: a->d (X->Y) 1, e->f (Y->Z) 2, f->a (Z->X) 1 -> 4; total 14 -> 4/14
    assert inter_service_weight(six, six_split) == 4
    assert inter_service_share(six, six_split) == approx(4 / 14)


def test_coupling_extremes(six):
    # monolith: nothing crosses; nano: every edge crosses
    assert inter_service_share(six, single_service(six)) == 0
    assert inter_service_share(six, one_per_module(six)) == 1


def test_missing_weight_counts_as_one():
    g = nx.DiGraph([("a", "b"), ("b", "c")])  # no weight attribute
    d = Decomposition("d", {"a": "x", "b": "x", "c": "y"})
    # b->c crosses with weight 1 out of 2
    assert inter_service_weight(g, d) == 1
    assert inter_service_share(g, d) == approx(0.5)


def test_share_of_edgeless_graph_is_nan():
    g = nx.DiGraph()
    g.add_nodes_from("ab")
    assert math.isnan(inter_service_share(g, one_per_module(g)))


def test_service_dependencies_and_matrix(six, six_split):
    deps = service_dependencies(six, six_split)
    # one row per crossing pair, heaviest first: Y->Z 2, then X->Y 1 and Z->X 1 (by name)
    assert deps.values.tolist() == [["Y", "Z", 2, 1], ["X", "Y", 1, 1], ["Z", "X", 1, 1]]
    m = coupling_matrix(six, six_split)
    # diagonal = internal weight: X 4+2+1 = 7, Y 3, Z 0
    assert [m.loc[s, s] for s in "XYZ"] == [7, 3, 0]
    assert m.loc["Y", "Z"] == 2 and m.loc["Z", "Y"] == 0
    assert m.to_numpy().sum() == 14  # every edge lands in exactly one cell
    sg = service_graph(six, six_split)
    assert sorted(sg.edges(data="weight")) == [("X", "Y", 1), ("Y", "Z", 2), ("Z", "X", 1)]
    assert dict(sg.nodes(data="modules")) == {"X": 3, "Y": 2, "Z": 1}


# -- cohesion -------------------------------------------------------------------


def test_cohesion_square(square, square_split):
    table = service_cohesion(square, square_split)
    # x: internal a->b 2 + b->a 1 = 3, outgoing b->c 1, incoming d->a 1 -> 3/(3+1)
    # y: internal c->d 3, outgoing d->a 1, incoming b->c 1            -> 3/(3+1)
    assert table.loc["x", ["internal", "outgoing", "incoming"]].tolist() == [3, 1, 1]
    assert table["cohesion"].tolist() == approx([0.75, 0.75])
    # density: x has 2 of 2*1 possible edges = 1.0; y has 1 of 2 = 0.5
    assert table["density"].tolist() == approx([1.0, 0.5])
    assert cohesion(square, square_split) == approx(0.75)
    assert edge_density(square, square_split) == approx(0.75)


def test_cohesion_six(six, six_split):
    table = service_cohesion(six, six_split)
    # X: internal 4+2+1 = 7, outgoing a->d 1 -> 7/8
    # Y: internal d->e 3, outgoing e->f 2   -> 3/5
    # Z: internal 0, outgoing f->a 1        -> 0/1 = 0
    assert table["cohesion"].tolist() == approx([7 / 8, 3 / 5, 0.0])
    assert cohesion(six, six_split) == approx((7 / 8 + 3 / 5 + 0) / 3)  # 0.4917
    # density: X 3 edges / (3*2) = 0.5; Y 1 / (2*1) = 0.5; Z has one module -> NaN, skipped
    assert table["density"].iloc[:2].tolist() == approx([0.5, 0.5])
    assert math.isnan(table.loc["Z", "density"])
    assert edge_density(six, six_split) == approx(0.5)


def test_cohesion_of_isolated_module_is_skipped():
    g = nx.DiGraph()
    g.add_edge("a", "b", weight=1)
    g.add_node("lonely")
    d = Decomposition("d", {"a": "s", "b": "s", "lonely": "t"})
    # t has neither internal nor outgoing weight -> NaN, left out of the mean
    assert math.isnan(service_cohesion(g, d).loc["t", "cohesion"])
    assert cohesion(g, d) == 1.0
    assert math.isnan(edge_density(g, one_per_module(g)))  # no service with >= 2 modules


# -- modularity -----------------------------------------------------------------


def test_newman_modularity_square(square, square_split):
    # undirected: ab = 2+1 = 3, bc = 1, cd = 3, da = 1; m = 8
    # degrees: a = 3+1 = 4, b = 3+1 = 4, c = 1+3 = 4, d = 3+1 = 4
    # x: L = 3, d_x = 8 -> 3/8 - (8/16)^2 = 0.125; y the same
    # Q = 0.25
    assert modularity(square, square_split) == approx(0.25)


def test_newman_modularity_six(six, six_split):
    # undirected (no opposite pairs here): ab 4, bc 2, ca 1, ad 1, de 3, ef 2, fa 1; m = 14
    # degrees: a 4+1+1+1 = 7, b 4+2 = 6, c 2+1 = 3, d 1+3 = 4, e 3+2 = 5, f 2+1 = 3 (sum 28 = 2m)
    # X: L 7, d 16 -> 7/14 - (16/28)^2 = 392/784 - 256/784
    # Y: L 3, d 9  -> 3/14 - (9/28)^2  = 168/784 -  81/784
    # Z: L 0, d 3  -> 0    - (3/28)^2  =   0/784 -   9/784
    # Q = (392 + 168 - 256 - 81 - 9) / 784 = 214/784
    assert modularity(six, six_split) == approx(214 / 784)


def test_modularity_sums_opposite_edges_instead_of_dropping_one():
    # a->b 5 and b->a 1: DiGraph.to_undirected() would keep only one of them
    g = nx.DiGraph()
    g.add_edge("a", "b", weight=5)
    g.add_edge("b", "a", weight=1)
    g.add_edge("c", "d", weight=6)
    d = Decomposition("d", {"a": "x", "b": "x", "c": "y", "d": "y"})
    # undirected ab = 6, cd = 6; m = 12; each side: 6/12 - (12/24)^2 = 0.25 -> Q = 0.5
    assert modularity(g, d) == approx(0.5)


def test_modularity_resolution(square, square_split):
    # resolution 2 doubles the null-model term: per side 3/8 - 2 * (8/16)^2 = -1/8; two sides
    assert modularity(square, square_split, resolution=2.0) == approx(2 * (3 / 8 - 2 * 0.25))


def test_modularity_of_monolith_is_zero(six):
    # one community: L = m, d = 2m -> 1 - 1 = 0
    assert modularity(six, single_service(six)) == approx(0.0)


def test_structural_modularity_square(square, square_split):
    # linked pairs: {a,b}, {b,c}, {c,d}, {a,d}
    # scoh: x mu 1 / 2^2 = 1/4, y 1/4 -> mean 1/4
    # scop: x-y sigma 2 ({b,c}, {a,d}) / (2*2) = 1/2; K = 2 -> 2/(2*1) * 1/2 = 1/2
    # SM = 1/4 - 1/2
    assert structural_modularity(square, square_split) == approx(-0.25)


def test_structural_modularity_six(six, six_split):
    # linked pairs: ab bc ca ad de ef fa
    # scoh: X 3/3^2 = 1/3, Y 1/2^2 = 1/4, Z 0/1 = 0 -> mean (1/3 + 1/4)/3 = 7/36
    # sigma/(Ni Nj): X-Y {a,d} 1/6, Y-Z {e,f} 1/2, X-Z {a,f} 1/3 -> sum 1
    # K = 3 -> 2/(3*2) * 1 = 1/3
    # (Mono2Micro's ordered form: scop = sigma/(2 Ni Nj) -> 1/12, 1/4, 1/6, summed over
    #  ordered pairs = 1, divided by K(K-1)/2 = 3 -> 1/3: the same.)
    # SM = 7/36 - 12/36
    assert structural_modularity(six, six_split) == approx(-5 / 36)


def test_structural_modularity_ignores_weight_and_direction(six, six_split):
    heavier = nx.DiGraph()
    for u, v, w in six.edges(data="weight"):
        heavier.add_edge(v, u, weight=100 * w)  # reversed and scaled
    assert structural_modularity(heavier, six_split) == approx(structural_modularity(six, six_split))


def test_structural_modularity_of_monolith(six):
    # K = 1: no coupling term; mu = 7 linked pairs / 6^2
    assert structural_modularity(six, single_service(six)) == approx(7 / 36)


def test_interface_number(square, square_split, six, six_split):
    # square: modules called from another service: c (by b), a (by d) -> 2 / 2 services
    assert interface_number(square, square_split) == approx(1.0)
    # six: d (by a), f (by e), a (by f) -> 3 / 3 services
    assert interface_number(six, six_split) == approx(1.0)
    assert interface_number(six, single_service(six)) == 0.0


# -- size -----------------------------------------------------------------------


def test_sizes(six_split):
    # sizes 3, 2, 1 (N = 6)
    assert largest_service_share(six_split) == approx(3 / 6)
    # mean 2, population variance (1 + 0 + 1)/3 = 2/3 -> cv = sqrt(2/3)/2
    assert size_cv(six_split) == approx(math.sqrt(2 / 3) / 2)
    # NED with bounds 2..3: services of 3 and 2 are "non-extreme" -> 1 - 5/6
    assert non_extreme_distribution(six_split, low=2, high=3) == approx(1 / 6)
    # default bounds 5..20: every service is extreme -> 1
    assert non_extreme_distribution(six_split) == 1.0


def test_size_of_equal_services(square_split):
    assert size_cv(square_split) == 0.0
    assert largest_service_share(square_split) == 0.5


def test_size_metrics_reject_empty():
    with pytest.raises(ConfigurationError, match="assigns no modules"):
        size_cv(Decomposition("empty", {}))


# -- change impact --------------------------------------------------------------

HISTORY = [{"a", "b"}, {"a", "d"}, {"c", "e", "f"}, {"f"}]
# with X = {a,b,c}, Y = {d,e}, Z = {f}:
#   {a,b} -> X          1 service
#   {a,d} -> X, Y       2
#   {c,e,f} -> X, Y, Z  3
#   {f} -> Z            1
# mean (1+2+3+1)/4 = 7/4; share touching > 1 service: 2/4


def test_change_impact_list(six_split):
    impact = change_impact(HISTORY, six_split)
    assert impact["services"].tolist() == [1, 2, 3, 1]
    assert impact["modules"].tolist() == [2, 2, 3, 1]
    assert impact.loc[2, "touched"] == ("X", "Y", "Z")
    assert impact["change_id"].tolist() == [0, 1, 2, 3]
    assert mean_services_per_change(HISTORY, six_split) == approx(7 / 4)
    assert multi_service_change_share(HISTORY, six_split) == approx(0.5)


def test_change_impact_table_and_mapping_agree(six_split):
    table = pd.DataFrame(
        [(f"C{i}", m) for i, mods in enumerate(HISTORY) for m in sorted(mods)],
        columns=["change_id", "module"],
    )
    mapping = {f"C{i}": mods for i, mods in enumerate(HISTORY)}
    a = change_impact(table, six_split)
    b = change_impact(mapping, six_split)
    assert a["change_id"].tolist() == ["C0", "C1", "C2", "C3"]
    assert a["services"].tolist() == b["services"].tolist() == [1, 2, 3, 1]


def test_change_impact_monolith_and_nano(six):
    # monolith: every change touches 1 service; nano: as many services as modules
    assert mean_services_per_change(HISTORY, single_service(six)) == 1.0
    assert multi_service_change_share(HISTORY, single_service(six)) == 0.0
    assert mean_services_per_change(HISTORY, one_per_module(six)) == approx((2 + 2 + 3 + 1) / 4)


def test_change_impact_errors(six_split):
    with pytest.raises(DecompositionError, match="'zzz'") as info:
        change_impact([{"a", "zzz"}], six_split)
    assert info.value.unknown == ("zzz",)
    with pytest.raises(ConfigurationError, match="no modules"):
        change_impact([{"a"}, set()], six_split)
    with pytest.raises(ConfigurationError, match="empty"):
        change_impact([], six_split)
    with pytest.raises(ConfigurationError, match="string"):
        change_impact(["ab"], six_split)
    with pytest.raises(ConfigurationError, match="change_id"):
        change_impact(pd.DataFrame({"id": [1], "module": ["a"]}), six_split)


# -- input checks ---------------------------------------------------------------


def test_metrics_reject_mismatched_decomposition(six):
    partial = Decomposition("partial", {"a": "s", "b": "s", "ghost": "s"})
    for metric in (inter_service_weight, inter_service_share, cohesion, modularity,
                   structural_modularity, interface_number, service_cohesion):
        with pytest.raises(DecompositionError) as info:
            metric(six, partial)
        assert info.value.unassigned == ("c", "d", "e", "f")
        assert info.value.unknown == ("ghost",)


def test_metrics_reject_bad_graphs(six_split):
    with pytest.raises(ConfigurationError, match="DiGraph"):
        inter_service_weight(nx.Graph([("a", "b")]), six_split)
    bad = nx.DiGraph()
    bad.add_edge("a", "b", weight=-1)
    with pytest.raises(ConfigurationError, match="non-negative"):
        modularity(bad, Decomposition("d", {"a": "x", "b": "y"}))
    with pytest.raises(ConfigurationError, match="Decomposition"):
        cohesion(nx.DiGraph([("a", "b")]), {"a": "x", "b": "y"})


def test_log_weights():
    g = nx.DiGraph()
    g.add_edge("a", "b", weight=1)
    g.add_edge("b", "c", weight=math.e ** 2)
    g.add_edge("c", "a", weight=0)
    out = log_weights(g)
    # 1 + ln 1 = 1; 1 + ln e^2 = 3; weight 0 stays 0; the input is untouched
    assert [out[u][v]["weight"] for u, v in [("a", "b"), ("b", "c"), ("c", "a")]] == approx([1, 3, 0])
    assert g["b"]["c"]["weight"] == approx(math.e ** 2)


# -- compare --------------------------------------------------------------------


def test_compare_rows_and_columns(six, six_split):
    table = compare([six_split, single_service(six), one_per_module(six)], six, changes=HISTORY)
    assert table.index.tolist() == ["xyz", "monolith", "nano"]
    assert table.index.name == "decomposition"
    assert list(table.columns) == list(METRICS)  # same order as documented
    row = table.loc["xyz"]
    assert row["services"] == 3
    assert row["coupling"] == 4
    assert row["icp"] == approx(4 / 14)
    assert row["modularity"] == approx(214 / 784)
    assert row["sm"] == approx(-5 / 36)
    assert row["services_per_change"] == approx(7 / 4)
    assert row["multi_service_changes"] == approx(0.5)
    assert table.loc["monolith", "icp"] == 0 and table.loc["nano", "icp"] == 1


def test_compare_without_changes_and_with_mapping(six, six_split):
    table = compare({"one": six_split, "two": six_split}, six)  # keys label the rows
    assert "services_per_change" not in table.columns
    assert table.index.tolist() == ["one", "two"]
    assert table.loc["one", "icp"] == table.loc["two", "icp"]


def test_compare_errors(six, six_split):
    with pytest.raises(ConfigurationError, match="unique"):
        compare([six_split, six_split], six)
    with pytest.raises(ConfigurationError, match="at least one"):
        compare([], six)
    with pytest.raises(DecompositionError):
        compare([Decomposition("bad", {"a": "x"})], six)
    with pytest.raises(ConfigurationError, match="expects Decompositions"):
        compare([{"a": "x"}], six)
