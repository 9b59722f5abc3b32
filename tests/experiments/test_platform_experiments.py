"""The notebook-13 harnesses: healing on a fake clock, one rollout under load, figures."""

from __future__ import annotations

import asyncio

import pytest
from matplotlib.figure import Figure

from labsvc.platform.lab import (
    ENDPOINT_DELAY, PRE_STOP, heal_experiment, plot_healing, plot_rollouts, prestop_comparison, rollout_experiment,
    rollout_summary,
)
from labsvc.core import simtime


def test_heal_experiment_restarts_every_instance_after_its_backoff():
    result = simtime.run(heal_experiment(instances=2, seconds=41, crash_at=3, crash_again=20, name="t-heal"))
    events = result.events
    backoff = events[events.reason == "BackOff"][["time", "instance"]].values.tolist()
    restarted = events[events.reason == "Restarted"][["time", "instance"]].values.tolist()
    assert [i for _, i in backoff] == [i for _, i in restarted] == ["web-1", "web-2", "web-1"]
    # both wait 10 s after the crash at 3 s; web-1's second crash in a row waits 20 s (a start costs a millisecond)
    assert [round(t) for t, _ in backoff] == [3, 3, 20]
    waits = [round(back - crash, 6) for (crash, _), (back, _) in zip(backoff, restarted)]
    assert waits == pytest.approx([10, 10, 20], abs=0.005)
    assert result.timeline["ready"].iloc[-1] == 2
    assert isinstance(plot_healing(result), Figure)


def test_a_rolling_update_under_load_completes_without_failures():
    run = simtime.run(rollout_experiment("rolling", rate=15, name="t-rolling"))
    assert run.completed and not run.rolled_back
    summary = rollout_summary({"rolling": run})
    assert summary.loc[0, "failed"] == 0 and summary.loc[0, "requests"] == 15 * 16   # 16 s of load
    assert isinstance(plot_rollouts({"rolling": run}), Figure)


def test_prestop_comparison_only_the_sleep_covers_the_endpoints_lag():
    runs = simtime.run(prestop_comparison(seed=13))
    summary = rollout_summary(runs).set_index("run")
    assert list(summary.index) == ["no preStop", "no preStop, one retry", f"preStop {PRE_STOP:g} s"]
    assert (summary["endpoint_delay"] == ENDPOINT_DELAY).all() and summary["completed"].all()
    assert summary["pre_stop"].tolist() == [0, 0, PRE_STOP] and summary["retry"].tolist() == [False, True, False]
    none, retry, sleep = summary["failed"].tolist()
    assert none > 0 and 0 < retry < none and sleep == 0
    lost = runs["no preStop"].load.loc[lambda df: ~df["ok"]]
    assert set(lost["error"]) == {"InstanceDownError"}          # refused by stopped pods, not answered badly
    start, end = runs["no preStop"].window
    assert lost["due"].between(start, end + ENDPOINT_DELAY).all()   # only while the rollout's deletions lag
    assert simtime.run(prestop_comparison(seed=13))["no preStop"].load.equals(runs["no preStop"].load)  # exact

def test_an_unknown_strategy_names_the_known_ones():
    with pytest.raises(KeyError, match="blue-green"):
        simtime.run(rollout_experiment("big-bang"))


def test_the_containers_invoice_job_runs_once_per_day(tmp_path, monkeypatch):
    from labsvc.platform.lab import run_invoices
    from labsvc.platform import SqliteUpsertWriter

    monkeypatch.setenv("LABSVC_BATCH_DIR", str(tmp_path))
    monkeypatch.setenv("LABSVC_BATCH_DAY", "2026-12-04")
    assert run_invoices() == "COMPLETED"
    assert run_invoices() == "COMPLETED"                 # the same day again: already complete
    rows = SqliteUpsertWriter(tmp_path / "invoices.db").rows()
    assert len(rows) == 100 and (rows["times"] == 1).all()
