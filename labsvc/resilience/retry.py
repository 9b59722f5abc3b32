"""Retries with exponential backoff, jitter and a retry budget.

A retry turns a transient failure into a success, but every retry is extra
load on a callee that may be failing *because* it is overloaded. So:

- **back off** exponentially: wait ``min(cap, base * multiplier**n)`` before
  retry ``n`` (``n = 0`` for the first retry);
- add **jitter**, so clients that failed together do not retry together.
  The strategies are the AWS Architecture Blog's (aws-arch-backoff-simulator),
  with ``v = min(cap, base * 2**n)``:

  ============== ==========================================
  none           ``v``
  full           ``uniform(0, v)``
  equal          ``v/2 + uniform(0, v/2)``
  decorrelated   ``min(cap, uniform(base, 3 * previous))``, previous starts at base
  ============== ==========================================

- keep retries to a **budget** (Google SRE book; Linkerd/Finagle): each
  original request deposits ``retry_ratio`` of a retry, each retry
  withdraws one, and a small reserve allows ``min_retries_per_second``.
  With a 10 % budget a dead callee sees about 1.1x the load instead of 3x.
- retry at **one layer only**: three layers each making 3 attempts send
  3**3 = 27 calls to the bottom for one at the top.

>>> from labsvc.core.clock import FakeClock
>>> clock = FakeClock()
>>> retry = Retry(max_attempts=3, base=0.1, jitter="none", clock=clock)
>>> async def flaky(results=iter([OSError("reset"), OSError("reset"), "ok"])):
...     r = next(results)
...     if isinstance(r, Exception):
...         raise r
...     return r
>>> import asyncio
>>> asyncio.run(retry.call(flaky))
'ok'
>>> clock.sleeps
[0.1, 0.2]
"""

from __future__ import annotations

import enum
import itertools
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import pandas as pd

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError

from labsvc.resilience._filters import ExceptionFilter, _check_filter, _matches
from labsvc.resilience._guard import Attempt, Guard
from labsvc.resilience.timeout import _seconds

__all__ = [
    "Jitter",
    "RetryPolicy",
    "Retry",
    "RetryBudget",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_RETRY_RATIO",
    "DEFAULT_MIN_RETRIES_PER_SECOND",
    "DEFAULT_BUDGET_TTL",
]

DEFAULT_MAX_ATTEMPTS = 3  # Google SRE book: at most 3 attempts
DEFAULT_RETRY_RATIO = 0.2  # Linkerd's retryRatio
DEFAULT_MIN_RETRIES_PER_SECOND = 10  # Linkerd's minRetriesPerSecond
DEFAULT_BUDGET_TTL = 10.0  # Linkerd's ttl, seconds


