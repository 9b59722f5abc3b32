"""Fixtures for the design-track tests: small graphs whose metrics are worked out by hand."""

from __future__ import annotations

import networkx as nx
import pytest

from labsvc.design import Decomposition


@pytest.fixture(autouse=True)
def _headless_matplotlib(monkeypatch):
    # The design plots use matplotlib.figure.Figure directly and need no
    # backend; this only guards against a stray pyplot import opening a window.
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture
def square() -> nx.DiGraph:
    """Four modules in a cycle-ish square, total weight 8.

    a -> b (2), b -> a (1), b -> c (1), c -> d (3), d -> a (1)
    """
    g = nx.DiGraph()
    g.add_edge("a", "b", weight=2)
    g.add_edge("b", "a", weight=1)
    g.add_edge("b", "c", weight=1)
    g.add_edge("c", "d", weight=3)
    g.add_edge("d", "a", weight=1)
    return g


@pytest.fixture
def square_split() -> Decomposition:
    """x = {a, b}, y = {c, d}."""
    return Decomposition("split", {"a": "x", "b": "x", "c": "y", "d": "y"})


@pytest.fixture
def six() -> nx.DiGraph:
    """Six modules, total weight 14.

    a -> b (4), b -> c (2), c -> a (1), a -> d (1), d -> e (3), e -> f (2), f -> a (1)
    """
    g = nx.DiGraph()
    for u, v, w in [("a", "b", 4), ("b", "c", 2), ("c", "a", 1), ("a", "d", 1),
                    ("d", "e", 3), ("e", "f", 2), ("f", "a", 1)]:
        g.add_edge(u, v, weight=w)
    return g


@pytest.fixture
def six_split() -> Decomposition:
    """X = {a, b, c}, Y = {d, e}, Z = {f}."""
    return Decomposition("xyz", {"a": "X", "b": "X", "c": "X", "d": "Y", "e": "Y", "f": "Z"})
