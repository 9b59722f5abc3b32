"""Error budgets: the share of bad events an SLO allows, and how much of it a run spent."""

import math

import pandas as pd
import pytest

from labsvc.capstone import SLO, plot_slo_report, slo_report
from labsvc.core.errors import ConfigurationError


def traffic(rows):
    return pd.DataFrame(rows, columns=["label", "ok", "latency"])


def test_budget_spent_counts_bad_events_against_what_the_target_allows():
    t = traffic([("browse", True, 0.010)] * 195 + [("browse", False, 0.010)] * 3 + [("browse", True, 0.400)] * 2)
    table = slo_report({"run": t}, slos=(SLO("browse", 0.99), SLO("browse", 0.95, latency_ms=250))).set_index("slo")
    availability = table.loc["browse availability 99.0%"]
    assert availability["requests"] == 200 and availability["bad"] == 3
    assert availability["budget_allowed"] == pytest.approx(2.0)  # 1 % of 200
    assert availability["budget_spent"] == pytest.approx(1.5) and not availability["met"]
    latency = table.loc["browse latency < 250 ms 95.0%"]
    assert latency["bad"] == 5 and latency["budget_spent"] == pytest.approx(0.5) and latency["met"]


def test_a_journey_without_requests_meets_nothing_and_says_so():
    table = slo_report({"quiet": traffic([("browse", True, 0.01)])}, slos=(SLO("history", 0.99),))
    assert table["requests"].iloc[0] == 0 and not table["met"].iloc[0] and math.isnan(table["good_share"].iloc[0])


def test_bad_slos_are_refused_and_the_plot_has_a_bar_per_run():
    with pytest.raises(ConfigurationError, match="between 0 and 1"):
        SLO("browse", 99)
    with pytest.raises(ConfigurationError, match="positive number of milliseconds"):
        SLO("browse", 0.9, latency_ms=0)
    t = traffic([("browse", True, 0.01), ("browse", False, 0.01)])
    fig = plot_slo_report(slo_report({"a": t, "b": t}, slos=(SLO("browse", 0.9),)))
    assert len(fig.axes[0].patches) == 2
