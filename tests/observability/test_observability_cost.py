"""observability_cost: what tracing and RED metrics cost per checkout, on the real clock."""

from __future__ import annotations

import asyncio

import pytest

from labsvc.core.errors import ConfigurationError
from labsvc.core.network import running_networks
from labsvc.observability import COST_VARIANTS, observability_cost


def test_each_variant_is_measured_and_only_tracing_records_spans():
    table = asyncio.run(observability_cost(checkouts=20, rounds=3))
    assert list(table.index) == [label for label, _, _ in COST_VARIANTS]
    assert table["spans"].tolist() == [0.0, 0.0, 12.0, 12.0]   # client + server span for each of six hops
    assert (table["wall_ms"] > 0).all() and (table["cpu_ms"] > 0).all()
    assert table.loc["off", "cpu_vs_off"] == 1.0
    assert table.loc["tracing", "cpu_vs_off"] > 1.0   # twelve spans per checkout are more work than none
    assert [n.name for n in running_networks() if n.name.startswith("nb11-cost")] == []


def test_it_leaves_the_default_time_as_it_found_it():
    from labsvc.core.simtime import DEFAULT_TIME

    assert DEFAULT_TIME.get() == "simulated"   # tests/conftest.py: not a realtime test
    table = asyncio.run(observability_cost(checkouts=2, rounds=1))
    assert (table["wall_ms"] > 0).all()
    assert DEFAULT_TIME.get() == "simulated"   # its networks ran on the real clock; the default is put back


@pytest.mark.parametrize("kwargs, message", [({"checkouts": 0}, "checkouts=0"), ({"rounds": 1.5}, "rounds=1.5")])
def test_a_wrong_count_says_what_to_give(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        asyncio.run(observability_cost(**kwargs))
