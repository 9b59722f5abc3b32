"""Multiwindow, multi-burn-rate alerts (SRE workbook ch. 5) fire in an incident, not in steady state, and reset."""

import pytest

from labsvc import FakeClock
from labsvc.core.errors import ConfigurationError
from labsvc.observability import HOUR, SLO, WORKBOOK_RULES, EventSeries, SLOMonitor, error_budget, evaluate, scaled

MINUTE = 60.0


def replay(clock, monitor, *, until, every=1.0, bad=lambda t: False, log=None):
    """One event every ``every`` seconds until ``until``; ``log`` collects (time, firing rule names) each minute."""
    while clock.now() < until:
        clock.advance(every)
        monitor.record(not bad(clock.now()))
        if log is not None and clock.now() % MINUTE == 0:
            log.append((clock.now(), {r.name for r in monitor.firing() if r.severity == "page"}))


def test_the_page_fires_during_the_incident_not_before_and_resets_after():
    clock = FakeClock()
    monitor = SLOMonitor(SLO("availability", 0.999), WORKBOOK_RULES, clock)
    n = {"i": 0}

    def steady(t):  # one bad event in 2,000: half the budget
        n["i"] += 1
        return n["i"] % 2000 == 0

    log = []
    replay(clock, monitor, until=3 * HOUR, bad=steady, log=log)
    assert all(not firing for _, firing in log), "no page in steady state"
    incident = (3 * HOUR, 3.5 * HOUR)
    replay(clock, monitor, until=incident[1], bad=lambda t: int(t) % 2 == 0, log=log)  # half the events fail
    replay(clock, monitor, until=6 * HOUR, bad=steady, log=log)

    fast = {t for t, firing in log if "page 14.4x" in firing}
    assert fast, "the 14.4x page fired"
    assert min(fast) > incident[0] and min(fast) <= incident[0] + 5 * MINUTE   # within minutes of the onset
    assert all(t in fast for t in range(int(incident[0] + 5 * MINUTE), int(incident[1]) + 1, 60))
    # The 5-minute window resets the page within 5 minutes of the end, though the 1 h window still burns.
    assert max(fast) <= incident[1] + 5 * MINUTE
    assert monitor.burn_rate(HOUR) < 14.4 and not {r.name for r in monitor.firing() if r.severity == "page"}


def test_burn_rate_and_budget_arithmetic():
    slo = SLO("availability", 0.99)
    assert slo.budget == pytest.approx(0.01)
    events = EventSeries([1, 2, 3, 4], [True, False, True, True])
    assert events.counts(0, 4) == (1, 4) and events.bad_ratio(4, 2) == 0.0
    budget = error_budget(slo, [True] * 990 + [False] * 20)
    assert budget["allowed_bad"] == pytest.approx(10.1) and budget["budget_consumed"] == pytest.approx(20 / 10.1)
    with pytest.raises(ConfigurationError, match="between 0 and 1"):
        SLO("x", 99.9)
    with pytest.raises(ConfigurationError, match="time order"):
        events.add(0.5, True)


def test_scaled_rules_keep_factors_and_shrink_windows():
    rules = scaled(WORKBOOK_RULES, 3600)
    assert [(r.long, r.short, r.factor) for r in rules[:2]] == [(1.0, 5 / 60, 14.4), (6.0, 0.5, 6.0)]


def test_evaluate_on_a_timeline_marks_only_the_incident():
    times = [i * 0.01 for i in range(1, 1001)]                    # 10 s, 100 events/s
    good = [not (4.0 <= t < 5.0 and i % 2 == 0) for i, t in enumerate(times)]
    rule = scaled(WORKBOOK_RULES, 3600)[0]                       # 1 s and 1/12 s
    alerts = evaluate(times, good, SLO("a", 0.99), [rule], step=0.05)
    firing = alerts[alerts["firing"]]["time"]
    assert firing.min() > 4.0 and firing.max() <= 5.0 + rule.short + 1e-9
    assert not alerts[(alerts["time"] < 4.0) | (alerts["time"] > 5.2)]["firing"].any()
