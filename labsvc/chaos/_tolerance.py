"""Is a probe's value within its tolerance? Chaos Toolkit's rules, one function.

- ``true``/``false``, a string or a number: the value must equal it (for an
  HTTP probe, a number is compared with the response's status);
- ``[low, high]`` (two numbers): ``low <= value <= high``; any other list:
  the value must be one of its items (an HTTP status among them);
- ``{type: range, range: [low, high], target: key}``: the same bounds, on
  ``value[target]`` when a target is given;
- ``{type: regex, pattern: ..., target: key}``: the pattern is found in the value;
- ``{type: probe, provider: ...}``: a function of your own, called with
  ``value=``, decides (a truthy result means "within").

A value that is NaN (a probe that measured no traffic) is within no range.
"""

from __future__ import annotations

import math
import re
from numbers import Number
from typing import Any, Awaitable, Callable

__all__ = ["within_tolerance", "describe_tolerance"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Number):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _target(tolerance: dict, value: Any) -> Any:
    target = tolerance.get("target")
    if target and isinstance(value, dict):
        return value.get(target, value)
    return value


async def within_tolerance(tolerance: Any, value: Any,
                           call_probe: Callable[[dict, Any], Awaitable[Any]] | None = None) -> bool:
    """True when ``value`` is within ``tolerance`` (see the module docstring for the rules)."""
    status = value.get("status") if isinstance(value, dict) else None
    if isinstance(tolerance, bool):
        return value is tolerance or (not isinstance(value, (dict, list)) and value == tolerance)
    if isinstance(tolerance, str):
        return value == tolerance
    if isinstance(tolerance, Number):
        if status is not None:
            return status == tolerance
        number = _number(value)
        return number is not None and number == float(tolerance)
    if isinstance(tolerance, list):
        if status is not None:
            return status in tolerance
        if len(tolerance) == 2 and all(_number(v) is not None for v in tolerance):
            number = _number(value)
            return number is not None and tolerance[0] <= number <= tolerance[1]
        return value in tolerance
    if isinstance(tolerance, dict):
        kind = tolerance.get("type")
        if kind == "range":
            number = _number(_target(tolerance, value))
            low, high = tolerance["range"]
            return number is not None and low <= number <= high
        if kind == "regex":
            return re.search(tolerance["pattern"], str(_target(tolerance, value))) is not None
        if kind == "probe":
            if call_probe is None:
                raise ValueError("a probe tolerance needs the runner to call it")
            try:
                return bool(await call_probe(tolerance, value))
            except Exception:  # a tolerance probe that fails says "not within"
                return False
    raise ValueError(f"unsupported tolerance {tolerance!r}")


def describe_tolerance(tolerance: Any) -> str:
    """A short human reading of a tolerance, for reports (``0.99 ≤ x ≤ 1``)."""
    if isinstance(tolerance, list) and len(tolerance) == 2 and all(_number(v) is not None for v in tolerance):
        return f"{tolerance[0]:g} ≤ x ≤ {tolerance[1]:g}"
    if isinstance(tolerance, dict) and tolerance.get("type") == "range":
        low, high = tolerance["range"]
        on = f" ({tolerance['target']})" if tolerance.get("target") else ""
        return f"{low:g} ≤ x ≤ {high:g}{on}"
    if isinstance(tolerance, dict) and tolerance.get("type") == "regex":
        return f"matches /{tolerance['pattern']}/"
    if isinstance(tolerance, dict) and tolerance.get("type") == "probe":
        return f"probe {tolerance['provider'].get('func', '?')}"
    if isinstance(tolerance, list):
        return f"one of {tolerance}"
    return f"= {tolerance!r}"
