"""Figures the prose quotes, computed by the notebook: no number in a sentence is typed by hand.

A code cell names a figure it computed::

    glue("p99_ms", run.summary()["p99_ms"], "{:.0f} ms")      # shows nothing, records "212 ms"

and the markdown that quotes it marks the quotation::

    The slowest 1 % waited <!-- glue p99_ms -->212 ms<!-- /glue --> or more.

JupyterLab hides the comments, so the learner reads "212 ms". The test
suite runs every notebook (both editions) and fails when a marked
quotation differs from what the notebook glued (:func:`stale_quotes`), so a
change that moves a number cannot leave the sentence behind. On simulated
time the numbers are exact, so the quotation can be too.
"""

from __future__ import annotations

import re
from typing import Any

from labsvc.core.errors import ConfigurationError

__all__ = ["glue", "GLUED", "quotes", "stale_quotes"]

#: What this kernel's notebook glued: name -> the text the prose must show.
GLUED: dict[str, str] = {}

_QUOTE = re.compile(r"<!--\s*glue\s+([A-Za-z0-9_.-]+)\s*-->(.*?)<!--\s*/glue\s*-->", re.S)
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def glue(name: str, value: Any, fmt: str = "{}") -> Any:
    """Record ``value`` formatted by ``fmt`` as the figure ``name``; returns ``value`` unchanged."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(f"glue name {name!r}: use letters, digits, '_', '-' or '.', e.g. 'p99_ms'")
    try:
        text = fmt.format(value)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ConfigurationError(f"glue {name!r}: format {fmt!r} does not fit {value!r} ({exc})") from None
    GLUED[name] = text
    return value


def quotes(markdown: str) -> list[tuple[str, str]]:
    """Every ``(name, quoted text)`` marked in ``markdown``, in order."""
    return [(m.group(1), m.group(2).strip()) for m in _QUOTE.finditer(markdown)]


def stale_quotes(cells: list[dict], glued: dict[str, str]) -> list[str]:
    """What is wrong with the quotations in a notebook's markdown ``cells`` against ``glued`` (empty when right)."""
    problems = []
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for name, text in quotes(source):
            if name not in glued:
                problems.append(f"cell {cell.get('id')}: quotes {name!r}, which the notebook never glued")
            elif text != glued[name]:
                problems.append(f"cell {cell.get('id')}: quotes {name!r} as {text!r}; the notebook computed "
                                f"{glued[name]!r}")
    return problems
