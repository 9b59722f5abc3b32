"""burst_and_flood: a page load's burst and a scraper's flood behind one per-client token bucket."""

from __future__ import annotations

import asyncio

from labsvc.course import check
from labsvc.course.predictions import forget, predict
from labsvc.gateway.lab import BurstTrial, burst_and_flood


def run(capacity, refill_rate) -> BurstTrial:
    return asyncio.run(burst_and_flood(capacity, refill_rate))


def test_the_burst_gets_only_the_tokens_in_the_bucket_and_the_flood_gets_capacity_plus_refill():
    small = run(10, 20)
    assert (small.burst_requests, small.burst_admitted) == (30, 10)
    assert small.flood_requests == 200
    assert 10 + 20 * 1.9 <= small.flood_admitted <= 10 + 20 * 2  # the bucket, then the refill for 2 s
    assert small.backend_calls == small.burst_admitted + small.flood_admitted  # throttled requests cost no hop
    assert small.summary.set_index("client").loc["scraper", "throttled"] == 200 - small.flood_admitted


def test_the_same_limits_give_the_same_numbers_on_every_run():
    a, b = run(30, 10), run(30, 10)
    assert (a.burst_admitted, a.flood_admitted, a.backend_calls) == (b.burst_admitted, b.flood_admitted,
                                                                      b.backend_calls)


def test_the_checker_judges_the_measured_result_and_guards_the_refill_rule():
    assert not check("09.burst-and-flood", run(10, 20))
    assert check("09.burst-and-flood", run(30, 10))
    too_fast = check("09.burst-and-flood", run(30, 20))
    assert not too_fast and "more than the 60 allowed" in too_fast.message
    slow = check("09.burst-and-flood", run(60, 5))
    assert not slow and "at least 10 requests per second" in slow.message


def test_the_page_prediction_is_judged_in_milliseconds():
    forget("09.predict-page")
    assert "no prediction was made" in check("09.predict-page", 21.5).message
    predict("09.predict-page", seconds=0.02)
    assert "asks for ms" in check("09.predict-page", 21.5).message
    predict("09.predict-page", ms=0.02)
    assert "looks like seconds" in check("09.predict-page", 21.5).message
    predict("09.predict-page", ms=20)
    assert check("09.predict-page", 21.5)
    predict("09.predict-page", ms=60)
    assert not check("09.predict-page", 21.5)
    forget("09.predict-page")
