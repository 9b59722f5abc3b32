"""Decompositions: validation against a graph, derived copies, helper constructors."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest

from labsvc.design import (
    Decomposition,
    DecompositionError,
    by_column,
    by_layer,
    modularity,
    one_per_module,
    single_service,
    suggest_by_communities,
)
from labsvc.core.errors import ConfigurationError


def test_services_and_sizes():
    d = Decomposition("d", {"c": "y", "a": "x", "b": "x"})
    assert d.modules == ("a", "b", "c")
    assert d.services == {"x": ("a", "b"), "y": ("c",)}
    assert d.n_services == 2 and len(d) == 3
    assert d.sizes().to_dict() == {"x": 2, "y": 1}
    assert d.to_frame().values.tolist() == [["a", "x"], ["b", "x"], ["c", "y"]]
    assert d.service_of("c") == "y"
    with pytest.raises(DecompositionError, match="'zz'"):
        d.service_of("zz")


def test_validate_names_unassigned_and_unknown_modules(six):
    d = Decomposition("partial", {"a": "s", "b": "s", "ghost": "s", "phantom": "t"})
    with pytest.raises(DecompositionError) as info:
        d.validate(six)
    err = info.value
    assert err.unassigned == ("c", "d", "e", "f")
    assert err.unknown == ("ghost", "phantom")
    message = str(err)
    assert "'partial'" in message
    assert "4 module(s) of the graph have no service: 'c', 'd', 'e', 'f'" in message
    assert "2 assigned module(s) are not in the graph: 'ghost', 'phantom'" in message
    assert isinstance(err, ConfigurationError)


def test_validate_returns_self(six, six_split):
    assert six_split.validate(six) is six_split


def test_long_error_lists_are_shortened():
    g = nx.DiGraph()
    g.add_nodes_from(f"m{i:02d}" for i in range(20))
    with pytest.raises(DecompositionError, match=r"and 12 more"):
        Decomposition("empty", {}).validate(g)


@pytest.mark.parametrize("bad", [{"a": ""}, {"a": None}, {"a": 3}])
def test_service_names_must_be_strings(bad):
    with pytest.raises(ConfigurationError, match="service names"):
        Decomposition("d", bad)


def test_constructor_checks():
    with pytest.raises(ConfigurationError, match="name"):
        Decomposition("", {})
    with pytest.raises(ConfigurationError, match="mapping"):
        Decomposition("d", [("a", "x")])


def test_assignment_is_read_only():
    d = Decomposition("d", {"a": "x"})
    with pytest.raises(TypeError):
        d.assignment["a"] = "y"


def test_from_frame_rejects_conflicts():
    ok = pd.DataFrame({"module": ["a", "a", "b"], "service": ["x", "x", "y"]})
    assert Decomposition.from_frame(ok, "ok").services == {"x": ("a",), "y": ("b",)}
    clash = pd.DataFrame({"module": ["a", "a"], "service": ["x", "y"]})
    with pytest.raises(ConfigurationError, match="more than one service: 'a'"):
        Decomposition.from_frame(clash, "clash")
    with pytest.raises(ConfigurationError, match="no column 'svc'"):
        Decomposition.from_frame(ok, "t", service="svc")


def test_derived_copies_leave_the_original_alone(six, six_split):
    moved = six_split.move("f", "Y", name="moved")
    assert moved.services["Y"] == ("d", "e", "f") and moved.name == "moved"
    assert six_split.service_of("f") == "Z"
    merged = six_split.merge(["Y", "Z"], into="YZ")
    assert merged.services == {"X": ("a", "b", "c"), "YZ": ("d", "e", "f")}
    with pytest.raises(ConfigurationError, match="no service"):
        six_split.merge(["Q"], into="x")
    with pytest.raises(DecompositionError):
        six_split.move("nope", "X")
    assert six_split.renamed("other").assignment == six_split.assignment


def test_completed_and_restricted(six):
    partial = Decomposition("p", {"a": "x", "b": "x", "ghost": "y"})
    full = partial.completed(six)
    assert full.validate(six) is full
    assert full.services == {"(unassigned)": ("c", "d", "e", "f"), "x": ("a", "b")}
    assert partial.restricted_to(six).modules == ("a", "b")


def test_equality_and_hash():
    a = Decomposition("d", {"a": "x"})
    assert a == Decomposition("d", {"a": "x"}) and hash(a) == hash(Decomposition("d", {"a": "x"}))
    assert a != Decomposition("e", {"a": "x"})


# -- helpers ----------------------------------------------------------------------


def test_single_and_nano(six):
    mono = single_service(six)
    assert mono.n_services == 1 and mono.name == "monolith"
    nano = one_per_module(six)
    assert nano.n_services == 6 and nano.service_of("c") == "c"
    assert single_service(["x", "y"], service="all").services == {"all": ("x", "y")}
    with pytest.raises(ConfigurationError, match="single string"):
        single_service("abc")


def test_by_layer_and_by_column():
    classes = pd.DataFrame({
        "class": ["A", "B", "C"], "layer": ["web", "domain", "web"], "ctx": ["s", "s", "t"],
    })
    assert by_layer(classes).services == {"domain": ("B",), "web": ("A", "C")}
    assert by_column(classes, "ctx").name == "by ctx"
    with pytest.raises(ConfigurationError, match="no column"):
        by_column(classes, "team")
    with pytest.raises(ConfigurationError, match="'module' or 'class'"):
        by_layer(pd.DataFrame({"name": ["A"], "layer": ["web"]}))
    missing = classes.assign(layer=["web", None, "web"])
    with pytest.raises(ConfigurationError, match="no service for 'B'"):
        by_layer(missing)


def two_cliques() -> nx.DiGraph:
    """Two tight groups {a1..a3}, {b1..b3} joined by one light edge, plus an isolated module."""
    g = nx.DiGraph()
    for group in ("a", "b"):
        members = [f"{group}{i}" for i in (1, 2, 3)]
        for u in members:
            for v in members:
                if u != v:
                    g.add_edge(u, v, weight=5)
    g.add_edge("a1", "b1", weight=1)
    g.add_node("zz")
    return g


@pytest.mark.parametrize("method", ["louvain", "greedy"])
def test_communities_recover_obvious_groups(method):
    g = two_cliques()
    d = suggest_by_communities(g, seed=3, method=method)
    assert d.validate(g) is d  # covers every module, the isolated one too
    assert d.services == {"c1": ("a1", "a2", "a3"), "c2": ("b1", "b2", "b3"), "c3": ("zz",)}
    assert d.name == f"communities ({method})"
    # it is a modularity maximiser: better than lumping the cliques together
    assert modularity(g, d) > modularity(g, d.merge(["c1", "c2"], into="ab"))


def test_communities_are_seeded():
    g = nx.les_miserables_graph().to_directed()
    runs = [suggest_by_communities(g, seed=11) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_communities_labels_and_errors():
    g = two_cliques()
    d = suggest_by_communities(g, label=lambda i, members: members[0][0] + "-team")
    assert set(d.services) == {"a-team", "b-team", "z-team"}
    with pytest.raises(ConfigurationError, match="louvain"):
        suggest_by_communities(g, method="magic")
    with pytest.raises(ConfigurationError, match="empty"):
        suggest_by_communities(nx.DiGraph())
