"""histogram_quantile and rate/increase follow PromQL's semantics (promql/quantile.go, functions.go)."""

import math
import random

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from labsvc.observability import (
    LATENCY_BUCKETS, bucket_of, exact_quantile, histogram_quantile, increase, parse_exposition, rate,
)

BUCKETS = {"0.1": 2, "0.2": 6, "+Inf": 8}


@pytest.mark.parametrize("q, expected", [
    (0.5, 0.15),    # rank 4 falls in (0.1, 0.2]: 2 of its 4 observations -> halfway
    (0.25, 0.1),    # rank 2 is the whole first bucket: its upper bound
    (0.0, 0.0),     # the first bucket's lower bound is 0
    (0.75, 0.2),    # rank 6 reaches exactly the top of (0.1, 0.2]
    (0.99, 0.2),    # rank in the +Inf bucket: the highest finite bound
    (1.0, 0.2),
])
def test_worked_examples(q, expected):
    assert histogram_quantile(q, BUCKETS) == pytest.approx(expected)


def test_out_of_range_and_degenerate_inputs():
    assert histogram_quantile(-0.1, BUCKETS) == -math.inf
    assert histogram_quantile(1.1, BUCKETS) == math.inf
    assert math.isnan(histogram_quantile(float("nan"), BUCKETS))
    assert math.isnan(histogram_quantile(0.5, {"0.1": 2, "0.2": 6}))          # no +Inf bucket
    assert math.isnan(histogram_quantile(0.5, {"0.1": 0, "+Inf": 0}))         # no observations
    assert math.isnan(histogram_quantile(0.5, {"+Inf": 5}))                   # a single bucket


def test_buckets_are_sorted_merged_and_made_monotonic():
    assert histogram_quantile(0.5, [("+Inf", 8), ("0.2", 6), ("0.1", 2)]) == pytest.approx(0.15)
    assert histogram_quantile(0.5, [("0.1", 1), ("0.1", 1), ("+Inf", 4)]) == pytest.approx(0.1)
    # 0.2 counts fewer than 0.1 (inconsistent data): its count is raised to 5, rank 4 lands in the first bucket.
    assert histogram_quantile(0.5, {"0.1": 5, "0.2": 3, "+Inf": 8}) == pytest.approx(0.08)
    # A first bucket whose bound is <= 0 answers that bound.
    assert histogram_quantile(0.5, {"0": 3, "1": 4, "+Inf": 4}) == 0.0


def _histogram_of(values):
    registry = CollectorRegistry()
    h = Histogram("d_seconds", "d", buckets=LATENCY_BUCKETS, registry=registry)
    for v in values:
        h.observe(v)
    rows = parse_exposition(generate_latest(registry).decode())
    return {r["le"]: r["value"] for r in rows if r["metric"] == "d_seconds_bucket"}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_the_estimate_lies_in_the_bucket_of_the_exact_quantile(seed, q):
    rng = random.Random(seed)
    values = [rng.lognormvariate(math.log(0.02), 0.8) for _ in range(500)]
    estimate, exact = histogram_quantile(q, _histogram_of(values)), exact_quantile(values, q)
    lower, upper = bucket_of(exact, LATENCY_BUCKETS)
    assert lower <= estimate <= upper
    assert abs(estimate - exact) <= upper - lower


def test_exact_quantile_is_the_nearest_rank():
    assert exact_quantile([5, 1, 4, 2, 3], 0.5) == 3
    assert exact_quantile([1, 2, 3, 4], 0.95) == 4
    assert math.isnan(exact_quantile([], 0.5))
    assert bucket_of(0.003, LATENCY_BUCKETS) == (0.0025, 0.005)
    assert bucket_of(99, LATENCY_BUCKETS) == (5.0, math.inf)


def test_increase_extrapolates_like_prometheus():
    # Scrapes every 15 s inside a 60 s window; the counter grows 1/s.
    assert increase([(5, 100), (20, 115), (35, 130), (50, 145)], 0, 60) == pytest.approx(60)
    assert rate([(5, 100), (20, 115), (35, 130), (50, 145)], 0, 60) == pytest.approx(1.0)
    # A counter that starts at 0 in the window is not extrapolated below zero.
    assert increase([(5, 0), (20, 15), (35, 30), (50, 45)], 0, 60) == pytest.approx(55)
    # A gap at the start longer than 1.1 scrape intervals: extrapolate only half an interval.
    assert increase([(30, 100), (40, 110), (50, 120), (60, 130)], 0, 60) == pytest.approx(35)


def test_increase_survives_a_counter_reset_and_needs_two_samples():
    assert increase([(0, 10), (10, 20), (20, 5), (30, 15)], 0, 30) == pytest.approx(25)
    assert math.isnan(increase([(10, 3)], 0, 30))
    assert math.isnan(increase([], 0, 30))


def test_a_quantile_in_the_inf_bucket_is_capped_at_the_highest_finite_bound():
    # Prometheus docs, histogram_quantile: if the quantile falls into the highest bucket (+Inf), the upper
    # bound of the second highest bucket is returned. Here 10 of 100 requests took 30 s, far beyond the top
    # finite bound: the p95 reads that bound, whatever the true latency was, so its error has no bound.
    top = max(LATENCY_BUCKETS)
    values = [0.01] * 90 + [30.0] * 10
    buckets = _histogram_of(values)
    estimate, exact = histogram_quantile(0.95, buckets), exact_quantile(values, 0.95)
    assert estimate == top
    assert exact == 30.0 and bucket_of(exact, LATENCY_BUCKETS) == (top, math.inf)
    widest = max(b - a for a, b in zip((0.0, *LATENCY_BUCKETS), LATENCY_BUCKETS))
    assert exact - estimate == 25.0 > widest  # more than any finite bucket's width
    # Slower outliers change nothing: the estimate stays at the cap.
    assert histogram_quantile(0.95, _histogram_of([0.01] * 90 + [3600.0] * 10)) == top
    # Just below the +Inf bucket the estimate is still interpolated inside a finite bucket.
    assert histogram_quantile(0.9, buckets) < top