class Jitter(enum.StrEnum):
    """How the backoff delay is randomised (see the module docstring for formulas)."""

    NONE = "none"
    FULL = "full"
    EQUAL = "equal"
    DECORRELATED = "decorrelated"


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry and how long to wait; pure, so it can be plotted and tested.

    ``retry_on`` is an exception class, a tuple of them or a predicate: other
    exceptions are raised at once. ``retry_on_result(result) -> bool`` retries
    returned values too, e.g. ``retry_on_result=is_server_error`` for 5xx.
    When attempts run out the last exception is raised or the last result
    returned.

    >>> policy = RetryPolicy(max_attempts=5, base=1, cap=5, jitter="none")
    >>> policy.delays()
    [1.0, 2.0, 4.0, 5.0]
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base: float | str = 0.1
    multiplier: float = 2.0
    cap: float | str = 10.0
    jitter: Jitter | str = Jitter.FULL
    retry_on: ExceptionFilter = Exception
    retry_on_result: Callable[[Any], bool] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ConfigurationError(
                f"max_attempts={self.max_attempts!r} must be a whole number of at least 1 "
                f"(1 = no retries); the SRE book suggests 3"
            )
        object.__setattr__(self, "base", _seconds(self.base, "base"))
        object.__setattr__(self, "cap", _seconds(self.cap, "cap"))
        if self.cap < self.base:
            raise ConfigurationError(f"cap={self.cap:g} s is below base={self.base:g} s; make cap at least base")
        if isinstance(self.multiplier, bool) or not isinstance(self.multiplier, int | float) or self.multiplier < 1:
            raise ConfigurationError(f"multiplier={self.multiplier!r} must be a number of at least 1, e.g. 2")
        try:
            object.__setattr__(self, "jitter", Jitter(str(self.jitter).lower()))
        except ValueError:
            raise ConfigurationError(
                f"jitter={self.jitter!r} is not one of {', '.join(j.value for j in Jitter)}"
            ) from None
        _check_filter(self.retry_on, "retry_on")
        if self.retry_on_result is not None and not callable(self.retry_on_result):
            raise ConfigurationError("retry_on_result must be a predicate result -> bool, e.g. is_server_error")

    def retries_exception(self, exc: BaseException) -> bool:
        """True when a call that raised ``exc`` may be retried."""
        return _matches(self.retry_on, exc)

    def retries_result(self, result: Any) -> bool:
        """True when a call that returned ``result`` should be retried."""
        return self.retry_on_result is not None and bool(self.retry_on_result(result))

    def backoff(self, n: int, previous: float, rng: random.Random) -> float:
        """Seconds to wait before retry ``n`` (0-based); ``previous`` is the last delay.

        ``previous`` only matters for decorrelated jitter (pass ``base`` first).
        """
        try:
            v = min(self.cap, self.base * self.multiplier**n)
        except OverflowError:  # multiplier**n beyond floats: the cap applies anyway
            v = self.cap
        if self.jitter is Jitter.NONE:
            return v
        if self.jitter is Jitter.FULL:
            return rng.uniform(0, v)
        if self.jitter is Jitter.EQUAL:
            return v / 2 + rng.uniform(0, v / 2)
        return min(self.cap, rng.uniform(self.base, previous * 3))

    def delays(self, rng: random.Random | None = None, *, seed: int | None = None) -> list[float]:
        """The delays before each of the ``max_attempts - 1`` retries, for plots and tests."""
        rng = rng if rng is not None else random.Random(seed)
        out, previous = [], self.base
        for n in range(self.max_attempts - 1):
            previous = self.backoff(n, previous, rng)
            out.append(previous)
        return out


