"""Notebook 06's explorer workflow: one fault finds the missing release of stock; the course's saga is clean."""

import pytest

from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError
from labsvc.explore import Budget, Workflow, explore, replay
from labsvc.data.lab import choreographed_saga_workflow, exploration_table, saga_workflow

INVARIANTS = ["every saga ends fully committed or fully compensated", "stock never negative",
              "a failed order's stock is released"]
BROKEN = [INVARIANTS[0], INVARIANTS[2]]


def test_it_is_a_workflow_with_the_three_invariants_and_a_state():
    wf = saga_workflow()
    assert isinstance(wf, Workflow)
    assert list(wf.invariants) == INVARIANTS
    assert wf.state is not None and "missing compensation" in wf.name
    assert "fixed" in saga_workflow(False).name


def test_without_faults_the_order_is_approved_even_with_the_bug():
    result = simtime.run(explore(saga_workflow()))
    assert result.runs == 1 and result.exhausted and result.counterexample is None
    run = simtime.run(replay(saga_workflow(), []))
    assert dict(run.state)["orders"] == ((1, "APPROVED", None),)
    assert dict(run.state)["stock"] == ((1, 1),)  # 3 units, 2 reserved


@pytest.mark.parametrize("budget, fault", [(Budget(crash_after=1), "crash-after"),
                                           (Budget(lose_reply=1), "lose-reply")])
def test_one_fault_on_the_charge_finds_the_missing_release_with_a_three_choice_script(budget, fault):
    result = simtime.run(explore(saga_workflow(), budget=budget))
    cx = result.counterexample
    assert cx is not None and cx.violated == BROKEN
    assert cx.script == [0, 0, 1] and cx.choices[2].taken == fault
    assert "POST /charges" in cx.choices[2].kind
    assert result.runs == 4 and result.violations == 1 and result.exhausted
    state = dict(cx.state)
    assert state["orders"] == ((1, "CANCELLED", "payment_unavailable"),)
    assert state["reservations"] == ((1, "RESERVED"),) and state["charges"] == ((1, "REFUNDED"),)


def test_replaying_the_counterexample_gives_the_same_run():
    budget = Budget(crash_after=1)
    cx = simtime.run(explore(saga_workflow(), budget=budget)).counterexample
    again = simtime.run(replay(saga_workflow(), cx.script, budget=budget))
    assert again.violated == cx.violated and again.state == cx.state
    assert again.calls.equals(cx.calls)
    # the charge went unanswered, the saga refunded it, and never called DELETE /reservations
    assert list(zip(again.calls["callee"], again.calls["method"], again.calls["status"])) == [
        ("orders", "POST", 201), ("inventory", "POST", 201), ("payment", "POST", 0), ("payment", "POST", 200)]


def test_the_course_saga_is_clean_and_exhausted_within_the_bound():
    for budget in (Budget(crash_after=1), Budget(lose_reply=1), Budget(duplicate=1)):
        result = simtime.run(explore(saga_workflow(False), budget=budget))
        assert result.counterexample is None and result.exhausted, budget
        assert result.runs <= 10
    fixed = simtime.run(replay(saga_workflow(False), [0, 0, 1], budget=Budget(crash_after=1)))
    assert fixed.ok and dict(fixed.state)["reservations"] == ((1, "RELEASED"),)
    assert dict(fixed.state)["stock"] == ((1, 3),)
    assert ("inventory", "DELETE", 200) in set(zip(fixed.calls["callee"], fixed.calls["method"], fixed.calls["status"]))


def test_a_retry_hides_the_bug_from_one_crash_and_two_crashes_find_it():
    one = simtime.run(explore(saga_workflow(attempts=2), budget=Budget(crash_after=1)))
    assert one.counterexample is None and one.exhausted
    two = simtime.run(explore(saga_workflow(attempts=2), budget=Budget(crash_after=2)))
    assert two.counterexample is not None and two.counterexample.script == [0, 0, 1, 1]


def test_runs_do_not_share_a_database():
    wf = saga_workflow()
    first = simtime.run(replay(wf, [0, 0, 1], budget=Budget(crash_after=1)))
    second = simtime.run(replay(wf, [], budget=Budget(crash_after=1)))
    assert not first.ok and second.ok
    assert dict(second.state)["orders"] == ((1, "APPROVED", None),)


def test_the_choreographed_saga_hides_the_same_bug_behind_one_fault_and_is_clean_without_it():
    budget = Budget(crash_after=1)
    wf = choreographed_saga_workflow()
    assert list(wf.invariants) == INVARIANTS and "choreographed" in wf.name
    found = simtime.run(explore(wf, budget=budget))
    assert found.counterexample.script == [0, 0, 1] and found.counterexample.violated == BROKEN
    assert found.runs == 5 and found.exhausted
    assert dict(found.counterexample.state)["reservations"] == ((1, "RESERVED"),)
    clean = simtime.run(explore(choreographed_saga_workflow(False), budget=budget))
    assert clean.counterexample is None and clean.exhausted and clean.runs == 5
    # payment reported the charge (the order was approved) before inventory's StockReleased cancelled it
    again = simtime.run(replay(choreographed_saga_workflow(False), [0, 0, 1], budget=budget))
    assert again.ok and dict(again.state)["reservations"] == ((1, "RELEASED"),)
    hops = list(zip(again.calls["caller"], again.calls["callee"], again.calls["status"]))
    assert hops.index(("payment", "orders", 200)) < hops.index(("inventory", "orders", 200))


def test_the_exploration_table_has_one_row_per_exploration():
    budget = Budget(crash_after=1)
    table = exploration_table({"bug": simtime.run(explore(saga_workflow(), budget=budget)),
                               "fixed": simtime.run(explore(saga_workflow(False), budget=budget))})
    assert table["workflow"].tolist() == ["bug", "fixed"]
    assert table["shortest_script"].tolist() == [[0, 0, 1], None]
    assert table["violated"].tolist() == [", ".join(BROKEN), ""]
    assert table["exhausted"].all() and table["runs"].tolist() == [4, 4]


@pytest.mark.parametrize("kwargs, match", [
    ({"missing_compensation": "yes"}, "missing_compensation='yes'"),
    ({"attempts": 0}, "attempts=0"),
    ({"attempts": True}, "attempts=True"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        saga_workflow(**kwargs)
    if "missing_compensation" in kwargs:
        with pytest.raises(ConfigurationError, match=match):
            choreographed_saga_workflow(**kwargs)
