"""Notebook 08's self-preservation trial and the checkers of its two new exercises."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError
from labsvc.course import check
from labsvc.course.predictions import forget, predict
from labsvc.discovery.lab import DiscoveryLab, preservation_trial


@pytest.fixture(scope="module")
def trials():
    """The notebook's registry of four, the smallest that evicts after one crash (7), and one over budget (10)."""
    return {n: simtime.run(preservation_trial(n, seed=8)) for n in (4, 7, 10)}


def rows(trial):
    return {r["scenario"]: r for r in trial.to_dict("records")}


def test_a_crash_in_a_registry_of_four_is_preserved_for_good(trials):
    r = rows(trials[4])
    assert list(trials[4]["scenario"]) == ["crash", "partition"] and set(trials[4]["instances"]) == {4}
    assert r["crash"]["preserving"] and r["crash"]["evicted"] == 0
    assert r["crash"]["last_error_s"] > r["crash"]["duration_s"] - 1
    assert r["partition"]["errors"] == 0 and r["partition"]["preserving"] and r["partition"]["evicted"] == 0


def test_seven_instances_evict_the_crashed_one_and_still_keep_a_partition(trials):
    r = rows(trials[7])
    assert not r["crash"]["preserving"] and r["crash"]["evicted"] == 1
    assert 0 < r["crash"]["last_error_s"] - r["crash"]["event_s"] <= 300
    assert r["crash"]["errors"] < rows(trials[4])["crash"]["errors"]
    assert r["partition"]["errors"] == 0 and r["partition"]["preserving"]


def test_the_trial_gives_the_same_table_whenever_it_runs(trials):
    # all simulated networks share one clock: a rerun starts at another moment (a notebook's second pass)
    simtime.run(asyncio.sleep(321.987))
    pd.testing.assert_frame_equal(simtime.run(preservation_trial(4, seed=8)), trials[4])


def test_too_few_instances_are_refused():
    with pytest.raises(ConfigurationError, match="at least 2"):
        simtime.run(preservation_trial(1))


def test_the_enough_instances_checker(trials):
    start = check("08.enough-instances", trials[4])
    assert not start and "never evicted" in start.message and "past the target of 300 s" in start.message
    assert check("08.enough-instances", trials[7])
    over = check("08.enough-instances", trials[10])
    assert not over and "refused" in over.message and "at most 8" in over.message
    noisy = trials[7].copy()
    noisy.loc[noisy["scenario"] == "partition", "errors"] = 12
    assert "the partition cost 12 errors" in check("08.enough-instances", noisy).message
    assert "pass the table" in check("08.enough-instances", pd.DataFrame({"scenario": ["crash"]})).message


@pytest.fixture(scope="module")
def crash_and_leave():
    async def both():
        crash_lab = DiscoveryLab(self_preservation=False, seed=8, name="t-crash")
        leave_lab = DiscoveryLab(self_preservation=False, seed=8, name="t-leave")
        crash = await crash_lab.run([(150, "crash", "catalog-4")], rate=None, duration="8min")
        leave = await leave_lab.run([(150, "leave", "catalog-4")], rate=None, duration="8min")
        return crash, leave
    return simtime.run(both())


def test_the_crash_window_prediction(crash_and_leave):
    crash, leave = crash_and_leave
    window = float(crash.stale_window("catalog-4").set_index("stage").loc["handed out until", "waited_s"])
    assert 150 < window <= 330
    forget("08.predict-crash-window")
    assert "no prediction was made" in check("08.predict-crash-window", crash).message
    predict("08.predict-crash-window", seconds=round(window))
    assert check("08.predict-crash-window", crash)
    predict("08.predict-crash-window", seconds=90)
    wrong = check("08.predict-crash-window", crash)
    assert not wrong and "lease runs out" in wrong.message and "eviction run" in wrong.message
    predict("08.predict-crash-window", seconds=window * 1000)
    assert "looks like milliseconds" in check("08.predict-crash-window", crash).message
    predict("08.predict-crash-window", seconds=4.5)
    assert "looks like minutes" in check("08.predict-crash-window", crash).message
    predict("08.predict-crash-window", ms=270_000)
    assert "given in ms, this question asks for seconds" in check("08.predict-crash-window", crash).message
    assert "crash run of section 2" in check("08.predict-crash-window", leave).message
    assert "crash run of section 2" in check("08.predict-crash-window", "crash").message
    forget("08.predict-crash-window")
