"""SLORun.rule_trial: one burn-rate rule judged on a run, as one row, and the checker of notebook 11's Exercise 5."""

import math

import pandas as pd
import pytest

from labsvc.course import check, set_language
from labsvc.observability import SLO, BurnRateRule
from labsvc.observability.lab import SLORun

AVAILABILITY = SLO("availability 99%", 0.99)
FAST_PAGE = dict(long=3600.0, factor=14.4)


def synthetic_run(outage=(3 * 3600.0, 3 * 3600.0 + 900.0), duration=4 * 3600.0, every=10.0) -> SLORun:
    """One checkout every ``every`` seconds, answered at once; every one within ``outage`` is a 503."""
    starts = [i * every for i in range(int(duration / every))]
    status = [503 if outage[0] <= t <= outage[1] else 201 for t in starts]
    checkouts = pd.DataFrame({"start": starts, "duration": [0.0] * len(starts), "status": status})
    return SLORun(checkouts, outage, 0.0, 1 / every, duration)


def trial(short, run=None, **rule):
    rule = {**FAST_PAGE, **rule}
    return (run or synthetic_run()).rule_trial(AVAILABILITY, BurnRateRule("page", rule["long"], short, rule["factor"]))


def test_a_trial_is_one_row_with_the_rule_the_incident_and_when_it_paged():
    row = trial(300).iloc[0]
    assert (row["rule"], row["factor"], row["long_min"], row["short_min"]) == ("page 14.4x", 14.4, 60.0, 5.0)
    assert row["short_events"] == pytest.approx(30.0) and row["budget"] == pytest.approx(0.01)
    assert row["incident_min"] == 15.0 and row["burn"] == pytest.approx(100.0)
    # 14.4 % of an hour is 8.64 min of failures; evaluated once a minute, so the 9th minute
    assert row["fires_after"] == 9.0 and row["early_pages"] == 0
    assert row["stops_after_end"] == 4.0   # the 5-minute window still over 14.4 four minutes after the end


def test_a_shorter_short_window_stops_the_page_sooner_and_a_rule_that_never_fires_says_nan():
    assert trial(120).iloc[0]["stops_after_end"] < trial(300).iloc[0]["stops_after_end"]
    quiet = trial(300, run=synthetic_run(outage=(3 * 3600.0, 3 * 3600.0 + 60.0))).iloc[0]   # one minute: 6 failures
    assert math.isnan(quiet["fires_after"]) and quiet["firing_for"] == 0.0


def test_the_short_window_checker_misses_refuses_and_passes():
    set_language("en")
    start = check("11.short-window", trial(300))
    assert not start and "4 min after payment recovered, 2 min past the target" in start.message
    assert check("11.short-window", trial(120))
    blip = check("11.short-window", trial(60))
    assert not blip and "refused" in blip.message and "16.7" in blip.message
    other = check("11.short-window", trial(120, long=7200.0))
    assert not other and "refused" in other.message
    assert "pass the row" in check("11.short-window", pd.DataFrame()).message
    minutes = check("11.short-window", trial(2))   # 2 meant as minutes: 2 s holds no checkout
    assert not minutes and "this looks like minutes" in minutes.message


def test_the_short_window_checker_speaks_korean():
    set_language("ko")
    try:
        assert "인정할 수 없습니다" in check("11.short-window", trial(60)).message
    finally:
        set_language("en")
