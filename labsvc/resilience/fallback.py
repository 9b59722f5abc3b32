"""Fallbacks: answer with something useful when the real call cannot.

The other patterns fail fast (an open breaker, a full bulkhead, a timeout);
a fallback decides what the caller's caller sees instead: a cached value, a
default ("recommendations unavailable"), or a cheaper path. It catches only
the failures it is told to, so bugs still surface.

>>> import asyncio
>>> fallback = Fallback([])                       # an empty list when the call fails
>>> async def recommendations():
...     raise TimeoutError("too slow")
>>> asyncio.run(fallback.call(recommendations))
[]
>>> fallback.fell_back
1
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd

from labsvc.core.clock import Clock, MonotonicClock

from labsvc.resilience._filters import ExceptionFilter, ResultRecordedAsFailure, _check_filter, _matches
from labsvc.resilience._guard import Attempt, Guard
from labsvc.resilience._states import CallNotPermitted
from labsvc.resilience.bulkhead import BulkheadFull

__all__ = ["Fallback", "DEFAULT_FALLBACK_ON"]

#: The failures a resilience pattern produces, plus httpx's own errors
#: (transport failures, and ``raise_for_status``). The built-in TimeoutError
#: covers both :class:`CallTimeoutError` and asyncio's timeouts.
DEFAULT_FALLBACK_ON: tuple[type[BaseException], ...] = (CallNotPermitted, BulkheadFull, TimeoutError, httpx.HTTPError)


class Fallback(Guard):
    """Return ``fallback`` when a call fails with one of ``on``.

    ``fallback`` is either a value, returned as is, or a callable taking the
    exception (sync or async), whose result is returned. To return a function
    as the value, wrap it: ``Fallback(lambda exc: my_function)``.
    ``on_result(result) -> bool`` also falls back on returned values (e.g.
    ``is_server_error``); the callable then gets a
    :class:`ResultRecordedAsFailure` whose ``result`` is the reply.

    >>> cached = {"items": []}
    >>> fallback = Fallback(lambda exc: cached, on=(CallNotPermitted, httpx.HTTPError))

    ``calls`` and ``fell_back`` count calls; :attr:`events` has one row per
    call with whether it fell back and why.
    """

    def __init__(
        self,
        fallback: Any,
        *,
        on: ExceptionFilter = DEFAULT_FALLBACK_ON,
        on_result: Callable[[Any], bool] | None = None,
        name: str = "fallback",
        clock: Clock | None = None,
        max_events: int = 10_000,
    ) -> None:
        _check_filter(on, "on")
        self.fallback, self.on, self.on_result, self.name = fallback, on, on_result, name
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.calls = self.fell_back = 0
        self._events: deque[tuple[float, bool, str | None]] = deque(maxlen=max_events)

    async def _execute(self, attempt: Attempt) -> Any:
        """Make the call; fall back on the chosen failures."""
        self.calls += 1
        try:
            result = await attempt()
        except Exception as exc:
            if not _matches(self.on, exc):
                raise
            return await self._fall_back(exc)
        if self.on_result is not None and self.on_result(result):
            return await self._fall_back(ResultRecordedAsFailure(self.name, result))
        self._events.append((self.clock.now(), False, None))
        return result

    async def _fall_back(self, exc: BaseException) -> Any:
        self.fell_back += 1
        self._events.append((self.clock.now(), True, f"{type(exc).__name__}: {exc}"))
        if not callable(self.fallback):
            return self.fallback
        value = self.fallback(exc)
        return await value if inspect.isawaitable(value) else value

    @property
    def events(self) -> pd.DataFrame:
        """One row per call: time, fell_back (bool), reason (the exception, if any)."""
        return pd.DataFrame(list(self._events), columns=["time", "fell_back", "reason"])

    def __repr__(self) -> str:
        return f"Fallback({self.name!r}, calls={self.calls}, fell_back={self.fell_back})"
