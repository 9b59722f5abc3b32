"""Tolerances follow Chaos Toolkit's rules."""

import asyncio
import math

import pytest

from labsvc.chaos import within_tolerance
from labsvc.core import simtime


def within(tolerance, value, call_probe=None):
    return simtime.run(within_tolerance(tolerance, value, call_probe))


@pytest.mark.parametrize("tolerance, value, expected", [
    (True, True, True), (True, False, False), (True, 1, True),
    ("ok", "ok", True), ("ok", "okay", False),
    (200, {"status": 200, "body": {}}, True), (200, {"status": 503}, False), (3, 3, True), (3, 3.5, False),
    ([0.99, 1.0], 0.995, True), ([0.99, 1.0], 0.98, False), ([0.99, 1.0], 1.0, True),
    ([0.99, 1.0], math.nan, False), ([0.99, 1.0], "x", False),
    ([200, 201, 204], {"status": 204}, True), (["a", "b", "c"], "b", True), (["a", "b", "c"], "d", False),
    ({"type": "range", "range": [0, 300]}, 120.0, True), ({"type": "range", "range": [0, 300]}, 301, False),
    ({"type": "range", "range": [0, 1], "target": "share"}, {"share": 0.5}, True),
    ({"type": "regex", "pattern": "^UP"}, "UP and running", True), ({"type": "regex", "pattern": "^UP"}, "DOWN", False),
    ({"type": "regex", "pattern": "ok", "target": "body"}, {"body": "all ok"}, True),
])
def test_values_against_tolerances(tolerance, value, expected):
    assert within(tolerance, value) is expected


def test_a_probe_tolerance_calls_its_judge_and_a_failing_judge_means_not_within():
    seen = []

    async def judge(tol, value):
        seen.append(value)
        return value > 10

    assert within({"type": "probe"}, 11, judge) is True
    assert within({"type": "probe"}, 9, judge) is False

    async def broken(tol, value):
        raise RuntimeError("judge crashed")

    assert within({"type": "probe"}, 11, broken) is False
    assert seen == [11, 9]
