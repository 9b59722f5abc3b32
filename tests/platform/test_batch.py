"""Spring Batch semantics: chunks, restart from the last commit, skip and retry; Kubernetes Job and schedule."""

from __future__ import annotations

import asyncio

import pytest

from labsvc.core.clock import FakeClock
from labsvc.platform import (
    BatchStatus, ChunkStep, CronSchedule, Job, JobRepository, KubernetesJob, SkipLimitExceeded, SqliteUpsertWriter,
)
from labsvc.core import simtime


class Crash(Exception):
    """The process dies (not retryable, not skippable)."""


def items():
    return [(f"order-{i:03d}", i) for i in range(100)]


def make_job(tmp_path, processor, **step_kw):
    repo = JobRepository(tmp_path / "repo.db")
    writer = SqliteUpsertWriter(tmp_path / "out.db")
    step = ChunkStep("invoice", items, processor, writer, commit_interval=10, **step_kw)
    return Job("nightly-invoices", [step], repo, FakeClock()), repo, writer


def test_a_job_crashed_mid_run_and_restarted_writes_every_item_exactly_once(tmp_path):
    crashed = {"done": False}

    def process(item):
        key, n = item
        if n == 47 and not crashed["done"]:
            crashed["done"] = True
            raise Crash("killed at item 47")
        return key, n * 2

    job, repo, writer = make_job(tmp_path, process)
    with pytest.raises(Crash):
        job.run(date="2026-12-04")
    first = repo.step_executions.iloc[-1]
    assert (first["status"], first["position"], first["commit_count"]) == (BatchStatus.FAILED, 40, 4)
    assert len(writer.rows()) == 40
    execution = job.run(date="2026-12-04")                      # the restart
    assert execution.status == BatchStatus.COMPLETED
    rows = writer.rows()
    assert len(rows) == 100 and (rows["times"] == 1).all()     # every item once, none twice
    assert writer.writes == 100                                 # not even a deduplicated rewrite
    second = repo.step_executions.iloc[-1]
    assert (second["read_count"], second["write_count"], second["commit_count"]) == (100, 100, 10)
    assert list(repo.job_executions["status"]) == [BatchStatus.FAILED, BatchStatus.COMPLETED]
    again = job.run(date="2026-12-04")                          # a complete instance does not run again
    assert again.exit_message == "already complete" and writer.writes == 100


def test_the_idempotent_writer_absorbs_a_chunk_written_twice(tmp_path):
    writer = SqliteUpsertWriter(tmp_path / "out.db")
    import sqlite3
    conn = sqlite3.connect(writer.path)
    writer.write(conn, [("a", 1), ("b", 2)])
    writer.write(conn, [("a", 1), ("b", 2)])                    # a crash between the two commits replays a chunk
    conn.commit()
    rows = writer.rows()
    assert list(rows["key"]) == ["a", "b"] and list(rows["times"]) == [2, 2]


def test_skips_up_to_the_limit_then_the_step_fails(tmp_path):
    def process(item):
        if item[1] % 25 == 0:
            raise ValueError("bad record")
        return item

    job, repo, writer = make_job(tmp_path, process, skip_limit=4, skippable=(ValueError,))
    assert job.run(run=1).status == BatchStatus.COMPLETED       # 0, 25, 50, 75 skipped: 4 <= 4
    assert len(writer.rows()) == 96 and repo.step_executions.iloc[-1]["skip_count"] == 4
    (tmp_path / "second").mkdir()
    job2, _, _ = make_job(tmp_path / "second", process, skip_limit=3, skippable=(ValueError,))
    with pytest.raises(SkipLimitExceeded, match="skip_limit=3"):
        job2.run(run=2)


def test_a_transient_error_is_retried_up_to_the_retry_limit(tmp_path):
    failures = {}

    def process(item):
        failures[item[0]] = failures.get(item[0], 0) + 1
        if item[1] == 5 and failures[item[0]] <= 2:
            raise TimeoutError("database busy")
        return item

    job, repo, writer = make_job(tmp_path, process, retry_limit=2, retryable=(TimeoutError,))
    assert job.run(run=1).status == BatchStatus.COMPLETED
    assert failures["order-005"] == 3 and len(writer.rows()) == 100


def test_kubernetes_job_retries_until_backoff_limit(tmp_path):
    def always_crash(item):
        raise Crash("bad image")

    job, repo, writer = make_job(tmp_path, always_crash)
    clock = FakeClock()
    k8s = KubernetesJob(job, backoff_limit=3, clock=clock)
    assert simtime.run(k8s.run(run=1)) == "Failed"
    assert len(k8s.attempts) == 4 and clock.sleeps == [10, 20, 40]


def test_kubernetes_job_completes_after_a_crash_by_restarting_from_the_repository(tmp_path):
    state = {"crashes": 0}

    def crash_once(item):
        if item[1] == 63 and state["crashes"] == 0:
            state["crashes"] += 1
            raise Crash("node lost")
        return item

    job, repo, writer = make_job(tmp_path, crash_once)
    k8s = KubernetesJob(job, backoff_limit=6, clock=FakeClock())
    assert simtime.run(k8s.run(run=1)) == "Complete"
    rows = writer.rows()
    assert [a["status"] for a in k8s.attempts] == [BatchStatus.FAILED, BatchStatus.COMPLETED]
    assert len(rows) == 100 and (rows["times"] == 1).all()


def test_a_schedule_fires_every_period_and_does_not_catch_up():
    clock = FakeClock()
    runs = []
    cron = CronSchedule(3600, runs.append, clock=clock)

    async def drive():
        for _ in range(4):
            clock.advance(1800)
            await cron.tick()
        clock.advance(3 * 3600)                                 # the controller was down for 3 hours
        await cron.tick()
    simtime.run(drive())
    assert cron.fired == [3600, 7200, 18000] and runs == [1, 2, 3]
