"""The workbook's two pages on windows of their true lengths (5 min, 30 min, 1 h, 6 h), on simulated time.

A sharp outage fires the 14.4x page within minutes and a slow burn only the
6x page, after hours; both reset after the incident, as *The Site
Reliability Workbook* (chapter 5) describes. Times are simulated seconds.
"""

import asyncio

import numpy as np
import pytest

from labsvc.observability import HOUR, SLO, WORKBOOK_RULES, alert_summary, evaluate, observed_shop, slo_run

MINUTE = 60.0
AVAILABILITY = SLO("availability 99%", 0.99)
PAGES = WORKBOOK_RULES[:2]


def seeded_run(*, every: float, duration: float, incident: tuple[float, float], failing: float, seed: int):
    """One event every ``every`` s; during ``incident`` each fails with probability ``failing`` (seeded)."""
    times = np.arange(every, duration + every / 2, every)
    rng = np.random.default_rng(seed)
    bad = (times > incident[0]) & (times <= incident[1]) & (rng.random(len(times)) < failing)
    alerts = evaluate(times, ~bad, AVAILABILITY, PAGES, step=MINUTE, start=0.0, end=duration)
    return alerts, alert_summary(alerts, incident).set_index("rule")


def test_a_sharp_outage_fires_the_fast_page_within_minutes_and_it_resets():
    incident = (3 * HOUR, 3 * HOUR + 15 * MINUTE)
    alerts, summary = seeded_run(every=10.0, duration=235 * MINUTE, incident=incident, failing=1.0, seed=1)
    fast, slow = summary.loc["page 14.4x"], summary.loc["page 6x"]
    # 14.4 % of the last hour failing takes 14.4 % of an hour (8.6 min) at 100 % failures: the next evaluation.
    assert fast["fires_after"] == 9
    assert fast["stops_after_end"] <= 5             # the 5-minute window empties
    assert fast["long_only"] > 20                   # while the 1-hour window still burns above 14.4
    assert fast["fires_after"] < slow["fires_after"] <= 15
    assert slow["stops_after_end"] <= 30            # the 30-minute window empties
    assert not alerts[alerts["time"] <= incident[0]]["firing"].any()
    assert not alerts[alerts["time"] > incident[1] + 30 * MINUTE]["firing"].any()


def test_a_slow_burn_fires_only_the_six_hour_page_after_hours_and_it_resets():
    incident = (90 * MINUTE, 330 * MINUTE)
    alerts, summary = seeded_run(every=10.0, duration=6 * HOUR, incident=incident, failing=0.1, seed=2)
    assert not alerts[alerts["rule"] == "page 14.4x"]["firing"].any(), "a 10x burn never pages at 14.4x"
    slow = summary.loc["page 6x"]
    assert slow["fires_after"] >= 60                # hours, not minutes: the 6-hour window fills slowly
    assert slow["stops_after_end"] <= 30
    assert not alerts[alerts["time"] <= incident[0] + HOUR]["firing"].any()
    assert alerts[alerts["rule"] == "page 6x"]["long_burn"].max() < 14.4


@pytest.mark.parametrize("tracing", [True, False])
def test_a_shop_without_tracing_or_metrics_keeps_only_its_call_log(tracing):
    net = observed_shop(name="slo-quiet", tracing=tracing, metrics=tracing)
    assert (net.instrumentation is not None) is tracing


async def _outage_then_quiet():
    net = observed_shop(name="slo-true", tracing=False, metrics=False)
    await net.start()
    try:
        run = await slo_run(net, rate=0.05, duration="225min", incident=("3h", "195min"), error_rate=1.0)
        again = await slo_run(net, rate=0.05, duration="1h", incident=("10min", "20min"), error_rate=0.0)
    finally:
        await net.stop()
    return run, again


def test_slo_run_pages_on_a_seeded_outage_at_its_true_times():
    run, again = asyncio.run(_outage_then_quiet())
    assert run.incident == pytest.approx((3 * HOUR, 3 * HOUR + 15 * MINUTE))
    assert len(run.checkouts) == 675 and run.duration == 225 * MINUTE
    bad = ~run.good
    assert bad.sum() > 0 and run.answered[bad].between(*run.incident).all()
    alerts = run.alerts(AVAILABILITY)
    summary = alert_summary(alerts, run.incident).set_index("rule")
    assert 8 <= summary.loc["page 14.4x", "fires_after"] <= 10
    assert summary.loc["page 14.4x", "stops_after_end"] <= 5
    assert summary.loc["page 6x", "stops_after_end"] <= 30
    assert not alerts[alerts["time"] <= run.incident[0]]["firing"].any()
    budget = run.budget(AVAILABILITY)
    assert budget["allowed_bad"] == pytest.approx(0.05 * 30 * 24 * HOUR * 0.01)
    assert budget["budget_consumed"] == pytest.approx(bad.sum() / budget["allowed_bad"])
    # A later run on the same network counts only its own checkouts; without a fault nothing pages.
    assert len(again.checkouts) == 180 and again.good.all()
    assert not again.alerts(AVAILABILITY)["firing"].any()
