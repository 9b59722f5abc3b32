"""The checker of notebook 06's saga-styles exercise accepts the counts the run shows and says why others are wrong."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from labsvc.course import check, language, set_language


def fake_result(orch=("APPROVED", "CANCELLED", "CANCELLED"), choreo=("APPROVED", "APPROVED", "APPROVED")):
    def run(statuses, unfinished):
        reasons = [None if s == "APPROVED" else "payment_unavailable" for s in statuses]
        orders = pd.DataFrame({"id": range(1, len(statuses) + 1), "status": list(statuses), "reason": reasons})
        return SimpleNamespace(orders=orders, unfinished_at_load_end=unfinished)
    return SimpleNamespace(runs={"orchestrated": run(orch, 2), "choreographed": run(choreo, 3)})


def test_the_counts_of_the_run_pass_and_explain_the_difference():
    result = check("06.saga-styles", {"orchestrated": 2, "choreographed": 0}, result=fake_result())
    assert result
    assert "2 against 0" in result.message and "payment_unavailable" in result.message
    assert "waited at the broker" in result.message


def test_wrong_counts_name_the_style_and_where_to_count():
    result = check("06.saga-styles", {"orchestrated": 0, "choreographed": 0}, result=fake_result())
    assert not result and "orchestrated: 0" in result.message and "CANCELLED" in result.message
    result = check("06.saga-styles", {"orchestrated": 2, "choreographed": 3}, result=fake_result())
    assert not result and "choreographed: 3" in result.message


def test_malformed_answers_and_missing_results_are_explained():
    assert "pass the run too" in check("06.saga-styles", {"orchestrated": 2, "choreographed": 0}).message
    assert "dict of two counts" in check("06.saga-styles", [2, 0], result=fake_result()).message
    assert "whole number" in check("06.saga-styles", {"orchestrated": "2", "choreographed": 0},
                                   result=fake_result()).message
    assert "whole number" in check("06.saga-styles", {"orchestrated": True, "choreographed": 0},
                                   result=fake_result()).message
    assert not check("06.saga-styles", ..., result=fake_result())


def test_the_korean_feedback_is_there():
    previous = language()
    set_language("ko")
    try:
        right = check("06.saga-styles", {"orchestrated": 2, "choreographed": 0}, result=fake_result())
        wrong = check("06.saga-styles", {"orchestrated": 0, "choreographed": 0}, result=fake_result())
    finally:
        set_language(previous)
    assert right and "브로커" in right.message
    assert not wrong and "CANCELLED인 주문" in wrong.message
