"""The data plots draw what their DataFrames hold and return figures (no pyplot)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from labsvc.data import plot_composition, plot_read_model_lag, plot_saga_outcomes


def test_read_model_lag_shows_distribution_and_time_with_percentiles_and_load_end():
    lag = pd.DataFrame({"type": ["OrderPlaced"] * 8 + ["OrderShipped", "OrderCancelled"],
                        "lag_ms": [1, 2, 3, 4, 5, 6, 7, 8, 9, 50.0], "t": [i / 10 for i in range(10)]})
    fig = plot_read_model_lag(lag, load_ended=0.8)
    assert isinstance(fig, Figure)
    dist, over_time = fig.axes
    labels = [line.get_label() for line in dist.get_lines()]
    assert labels[0].startswith("p50 = 5.5") and labels[1].startswith("p99")
    assert len(over_time.collections) == 3  # one scatter per event type
    assert [line.get_xdata()[0] for line in over_time.get_lines()] == [0.8]


def test_saga_outcomes_stack_one_bar_per_scenario():
    outcomes = pd.DataFrame([
        {"scenario": "calm", "outcome": "approved", "orders": 10},
        {"scenario": "storm", "outcome": "approved", "orders": 6},
        {"scenario": "storm", "outcome": "out_of_stock", "orders": 4},
    ])
    fig = plot_saga_outcomes(outcomes)
    ax = fig.axes[0]
    widths = sorted(round(p.get_width()) for p in ax.patches)
    assert widths == [0, 4, 6, 10]  # calm has no out_of_stock bar segment (width 0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["approved", "out_of_stock"]


def test_composition_plots_hops_and_latency_for_the_rows_with_every_service_up():
    table = pd.DataFrame([
        {"strategy": "sequential", "delivery": "up", "hops": 42, "p50_ms": 100.0},
        {"strategy": "batched", "delivery": "up", "hops": 4, "p50_ms": 7.0},
        {"strategy": "batched", "delivery": "down", "hops": 4, "p50_ms": 5.0},
    ])
    hops, latency = plot_composition(table).axes
    assert [p.get_height() for p in hops.patches] == [42, 4]
    assert [p.get_height() for p in latency.patches] == [100.0, 7.0]