class RetryBudget:
    """A token bucket that keeps retries to a fraction of requests (Linkerd/Finagle).

    Each original request :meth:`deposit`\\ s ``retry_ratio`` of a retry; each
    retry must :meth:`try_withdraw` a whole one. Deposits expire after
    ``ttl`` seconds, and a reserve of ``min_retries_per_second * ttl``
    retries is always there, so a quiet client can still retry a little.

    >>> budget = RetryBudget(retry_ratio=0.1, min_retries_per_second=0, ttl=10)
    >>> for _ in range(10):
    ...     budget.deposit()
    >>> budget.try_withdraw(), budget.try_withdraw()
    (True, False)
    """

    # Tokens are integers scaled by 1000 (as in Finagle): ten deposits of a
    # float 0.1 add up to 0.9999999999999999, which would refuse the retry.
    _SCALE = 1000
    _SLICES = 10  # the ttl window moves in tenths of the ttl

    def __init__(
        self,
        retry_ratio: float = DEFAULT_RETRY_RATIO,
        min_retries_per_second: float = DEFAULT_MIN_RETRIES_PER_SECOND,
        ttl: float | str = DEFAULT_BUDGET_TTL,
        *,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(retry_ratio, bool) or not isinstance(retry_ratio, int | float) or not 0 <= retry_ratio <= 1000:
            raise ConfigurationError(f"retry_ratio={retry_ratio!r} must be a number from 0 upwards, e.g. 0.1 or 0.2")
        if isinstance(min_retries_per_second, bool) or not isinstance(min_retries_per_second, int | float) \
                or min_retries_per_second < 0:
            raise ConfigurationError(f"min_retries_per_second={min_retries_per_second!r} must be 0 or more, e.g. 10")
        self.ttl = _seconds(ttl, "ttl")
        if self.ttl <= 0:
            raise ConfigurationError("ttl must be more than 0 s, e.g. '10s'")
        self.retry_ratio, self.min_retries_per_second = float(retry_ratio), float(min_retries_per_second)
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        if retry_ratio > 0:
            self._deposit, self._withdraw = self._SCALE, max(1, round(self._SCALE / retry_ratio))
        else:  # requests earn nothing; only the reserve pays for retries
            self._deposit, self._withdraw = 0, 1
        self._reserve = self.min_retries_per_second * self.ttl * self._withdraw
        self._slice = self.ttl / self._SLICES
        self._slices: deque[list[float]] = deque()  # [slice index, net tokens]
        self._net = 0.0
        self.deposits = self.withdrawals = self.refusals = 0

    def _current(self) -> int:
        index = math.floor(self.clock.now() / self._slice)
        while self._slices and self._slices[0][0] <= index - self._SLICES:
            self._net -= self._slices.popleft()[1]
        return index

    def _add(self, amount: float) -> None:
        index = self._current()
        if not self._slices or self._slices[-1][0] != index:
            self._slices.append([index, 0])
        self._slices[-1][1] += amount
        self._net += amount

    def deposit(self) -> None:
        """Credit the budget for one original request."""
        self.deposits += 1
        self._add(self._deposit)

    def try_withdraw(self) -> bool:
        """Take one retry from the budget; False (and nothing taken) when it is empty."""
        self._current()
        if self._reserve + self._net >= self._withdraw:
            self.withdrawals += 1
            self._add(-self._withdraw)
            return True
        self.refusals += 1
        return False

    @property
    def available(self) -> float:
        """How many retries the budget would allow right now."""
        self._current()
        return max(0.0, (self._reserve + self._net) / self._withdraw)

    def __repr__(self) -> str:
        return (f"RetryBudget(retry_ratio={self.retry_ratio:g}, min_retries_per_second="
                f"{self.min_retries_per_second:g}, ttl={self.ttl:g}, available={self.available:.1f})")


_POLICY_FIELDS = {f.name for f in fields(RetryPolicy)}
_ATTEMPT_COLUMNS = ["call", "attempt", "start", "duration", "outcome", "error", "decision", "delay"]
_CALL_COLUMNS = ["call", "start", "duration", "attempts", "retries", "outcome", "decision", "total_delay"]


class Retry(Guard):
    """Runs calls under a :class:`RetryPolicy`, sleeping on ``clock``, and records them.

    ``Retry(policy)`` or policy fields as keywords; ``budget=RetryBudget(...)``
    limits retries across all calls; ``rng`` (or ``seed``) makes jitter
    repeatable.

    >>> retry = Retry(max_attempts=3, base="50ms", jitter="full", seed=7,
    ...               budget=RetryBudget(retry_ratio=0.1))
    >>> async def get_items(client):
    ...     return await retry.call(client.get, "http://catalog.svc/items")

    After some calls, :attr:`attempts` (one row per attempt), :attr:`calls`
    (one row per call) and :meth:`stats` show what happened. An attempt's
    ``decision`` is one of ``done`` (success or a result not to retry),
    ``retry``, ``not_retryable``, ``attempts_exhausted``, ``budget_exhausted``.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        budget: RetryBudget | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        seed: int | None = None,
        max_records: int = 100_000,
        **policy_fields: Any,
    ) -> None:
        unknown = set(policy_fields) - _POLICY_FIELDS
        if unknown:
            raise ConfigurationError(f"unknown retry setting(s) {sorted(unknown)}; the settings are {sorted(_POLICY_FIELDS)}")
        self.policy = replace(policy or RetryPolicy(), **policy_fields)
        self.budget = budget
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.rng = rng if rng is not None else random.Random(seed)
        self._ids = itertools.count(1)
        self._attempts: deque[list[Any]] = deque(maxlen=max_records)
        self._calls: deque[list[Any]] = deque(maxlen=max_records)
        self._counts = dict.fromkeys(
            ["calls", "attempts", "retries", "successes", "failures", "not_retryable",
             "attempts_exhausted", "budget_exhausted"], 0)

    async def _execute(self, attempt_call: Attempt) -> Any:
        """Make the call, retrying per the policy.

        Returns the first result not to retry (or the last one when retries
        run out); raises the last exception when it is not retryable or
        retries run out. ``fn`` is called afresh for every attempt, so pass
        :meth:`call` the function and its arguments, not an already-made coroutine.
        """
        policy, call_id, started = self.policy, next(self._ids), self.clock.now()
        self._counts["calls"] += 1
        if self.budget is not None:
            self.budget.deposit()  # only original requests earn retries
        previous_delay, total_delay = policy.base, 0.0
        for attempt in range(1, policy.max_attempts + 1):
            self._counts["attempts"] += 1
            start, error, result = self.clock.now(), None, None
            try:
                result = await attempt_call()
            except Exception as exc:
                error = exc
            duration = self.clock.now() - start
            outcome = "error" if error is not None else ("bad_result" if policy.retries_result(result) else "ok")

            if outcome == "ok":
                decision = "done"
            elif error is not None and not policy.retries_exception(error):
                decision = "not_retryable"
            elif attempt == policy.max_attempts:
                decision = "attempts_exhausted"
            elif self.budget is not None and not self.budget.try_withdraw():
                decision = "budget_exhausted"
            else:
                decision = "retry"

            delay = None
            if decision == "retry":
                delay = policy.backoff(attempt - 1, previous_delay, self.rng)
                previous_delay = delay
            self._attempts.append([call_id, attempt, start, duration, outcome, _describe(error), decision, delay])
            if decision != "retry":
                self._finish(call_id, started, attempt, decision, total_delay)
                if error is not None:
                    raise error
                return result
            self._counts["retries"] += 1
            total_delay += delay
            await self.clock.sleep(delay)
        raise AssertionError("unreachable: the last attempt never retries")

    def _finish(self, call_id: int, started: float, attempts: int, decision: str, slept: float) -> None:
        ok = decision == "done"
        self._counts["successes" if ok else "failures"] += 1
        if decision in ("not_retryable", "attempts_exhausted", "budget_exhausted"):
            self._counts[decision] += 1
        self._calls.append([call_id, started, self.clock.now() - started, attempts, attempts - 1,
                            "success" if ok else "failure", decision, slept])

    @property
    def attempts(self) -> pd.DataFrame:
        """One row per attempt: call, attempt, start, duration, outcome, error, decision, delay."""
        return pd.DataFrame(list(self._attempts), columns=_ATTEMPT_COLUMNS)

    @property
    def calls(self) -> pd.DataFrame:
        """One row per call: call, start, duration, attempts, retries, outcome, decision, total_delay."""
        return pd.DataFrame(list(self._calls), columns=_CALL_COLUMNS)

    def stats(self) -> pd.Series:
        """Totals over every call so far, plus ``retry_ratio`` = retries / calls.

        >>> Retry().stats()["retries"]
        0
        """
        counts = dict(self._counts)
        counts["retry_ratio"] = counts["retries"] / counts["calls"] if counts["calls"] else 0.0
        return pd.Series(counts, dtype=object)

    def __repr__(self) -> str:
        return f"Retry({self.policy!r}, budget={self.budget!r})"


def _describe(exc: BaseException | None) -> str | None:
    return None if exc is None else f"{type(exc).__name__}: {exc}"
