"""The design figures: returned as Figures, laid out the same way every time."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from labsvc.design import (
    compare,
    load_shop,
    plot_comparison,
    plot_context_map,
    plot_decomposition,
)
from labsvc.core.errors import ConfigurationError


def node_positions(fig: Figure) -> np.ndarray:
    # every node set is a PathCollection with its centres as offsets
    ax = fig.axes[0]
    return np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])


def test_context_map_figure_is_deterministic():
    cm = load_shop().context_map
    a, b = plot_context_map(cm, seed=7), plot_context_map(cm, seed=7)
    assert isinstance(a, Figure)
    assert np.array_equal(node_positions(a), node_positions(b))
    assert not np.array_equal(node_positions(a), node_positions(plot_context_map(cm, seed=8)))
    ax = a.axes[0]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"core", "supporting", "generic",
                                                                   "external"}
    labels = {t.get_text() for t in ax.texts}
    assert {"catalog", "payment-provider", "OHS, ACL", "SK"} <= labels


def test_context_map_rejects_other_objects():
    with pytest.raises(ConfigurationError, match="ContextMap"):
        plot_context_map({"catalog": "order"})


def test_decomposition_figure():
    shop = load_shop()
    fig = plot_decomposition(shop.graph, shop.decompositions["ddd"], seed=1)
    assert isinstance(fig, Figure)
    assert "10 services" in fig.axes[0].get_title()
    again = plot_decomposition(shop.graph, shop.decompositions["layered"], seed=1)
    # same seed, same graph: modules keep their place whatever the decomposition
    assert np.array_equal(node_positions(fig)[: len(shop.modules)],
                          node_positions(again)[: len(shop.modules)])


def test_comparison_figure_and_into_existing_axes():
    shop = load_shop()
    table = compare(shop.decompositions, shop.graph)  # no changes: that panel is skipped
    fig = plot_comparison(table)
    assert [ax.get_title() for ax in fig.axes] == [
        "icp (↓ better)", "cohesion (↑ better)", "modularity (↑ better)"]
    with pytest.raises(ConfigurationError, match="none of"):
        plot_comparison(table, metrics=["speed"])
    host = Figure()
    ax = host.add_subplot()
    assert plot_context_map(shop.context_map, ax=ax) is host
