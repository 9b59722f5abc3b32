"""Notebook 12's new checkers: the stale-share prediction and the token lifetime, in both languages."""

from __future__ import annotations

import pytest

from labsvc.auth.lab import stolen_token
from labsvc.config import refresh_under_load
from labsvc.core import simtime
from labsvc.course import check, set_language
from labsvc.course.predictions import forget, predict


@pytest.fixture(scope="module")
def one():
    return simtime.run(refresh_under_load(method="one", rate=60, duration=0.9, change_at=0.3, name="ex-one"))


def test_the_stale_share_prediction_is_judged_in_percent(one):
    forget("12.predict-stale-share")
    try:
        assert "no prediction" in check("12.predict-stale-share", one).message
        predict("12.predict-stale-share", percent=0.66)
        share = check("12.predict-stale-share", one)
        assert not share.ok and "between 0 and 1" in share.message and "percentage" in share.message
        predict("12.predict-stale-share", percent=66)
        assert check("12.predict-stale-share", one).ok
        predict("12.predict-stale-share", percent=10)
        assert "Off by" in check("12.predict-stale-share", one).message
        predict("12.predict-stale-share", ratio=66)
        assert "percent" in check("12.predict-stale-share", one).message
    finally:
        forget("12.predict-stale-share")


def test_the_stale_share_checker_wants_the_one_instance_run():
    bus = simtime.run(refresh_under_load(method="bus", rate=40, duration=0.5, change_at=0.2, name="ex-bus"))
    assert "refreshed one instance" in check("12.predict-stale-share", bus).message


def test_the_token_lifetime_checker_guards_the_budget_and_the_run_length():
    run = lambda ttl, minutes=30: simtime.run(stolen_token(ttl=ttl, minutes=minutes, name="ex-stolen"))  # noqa: E731
    start = check("12.token-lifetime", run(300))
    assert not start.ok and "worked for 300 s" in start.message and "missed by 150 s" in start.message
    assert check("12.token-lifetime", run(90)).ok and check("12.token-lifetime", run(150)).ok
    short = check("12.token-lifetime", run(80))
    assert not short.ok and "72 tokens an hour" in short.message and "refused" in short.message
    assert "keep the exercise's 30" in check("12.token-lifetime", run(120, minutes=10)).message
    assert "stolen_token(ttl=...)" in check("12.token-lifetime", "nope").message
    set_language("ko")
    try:
        assert "150초 넘쳤습니다" in check("12.token-lifetime", run(300)).message
    finally:
        set_language("en")
