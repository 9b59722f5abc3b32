"""Notebook 07's explorer workflow: the in-memory dedupe double-charges after one crash, the inbox table does not."""

import pytest

from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError
from labsvc.explore import Budget, Workflow, explore, replay
from labsvc.messaging.lab import double_charge_workflow

INVARIANTS = ["no order charged twice", "every order charged once"]


def test_it_is_a_workflow_with_the_two_invariants_and_a_state():
    wf = double_charge_workflow()
    assert isinstance(wf, Workflow)
    assert list(wf.invariants) == INVARIANTS
    assert wf.state is not None and "memory" in wf.name


def test_without_faults_the_order_is_charged_once():
    for inbox in ("memory", "database"):
        result = simtime.run(explore(double_charge_workflow(inbox)))
        assert result.runs == 1 and result.exhausted and result.counterexample is None


def test_one_crash_double_charges_the_in_memory_dedupe_with_a_one_choice_script():
    budget = Budget(crash_after=1)
    result = simtime.run(explore(double_charge_workflow("memory"), budget=budget))
    cx = result.counterexample
    assert cx is not None and cx.violated == INVARIANTS
    assert cx.script == [1] and cx.choices[0].taken == "crash-after"
    assert result.runs == 2 and result.distinct_states == 2 and result.exhausted
    assert cx.state == ((1, 25.0), (1, 25.0))  # two ledger rows for order 1
    again = simtime.run(replay(double_charge_workflow("memory"), cx.script, budget=budget))
    assert again.violated == INVARIANTS and again.state == cx.state
    assert list(again.calls["status"]) == [0, 200]  # the crash left the first call unanswered; the retry charged
    assert again.calls.equals(cx.calls)


def test_the_inbox_table_is_clean_within_the_bound():
    for budget in (Budget(crash_after=1), Budget(crash_after=1, lose_reply=1)):
        result = simtime.run(explore(double_charge_workflow("database"), budget=budget))
        assert result.counterexample is None and result.exhausted
        assert result.distinct_states == 1  # every run left one charge of order 1
    assert "no invariant was violated" in result.summary()


def test_a_lost_reply_alone_does_not_double_charge_the_in_memory_dedupe():
    result = simtime.run(explore(double_charge_workflow("memory"), budget=Budget(lose_reply=1)))
    assert result.counterexample is None and result.exhausted and result.runs == 2


def test_runs_do_not_share_a_database():
    wf = double_charge_workflow("memory")
    first = simtime.run(replay(wf, [1], budget=Budget(crash_after=1)))
    second = simtime.run(replay(wf, [], budget=Budget(crash_after=1)))
    assert len(first.state) == 2 and second.state == ((1, 25.0),)


def test_an_unknown_inbox_is_refused():
    with pytest.raises(ConfigurationError, match="inbox='disk' is not known"):
        double_charge_workflow("disk")
