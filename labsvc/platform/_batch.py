"""Batch jobs in the Spring Batch model, with Kubernetes Job retries and a schedule.

A *job* is a sequence of *steps*; a chunk-oriented step reads items, processes
them and writes them in chunks of ``commit_interval`` items, one transaction
per chunk. A :class:`JobRepository` (SQLite) records every job execution and
step execution with its read, write and skip counts and the position of the
last committed chunk, in the same transaction as the chunk's writes. So when
the process dies mid-step, a restart of the same job instance (same job name
and parameters) resumes after the last committed chunk: no item is written
twice and none is lost, provided the writer writes inside the transaction it
is given or is idempotent (:class:`SqliteUpsertWriter` does both).

Skip and retry follow Spring Batch's fault-tolerant step: a processing
error of a ``retryable`` type is retried up to ``retry_limit`` times; an
error of a ``skippable`` type skips the item, up to ``skip_limit`` skips per
step, after which the step fails.

:class:`KubernetesJob` runs a job the way a Kubernetes Job runs a pod: a
failed run is retried (restarting from the repository) until
``backoff_limit`` failures; :class:`CronSchedule` fires jobs at fixed
intervals on an injectable clock (a CronJob reduced to "every N seconds",
with ``concurrencyPolicy: Forbid``).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError, LabsvcError

__all__ = [
    "JobSpec", "JobRepository", "ChunkStep", "Job", "JobExecution", "SqliteUpsertWriter", "SkipLimitExceeded",
    "KubernetesJob", "CronSchedule", "BatchStatus",
]


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class JobSpec:
    """A batch job as a platform deploys it: the function that runs it, its retries and its schedule.

    ``target`` is ``"module:function"`` (the function takes no arguments and
    runs the whole job); ``schedule`` is a cron expression (five fields, e.g.
    ``"0 2 * * *"`` for 02:00 every day) for a CronJob, or ``None`` for a
    one-off Job; ``backoff_limit`` is the Kubernetes Job's retry count.
    """

    name: str
    target: str
    backoff_limit: int = 6
    schedule: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _DNS_LABEL.match(self.name) or len(self.name) > 52:
            raise ConfigurationError(f"job name={self.name!r}: lower-case letters, digits and '-', at most 52 characters")
        if not isinstance(self.target, str) or self.target.count(":") != 1:
            raise ConfigurationError(f"job target={self.target!r}: write it as 'package.module:function'")
        if isinstance(self.backoff_limit, bool) or not isinstance(self.backoff_limit, int) or self.backoff_limit < 0:
            raise ConfigurationError(f"backoff_limit={self.backoff_limit!r}: a whole number >= 0 (Kubernetes' default is 6)")
        if self.schedule is not None and len(str(self.schedule).split()) != 5:
            raise ConfigurationError(f"schedule={self.schedule!r}: a cron expression of five fields, e.g. '0 2 * * *'")


class BatchStatus:
    """Execution statuses (a subset of Spring Batch's ``BatchStatus``)."""

    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class SkipLimitExceeded(LabsvcError, RuntimeError):
    """More items failed with a skippable error than the step's ``skip_limit`` allows."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS job_execution (
  id INTEGER PRIMARY KEY, job_name TEXT, job_key TEXT, status TEXT, started REAL, ended REAL, exit_message TEXT);
CREATE TABLE IF NOT EXISTS step_execution (
  id INTEGER PRIMARY KEY, job_execution_id INTEGER, step_name TEXT, status TEXT,
  read_count INTEGER, write_count INTEGER, skip_count INTEGER, commit_count INTEGER, position INTEGER);
"""


class JobRepository:
    """Job and step executions, persisted in SQLite (``path``; ``":memory:"`` for a throwaway one)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.conn.executescript(_SCHEMA)

    def last_execution(self, job_name: str, job_key: str) -> tuple[int, str] | None:
        row = self.conn.execute("SELECT id, status FROM job_execution WHERE job_name=? AND job_key=? ORDER BY id DESC LIMIT 1",
                                (job_name, job_key)).fetchone()
        return None if row is None else (row[0], row[1])

    def committed_position(self, job_name: str, job_key: str, step_name: str) -> tuple[int, dict]:
        """Items of ``step_name`` committed by earlier executions of this job instance, and their counts."""
        row = self.conn.execute(
            "SELECT s.position, s.read_count, s.write_count, s.skip_count, s.commit_count FROM step_execution s "
            "JOIN job_execution j ON j.id = s.job_execution_id WHERE j.job_name=? AND j.job_key=? AND s.step_name=? "
            "ORDER BY s.id DESC LIMIT 1", (job_name, job_key, step_name)).fetchone()
        if row is None:
            return 0, {"read": 0, "write": 0, "skip": 0, "commit": 0}
        return row[0], {"read": row[1], "write": row[2], "skip": row[3], "commit": row[4]}

    def step_status(self, job_name: str, job_key: str, step_name: str) -> str | None:
        row = self.conn.execute(
            "SELECT s.status FROM step_execution s JOIN job_execution j ON j.id = s.job_execution_id "
            "WHERE j.job_name=? AND j.job_key=? AND s.step_name=? ORDER BY s.id DESC LIMIT 1",
            (job_name, job_key, step_name)).fetchone()
        return None if row is None else row[0]

    @property
    def job_executions(self) -> pd.DataFrame:
        """Every job execution: id, job, parameters key, status, times, exit message."""
        return pd.read_sql_query("SELECT * FROM job_execution ORDER BY id", self.conn)

    @property
    def step_executions(self) -> pd.DataFrame:
        """Every step execution with its counts and last committed position."""
        return pd.read_sql_query("SELECT * FROM step_execution ORDER BY id", self.conn)


class SqliteUpsertWriter:
    """Writes ``(key, value)`` items into a table of its own, idempotently (``INSERT ... ON CONFLICT``).

    It writes through the connection it is given, inside the chunk's
    transaction; ``writes`` counts every row it was asked to write, so a test
    can tell "written once" from "written twice but deduplicated".
    """

    def __init__(self, path: str | Path, table: str = "output") -> None:
        if not table.isidentifier():
            raise ConfigurationError(f"table={table!r} must be an identifier, e.g. 'output'")
        self.path = str(path)
        self.table = table
        self.writes = 0
        conn = sqlite3.connect(self.path)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value TEXT, times INTEGER)")
        conn.commit()
        conn.close()

    def write(self, conn: sqlite3.Connection, items: Sequence[tuple[str, Any]]) -> None:
        for key, value in items:
            conn.execute(f"INSERT INTO {self.table}(key, value, times) VALUES (?, ?, 1) "
                         f"ON CONFLICT(key) DO UPDATE SET value=excluded.value, times=times+1", (key, json.dumps(value)))
            self.writes += 1

    def rows(self) -> pd.DataFrame:
        conn = sqlite3.connect(self.path)
        try:
            return pd.read_sql_query(f"SELECT * FROM {self.table} ORDER BY key", conn)
        finally:
            conn.close()


@dataclass
class ChunkStep:
    """A chunk-oriented step: ``reader`` items -> ``processor`` -> ``writer`` in chunks of ``commit_interval``.

    ``reader`` is a function returning the list of items (re-read on restart
    and skipped up to the committed position, like a restartable
    ``ItemReader`` that saves its position in the execution context).
    ``processor(item)`` returns the item to write or ``None`` to filter it.
    """

    name: str
    reader: Callable[[], Sequence[Any]]
    processor: Callable[[Any], Any]
    writer: SqliteUpsertWriter
    commit_interval: int = 10
    skip_limit: int = 0
    skippable: tuple[type[BaseException], ...] = ()
    retry_limit: int = 0
    retryable: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        if self.commit_interval < 1:
            raise ConfigurationError(f"commit_interval={self.commit_interval!r} must be at least 1")
        if self.skip_limit < 0 or self.retry_limit < 0:
            raise ConfigurationError("skip_limit and retry_limit must be >= 0")

    def _process(self, item: Any) -> tuple[bool, Any]:
        """``(kept, result)`` for one item: retried on a retryable error, skipped on a skippable one."""
        attempts = 0
        while True:
            try:
                return True, self.processor(item)
            except self.retryable as exc:
                attempts += 1
                if attempts > self.retry_limit:
                    if self.skippable and isinstance(exc, self.skippable):
                        return False, None
                    raise
            except self.skippable:
                return False, None


@dataclass
class JobExecution:
    """One run of a job instance: its id, status, and the repository's step rows for it."""

    id: int
    job_name: str
    job_key: str
    status: str
    exit_message: str = ""


@dataclass
class Job:
    """A named sequence of steps, run with parameters (which identify the job instance)."""

    name: str
    steps: list[ChunkStep]
    repository: JobRepository
    clock: Clock = field(default_factory=MonotonicClock)

    def run(self, **parameters: Any) -> JobExecution:
        """Run (or restart) the job instance for ``parameters``; a COMPLETED instance is not run again.

        An exception escaping a step (a crash the test injects, a skip limit
        exceeded) marks the execution FAILED and is re-raised; committed
        chunks stay committed.
        """
        key = json.dumps(parameters, sort_keys=True, default=str)
        last = self.repository.last_execution(self.name, key)
        if last is not None and last[1] == BatchStatus.COMPLETED:
            return JobExecution(last[0], self.name, key, BatchStatus.COMPLETED, "already complete")
        conn = self.repository.conn
        cur = conn.execute("INSERT INTO job_execution(job_name, job_key, status, started) VALUES (?, ?, ?, ?)",
                           (self.name, key, BatchStatus.STARTED, self.clock.now()))
        exec_id = cur.lastrowid
        try:
            for step in self.steps:
                if self.repository.step_status(self.name, key, step.name) == BatchStatus.COMPLETED:
                    continue
                self._run_step(exec_id, key, step)
        except BaseException as exc:
            conn.execute("UPDATE job_execution SET status=?, ended=?, exit_message=? WHERE id=?",
                         (BatchStatus.FAILED, self.clock.now(), f"{type(exc).__name__}: {exc}", exec_id))
            raise
        conn.execute("UPDATE job_execution SET status=?, ended=? WHERE id=?", (BatchStatus.COMPLETED, self.clock.now(), exec_id))
        return JobExecution(exec_id, self.name, key, BatchStatus.COMPLETED)

    def _run_step(self, exec_id: int, key: str, step: ChunkStep) -> None:
        repo = self.repository
        position, counts = repo.committed_position(self.name, key, step.name)
        items = list(step.reader())
        cur = repo.conn.execute(
            "INSERT INTO step_execution(job_execution_id, step_name, status, read_count, write_count, skip_count, "
            "commit_count, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (exec_id, step.name, BatchStatus.STARTED, counts["read"], counts["write"], counts["skip"], counts["commit"], position))
        step_id = cur.lastrowid
        out = sqlite3.connect(step.writer.path, isolation_level=None)
        try:
            while position < len(items):
                chunk = items[position: position + step.commit_interval]
                to_write, skipped = [], 0
                for item in chunk:
                    kept, result = step._process(item)
                    if not kept:
                        skipped += 1
                        if counts["skip"] + skipped > step.skip_limit:
                            raise SkipLimitExceeded(
                                f"step {step.name!r}: more than skip_limit={step.skip_limit} items were skipped; "
                                f"raise the limit or fix the failing items")
                    elif result is not None:
                        to_write.append(result)
                # One transaction for the chunk's writes; then the repository's position.
                # (Two SQLite files cannot share a transaction: the idempotent upsert covers
                # a crash between the two commits.)
                out.execute("BEGIN")
                step.writer.write(out, to_write)
                out.execute("COMMIT")
                position += len(chunk)
                counts["read"] += len(chunk)
                counts["write"] += len(to_write)
                counts["skip"] += skipped
                counts["commit"] += 1
                repo.conn.execute("UPDATE step_execution SET read_count=?, write_count=?, skip_count=?, commit_count=?, "
                                  "position=? WHERE id=?", (counts["read"], counts["write"], counts["skip"],
                                                            counts["commit"], position, step_id))
        except BaseException:
            repo.conn.execute("UPDATE step_execution SET status=? WHERE id=?", (BatchStatus.FAILED, step_id))
            raise
        finally:
            out.close()
        repo.conn.execute("UPDATE step_execution SET status=? WHERE id=?", (BatchStatus.COMPLETED, step_id))


class KubernetesJob:
    """Run a :class:`Job` like a Kubernetes Job: retry failed runs until ``backoff_limit`` failures.

    Kubernetes waits 10 s, 20 s, 40 s ... (capped at 6 min) between retries;
    the waits go through the clock, so a fake clock makes them instant.
    """

    def __init__(self, job: Job, *, backoff_limit: int = 6, clock: Clock | None = None) -> None:
        if backoff_limit < 0:
            raise ConfigurationError(f"backoff_limit={backoff_limit!r} must be >= 0 (Kubernetes' default is 6)")
        self.job = job
        self.backoff_limit = backoff_limit
        self.clock = clock or job.clock
        self.attempts: list[dict] = []

    async def run(self, **parameters: Any) -> str:
        """``"Complete"`` or ``"Failed"`` (reason BackoffLimitExceeded), after as many attempts as allowed."""
        failures = 0
        while True:
            try:
                execution = self.job.run(**parameters)
                self.attempts.append({"time": self.clock.now(), "status": execution.status, "error": ""})
                return "Complete"
            except Exception as exc:
                failures += 1
                self.attempts.append({"time": self.clock.now(), "status": BatchStatus.FAILED, "error": f"{type(exc).__name__}: {exc}"})
                if failures > self.backoff_limit:
                    return "Failed"
                await self.clock.sleep(min(360.0, 10.0 * 2 ** (failures - 1)))


class CronSchedule:
    """Fire ``action`` every ``every`` seconds of ``clock`` (a CronJob with ``concurrencyPolicy: Forbid``)."""

    def __init__(self, every: float, action: Callable[[int], Any], *, clock: Clock | None = None) -> None:
        if every <= 0:
            raise ConfigurationError(f"every={every!r} must be more than zero seconds")
        self.every = float(every)
        self.action = action
        self.clock = clock or MonotonicClock()
        self.next_at = self.clock.now() + self.every
        self.fired: list[float] = []

    async def tick(self) -> int:
        """Run the action once if it is due (missed runs are not caught up); returns how many ran."""
        now = self.clock.now()
        if now < self.next_at:
            return 0
        self.fired.append(now)
        result = self.action(len(self.fired))
        if hasattr(result, "__await__"):
            await result
        while self.next_at <= now:
            self.next_at += self.every
        return 1
