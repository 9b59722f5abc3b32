"""Quantiles from histogram buckets, the way Prometheus computes them, next to the exact ones.

A histogram does not keep its observations, only how many fell at or below
each bucket's upper bound (``le``). PromQL's ``histogram_quantile(q, ...)``
estimates a quantile from those counts (Prometheus ``promql/quantile.go``,
``bucketQuantile``):

1. sort the buckets by ``le``; the last must be ``+Inf`` (else NaN); merge
   buckets with the same bound and make the counts non-decreasing;
2. ``rank = q * total``; find the first bucket whose cumulative count is
   ``>= rank``;
3. if that is the ``+Inf`` bucket, answer the highest finite bound; if it is
   the first bucket and its bound is ``<= 0``, answer that bound;
4. otherwise interpolate linearly between the bucket's lower bound (the
   previous ``le``, or 0 for the first bucket) and its upper bound.

So the estimate always lies in the bucket that holds the true quantile: it
can be wrong by up to that bucket's width, never more (except in the +Inf
bucket, where it is capped). :func:`exact_quantile` is the nearest-rank
quantile of raw values, the definition that lands in the same bucket.

Counters only grow, so the buckets are used as a *rate* over a window:
``histogram_quantile(0.95, sum by (le) (rate(..._bucket[1m])))``.
:func:`increase` and :func:`rate` follow PromQL's ``extrapolatedRate``
(counter resets, extrapolation towards the window's edges).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

__all__ = ["histogram_quantile", "exact_quantile", "increase", "rate", "bucket_of"]


def _as_bound(le: float | str) -> float:
    if isinstance(le, str):
        return math.inf if le.strip() in ("+Inf", "Inf", "inf") else float(le)
    return float(le)


def histogram_quantile(q: float, buckets: dict | Iterable[tuple[float | str, float]]) -> float:
    """PromQL's ``histogram_quantile(q, buckets)`` for one set of cumulative buckets.

    ``buckets`` maps each upper bound ``le`` (a float or a string such as
    ``"0.05"`` or ``"+Inf"``) to the cumulative count (or rate) at or below it.

    >>> round(histogram_quantile(0.5, {"0.1": 2, "0.2": 6, "+Inf": 8}), 6)   # rank 4: halfway into (0.1, 0.2]
    0.15
    >>> histogram_quantile(0.99, {"0.1": 2, "0.2": 6, "+Inf": 8})  # in +Inf: the highest finite bound
    0.2
    """
    q = float(q)
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    pairs = buckets.items() if isinstance(buckets, dict) else buckets
    rows = sorted(((_as_bound(le), float(c)) for le, c in pairs), key=lambda r: r[0])
    if not rows or not math.isinf(rows[-1][0]):
        return math.nan
    merged: list[list[float]] = []
    for bound, count in rows:  # buckets with the same bound are one bucket
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    highest = merged[0][1]
    for row in merged[1:]:  # the counts' envelope: cumulative counts never decrease
        highest = max(highest, row[1])
        row[1] = highest
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    # sort.Search over every bucket but +Inf: the first whose count reaches the rank.
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


def exact_quantile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-quantile of raw ``values``: the smallest value with at least ``q`` of them at or below.

    This is ``numpy.quantile(..., method="inverted_cdf")``; it lies in the
    same bucket as :func:`histogram_quantile`'s estimate.
    """
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return math.nan
    return float(np.quantile(arr, q, method="inverted_cdf"))


def bucket_of(value: float, bounds: Sequence[float]) -> tuple[float, float]:
    """The ``(lower, upper]`` bucket of ``bounds`` (finite upper bounds, ascending) that holds ``value``."""
    lower = 0.0
    for upper in bounds:
        if value <= upper:
            return lower, float(upper)
        lower = float(upper)
    return lower, math.inf


def increase(samples: Sequence[tuple[float, float]], start: float, end: float, *, as_rate: bool = False) -> float:
    """PromQL's ``increase`` (or ``rate`` with ``as_rate``) of a counter over the window ``[start, end]``.

    ``samples`` are ``(time, value)`` scrapes of one counter, oldest first,
    inside the window. As in Prometheus's ``extrapolatedRate``: a drop in
    value is a counter reset (the value before it is added back); the
    increase seen between the first and last sample is extrapolated towards
    the window's edges, by at most half a scrape interval where the series
    seems to go on beyond the samples, and never below a zero counter.
    Fewer than two samples give NaN (Prometheus returns no value).
    """
    pts = sorted((float(t), float(v)) for t, v in samples if start <= t <= end)
    if len(pts) < 2:
        return math.nan
    result = pts[-1][1] - pts[0][1]
    previous = pts[0][1]
    for _, value in pts[1:]:
        if value < previous:
            result += previous
        previous = value
    sampled = pts[-1][0] - pts[0][0]
    if sampled <= 0:
        return math.nan
    to_start, to_end = pts[0][0] - start, end - pts[-1][0]
    average = sampled / (len(pts) - 1)
    threshold = average * 1.1
    if to_start >= threshold:
        to_start = average / 2
    if result > 0 and pts[0][1] >= 0:
        # The counter cannot have been below zero: do not extrapolate past the moment it was 0.
        to_zero = sampled * (pts[0][1] / result)
        to_start = min(to_start, to_zero)
    if to_end >= threshold:
        to_end = average / 2
    factor = (sampled + to_start + to_end) / sampled
    if as_rate:
        factor /= end - start
    return result * factor


def rate(samples: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """PromQL's ``rate``: :func:`increase` per second of the window."""
    return increase(samples, start, end, as_rate=True)
