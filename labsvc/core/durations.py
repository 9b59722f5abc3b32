"""Durations as a learner writes them: ``0.02``, ``"20ms"``, ``"1.5s"``, ``"2min"``.

Every duration argument in labsvc goes through :func:`parse_duration`, so
they all accept the same spellings and fail with the same message. A bare
number is seconds (``timeout=5``, ``duration=3``). Latencies are stricter
(:mod:`labsvc.core.faults`): a bare latency must be below 1, so
``latency=20`` is refused and asks for ``"20ms"`` or ``0.02``.
"""

from __future__ import annotations

import re
from typing import Any

from labsvc.core.errors import ConfigurationError

__all__ = ["parse_duration", "positive_seconds"]

_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"([-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?|[-+]?\.\d+)\s*(us|µs|ms|s|min|h)?")


def parse_duration(value: float | int | str, *, name: str = "duration") -> float:
    """Turn ``0.02``, ``"20ms"``, ``"1.5s"`` or ``"2min"`` into seconds.

    Raises ``ValueError`` naming ``name`` when the value is negative or not
    understood, with an example of what is accepted.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds or a string like '20ms', not a bool")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value.strip().lower())
        if match is None:
            raise ValueError(
                f"{name}={value!r} is not a duration; use seconds as a number (0.02) "
                f"or a string with a unit: '250us', '20ms', '1.5s', '2min'"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise TypeError(f"{name} must be a number of seconds or a string like '20ms', got {type(value).__name__}")
    if seconds != seconds or seconds < 0:  # NaN or negative
        raise ValueError(f"{name}={value!r} is negative; a {name} must be zero or more (e.g. '20ms')")
    return seconds


def positive_seconds(value: Any, what: str) -> float:
    """A duration (``30``, ``"30s"``) that must be more than zero, in seconds, else a ConfigurationError."""
    try:
        seconds = parse_duration(value, name=what)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(str(exc)) from None
    if seconds <= 0:
        raise ConfigurationError(f"{what}={value!r} must be more than zero, e.g. '30s'")
    return seconds
