"""What happened to a circuit breaker: :class:`CircuitBreakerEvent`, and its table.

The event kinds follow resilience4j's circuit breaker events (state
transition, success, error, ignored error, call not permitted, reset), plus
"slow" for a slow success; :attr:`CircuitBreaker.events` turns them into a
pandas DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import pandas as pd

from labsvc.resilience._states import State


@dataclass(frozen=True)
class CircuitBreakerEvent:
    """One thing that happened to a breaker; ``kind`` is one of :attr:`CircuitBreaker.EVENT_KINDS`."""

    seq: int
    time: float
    kind: str
    state: State
    from_state: State | None = None
    to_state: State | None = None
    reason: str = ""
    failure_rate: float = -1.0
    slow_call_rate: float = -1.0
    duration: float | None = None
    slow: bool = False
    exception: str | None = None


_EVENT_COLUMNS = [f.name for f in fields(CircuitBreakerEvent)]


def _describe(exc: BaseException | None) -> str | None:
    return None if exc is None else f"{type(exc).__name__}: {exc}"


def _frame(events: list[CircuitBreakerEvent]) -> pd.DataFrame:
    # States become plain strings so the frame filters and plots like any other.
    rows = [[str(v) if isinstance(v, State) else v for v in (getattr(e, c) for c in _EVENT_COLUMNS)] for e in events]
    return pd.DataFrame(rows, columns=_EVENT_COLUMNS).drop(columns="seq")
