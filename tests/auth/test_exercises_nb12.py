"""Notebook 12's checkers accept the right answers and explain the wrong ones."""

from __future__ import annotations

import asyncio

import pytest

from labsvc.auth import INVENTORY_SCOPES, probe_scopes
from labsvc.config import refresh_under_load
from labsvc.course import check
from labsvc.core import simtime


def test_precedence_accepts_the_later_profile_and_explains_the_usual_mistake():
    assert check("12.precedence", "guten Tag").ok
    wrong = check("12.precedence", "good day")
    assert not wrong.ok and "greeting-prod" in wrong.message and "greeting-eu" in wrong.message
    assert not check("12.precedence", "hello from prod").ok
    nothing = check("12.precedence", "bonjour")
    assert not nothing.ok and "no source gives" in nothing.message
    assert not check("12.precedence", 42).ok


def test_route_scope_rejects_a_missing_scope_and_an_excessive_one():
    leaky = {**INVENTORY_SCOPES, "DELETE /stock/{sku}": ()}
    bad = check("12.route-scope", leaky, probe=simtime.run(probe_scopes(leaky, name="ex-leaky")))
    assert not bad.ok and "DELETE /stock/{sku}" in bad.message and "stock:admin" in bad.message
    strict = {**INVENTORY_SCOPES, "GET /stock/{sku}": ("stock:read", "stock:write")}
    too_strict = check("12.route-scope", strict, probe=simtime.run(probe_scopes(strict, name="ex-strict")))
    assert not too_strict.ok and "refuses 'reporting'" in too_strict.message
    right = dict(INVENTORY_SCOPES)
    probe = simtime.run(probe_scopes(right, name="ex-right"))
    assert check("12.route-scope", right, probe=probe).ok
    mismatch = check("12.route-scope", leaky, probe=probe)
    assert not mismatch.ok and "another table" in mismatch.message


@pytest.mark.parametrize("method,ok,words", [("one", False, "greeting-2"), ("none", False, "greeting-1"),
                                             ("bus", True, "one event")])
def test_reach_every_instance_judges_the_run(method, ok, words):
    run = simtime.run(refresh_under_load(method=method, rate=40, duration=0.5, change_at=0.2, name=f"ex-{method}"))
    feedback = check("12.reach-every-instance", run)
    assert feedback.ok is ok and words in feedback.message


def test_every_feedback_has_korean():
    from labsvc.course import set_language

    set_language("ko")
    try:
        assert "프로파일" in check("12.precedence", "guten Tag").message
        assert "결과" in check("12.reach-every-instance", "nope").message
    finally:
        set_language("en")
