"""BreakerResult.state_changes: the breaker's transitions as a table whose reasons fit a table cell."""

from __future__ import annotations

import pandas as pd

from labsvc.resilience.lab import BreakerResult


def result_with(events: pd.DataFrame) -> BreakerResult:
    return BreakerResult(True, pd.DataFrame(), events, pd.DataFrame(), (0.5, 1.5), load=None)


def test_only_transitions_are_kept_and_trial_reasons_are_shortened():
    events = pd.DataFrame([
        {"time": 0.6, "kind": "error", "from_state": None, "to_state": None, "reason": ""},
        {"time": 0.64, "kind": "state_transition", "from_state": "CLOSED", "to_state": "OPEN",
         "reason": "failure rate 50% >= threshold 50%"},
        {"time": 1.02, "kind": "state_transition", "from_state": "HALF_OPEN", "to_state": "OPEN",
         "reason": "trial calls in HALF_OPEN: failure rate 100% >= threshold 50%"},
        {"time": 1.68, "kind": "state_transition", "from_state": "HALF_OPEN", "to_state": "CLOSED",
         "reason": "trial calls in HALF_OPEN: failure rate 0% < 50% and slow-call rate 0% < 100%"},
    ])
    table = result_with(events).state_changes()
    assert list(table.columns) == ["time", "from_state", "to_state", "why"]
    assert table["why"].tolist() == ["failure rate 50% >= threshold 50%",
                                     "trial calls: failure rate 100% >= threshold 50%",
                                     "trial calls: failure rate 0% < 50%"]


def test_a_slow_call_rate_that_decided_something_is_kept():
    events = pd.DataFrame([{"time": 1.0, "kind": "state_transition", "from_state": "HALF_OPEN", "to_state": "CLOSED",
                            "reason": "trial calls in HALF_OPEN: failure rate 0% < 50% and slow-call rate 33% < 100%"}])
    assert result_with(events).state_changes()["why"].iloc[0] == (
        "trial calls: failure rate 0% < 50% and slow-call rate 33% < 100%")


def test_without_a_breaker_the_table_is_empty():
    empty = pd.DataFrame(columns=["time", "kind", "state", "from_state", "to_state"])
    table = result_with(empty).state_changes()
    assert table.empty and list(table.columns) == ["time", "from_state", "to_state", "why"]
