"""Sequence diagrams from the call log: any request, trace or saga, drawn as Mermaid and as SVG.

>>> from labsvc import Network                                       # doctest: +SKIP
>>> sequence_diagram(net, trace=-1)       # the last request's trace   # doctest: +SKIP

:func:`sequence_diagram` reads the call log (a network, its ``calls``
DataFrame, a :class:`~labsvc.core.calllog.CallLog` or a list of rows), keeps
one trace (``trace=``) or a time window (``window=``), and lays the hops
out as :mod:`~labsvc.observability._sequence_model` describes. The
:class:`SequenceDiagram` it returns displays itself in a notebook with one
bundle of three representations:

- ``text/vnd.mermaid``: the Mermaid text, which JupyterLab 4.1 and later
  draws with its own Mermaid renderer (rank 61, ahead of SVG's 80);
- ``image/svg+xml``: a drawing made here from the same lines, for front
  ends without a Mermaid renderer (VS Code prefers SVG to anything but
  JSON, JavaScript and HTML);
- ``text/plain``: the lines as text.

Times come from the call log, which on a simulated network is the
simulation's clock, so the same scenario gives the same text every time.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

import pandas as pd

from labsvc.core.calllog import COLUMNS
from labsvc.core.durations import parse_duration
from labsvc.core.errors import ConfigurationError, LabsvcError
from labsvc.observability._sequence_model import (
    Arrow, Note, attach_rejections, build_hops, diagram_lines, participants_of,
)
from labsvc.observability._sequence_svg import draw_svg

__all__ = ["sequence_diagram", "SequenceDiagram", "UnknownTraceError", "MERMAID_MIME", "DEFAULT_MAX_HOPS",
           "mermaid_text"]

#: The MIME type JupyterLab (4.1+) renders with Mermaid.
MERMAID_MIME = "text/vnd.mermaid"
#: Hops drawn at most (after folding); the rest is summed up in a last note.
DEFAULT_MAX_HOPS = 40

_ARROWS = {"sync": "->>", "reply": "-->>", "async": "-)", "async_reply": "--)", "cross": "-x", "reply_cross": "--x"}
# Mermaid reads '#' as a comment, ';' as a line end and '%%' as a comment, and lets HTML through in
# labels; its entity codes ('#59;') stand for any of them.
_ESCAPES = {"#": "#35;", ";": "#59;", "%": "#37;", "<": "#60;", ">": "#62;", '"': "#quot;", "\n": " ", "\r": " "}
# Words Mermaid's sequence lexer takes as keywords when an id starts with them.
_KEYWORDS = ("participant", "actor", "create", "destroy", "box", "loop", "rect", "opt", "option", "alt", "else",
             "par", "and", "critical", "break", "end", "left", "right", "links", "link", "properties", "details",
             "over", "note", "activate", "deactivate", "title", "acctitle", "accdescr", "sequencediagram",
             "autonumber", "off", "as")
_REQUIRED = [c for c in COLUMNS if c not in ("queued", "service")]


class UnknownTraceError(LabsvcError, LookupError):
    """No hop in the call log has the trace id asked for."""


def escape(text: str, *, colon: bool = False) -> str:
    """``text`` safe inside a Mermaid sequence-diagram label (``colon`` also escapes ':', for names)."""
    out = "".join(_ESCAPES.get(ch, ch) for ch in str(text))
    return out.replace(":", "#58;") if colon else out


def _ids(names: list[str]) -> dict[str, str]:
    ids: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = re.sub(r"\W", "_", name, flags=re.ASCII) or "p"
        if base[0].isdigit() or base.lower().startswith(_KEYWORDS):
            base = "p_" + base
        pid, n = base, 2
        while pid in used:
            pid, n = f"{base}_{n}", n + 1
        used.add(pid)
        ids[name] = pid
    return ids


def mermaid_text(title: str | None, participants: list[str], lines: list) -> str:
    """The Mermaid ``sequenceDiagram`` for ``lines`` (see :mod:`~labsvc.observability._sequence_model`)."""
    ids = _ids(participants)
    out = ["sequenceDiagram"]
    if title:
        out.append(f"    title {escape(title)}")
    for name in participants:
        pid = ids[name]
        out.append(f"    participant {pid}" if pid == name else f"    participant {pid} as {escape(name, colon=True)}")
    depth = 1
    for line in lines:
        pad = "    " * depth
        if isinstance(line, Arrow):
            out.append(f"{pad}{ids[line.src]}{_ARROWS[line.style]}{ids[line.dst]}: {escape(line.text)}")
        elif isinstance(line, Note):
            out.append(f"{pad}Note over {','.join(ids[p] for p in line.over)}: {escape(line.text)}")
        elif line.kind == "end":
            depth -= 1
            out.append("    " * depth + "end")
        elif line.kind == "and":
            out.append("    " * (depth - 1) + ("and " + escape(line.text) if line.text else "and"))
        else:
            out.append(f"{pad}{line.kind} {escape(line.text)}".rstrip())
            depth += 1
    return "\n".join(out) + "\n"


def _plain(title: str | None, lines: list) -> str:
    out = [title] if title else []
    depth = 0
    for line in lines:
        if isinstance(line, Arrow):
            out.append("  " * depth + f"{line.src} {_ARROWS[line.style]} {line.dst}: {line.text}")
        elif isinstance(line, Note):
            out.append("  " * depth + f"[note over {', '.join(line.over)}: {line.text}]")
        elif line.kind == "end":
            depth -= 1
        elif line.kind == "and":
            out.append("  " * (depth - 1) + "and")
        else:
            out.append("  " * depth + f"{line.kind} {line.text}".rstrip())
            depth += 1
    return "\n".join(out)


class SequenceDiagram:
    """A sequence diagram of call-log hops; a notebook shows it as Mermaid (JupyterLab) or SVG.

    ``mermaid`` is the Mermaid text, ``svg`` the SVG drawing, ``lines`` the
    arrows, notes and frames both are drawn from, ``participants`` the
    lifelines left to right, ``hops`` how many call-log rows it covers and
    ``left_out`` how many of them ``max_hops`` kept off the drawing.
    """

    def __init__(self, title: str | None, participants: list[str], lines: list, hops: int, left_out: int) -> None:
        self.title = title
        self.participants = participants
        self.lines = lines
        self.hops = hops
        self.left_out = left_out
        self.mermaid = mermaid_text(title, participants, lines)
        self._svg: str | None = None

    @property
    def svg(self) -> str:
        """The SVG drawing (made on first use)."""
        if self._svg is None:
            self._svg = draw_svg(self.title, self.participants, self.lines)
        return self._svg

    @property
    def arrows(self) -> int:
        """How many arrows the diagram draws."""
        return sum(isinstance(line, Arrow) for line in self.lines)

    def markdown(self) -> str:
        """The diagram as a fenced ```mermaid block, for Markdown that GitHub renders."""
        return f"```mermaid\n{self.mermaid}```\n"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {MERMAID_MIME: self.mermaid, "image/svg+xml": self.svg, "text/plain": repr(self)}

    def __repr__(self) -> str:
        head = f"<SequenceDiagram: {len(self.participants)} participants, {self.arrows} arrows, {self.hops} hops>"
        return head + "\n" + _plain(self.title, self.lines)


# -- reading the source ----------------------------------------------------------------------

def _frame(source: Any) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        frame = source
    elif isinstance(getattr(source, "calls", None), pd.DataFrame):  # a Network, or a lab result with .calls
        frame = source.calls
    elif callable(getattr(source, "frame", None)):  # a CallLog
        frame = source.frame()
    elif isinstance(source, Iterable) and not isinstance(source, (str, bytes, Mapping)):
        rows = list(source)
        fields = getattr(rows[0], "_fields", None) if rows else None
        frame = pd.DataFrame.from_records(rows, columns=list(fields)) if fields else pd.DataFrame(rows)
    else:
        raise ConfigurationError(
            f"cannot draw a sequence diagram from {type(source).__name__}; pass a Network, its calls "
            f"DataFrame (net.calls), a CallLog or a list of call rows")
    if frame.empty:
        raise ConfigurationError("the call log is empty: no hop to draw (make a request on the network first, "
                                 "or check that net.reset_calls() was not called after it)")
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"these rows are not a call log: columns {missing} are missing (expected {_REQUIRED})")
    return frame.sort_values("start", kind="stable", ignore_index=True)


def _pick_trace(frame: pd.DataFrame, trace: str | int) -> str:
    ids = list(dict.fromkeys(frame["trace_id"]))
    if isinstance(trace, bool) or not isinstance(trace, (str, int)):
        raise ConfigurationError(f"trace={trace!r} must be a trace id (or its first characters) or an index "
                                 f"such as 0 (the first request) or -1 (the last)")
    if isinstance(trace, int):
        if not -len(ids) <= trace < len(ids):
            raise UnknownTraceError(f"trace={trace} is out of range: the call log holds {len(ids)} traces")
        return ids[trace]
    found = [i for i in ids if i == trace] or ([i for i in ids if i.startswith(trace)] if len(trace) >= 4 else [])
    if len(found) == 1:
        return found[0]
    shown = ", ".join(ids[:3]) + (f", ... ({len(ids)} in all)" if len(ids) > 3 else "")
    if not found:
        raise UnknownTraceError(f"no hop has trace id {trace!r}; known trace ids: {shown} "
                                f"(a unique prefix of 4 or more characters works, trace=-1 picks the last)")
    raise UnknownTraceError(f"{len(found)} traces start with {trace!r}: {', '.join(found[:3])}; give more characters")


def _window(frame: pd.DataFrame, window: Any) -> pd.DataFrame:
    try:
        lo, hi = window
    except (TypeError, ValueError):
        raise ConfigurationError(f"window={window!r} must be (start, end), in seconds or as '250ms' strings") from None
    lo, hi = parse_duration(lo, name="window start"), parse_duration(hi, name="window end")
    kept = frame[(frame["start"] >= lo) & (frame["start"] < hi)]
    if kept.empty:
        raise ConfigurationError(f"no hop started between {lo:g} s and {hi:g} s; the call log spans "
                                 f"{frame['start'].min():g} s to {frame['start'].max():g} s")
    return kept.reset_index(drop=True)


def _breakers(breakers: Any) -> list[tuple[str, pd.DataFrame]]:
    if breakers is None:
        return []
    items = breakers.items() if isinstance(breakers, Mapping) else (
        [(None, breakers)] if hasattr(breakers, "events") else [(None, b) for b in breakers])
    out = []
    for target, b in items:
        events = b if isinstance(b, pd.DataFrame) else getattr(b, "events", None)
        name = target or getattr(b, "name", None)
        if not isinstance(events, pd.DataFrame) or not {"time", "kind"} <= set(events.columns) or not name:
            raise ConfigurationError(
                "breakers= takes circuit breakers (their name is the service they guard), or a dict "
                "{guarded service: breaker or its events DataFrame}; their clock must be the network's "
                "(labsvc.core.experiment.NetworkClock) so that event times match the call log")
        out.append((str(name), events))
    return out


def sequence_diagram(source: Any, *, trace: str | int | None = None, window: Any = None, title: str | None = None,
                     fold: bool = True, max_hops: int | None = DEFAULT_MAX_HOPS, by: str = "service",
                     breakers: Any = None) -> SequenceDiagram:
    """Draw hops of the call log as a sequence diagram (Mermaid in JupyterLab, SVG elsewhere).

    ``source``: a :class:`~labsvc.Network` (its call log), ``net.calls``, a
    :class:`~labsvc.core.calllog.CallLog` or a list of call rows.
    ``trace``: one trace id (or a unique prefix of 4+ characters), or an
    index in the order traces began (``0`` the first, ``-1`` the last);
    a request, or a saga an orchestrator runs inside one request, is one
    trace. ``window=(start, end)`` keeps the hops that began in that span
    instead (for consumers that poll a broker in traces of their own).
    ``fold`` collapses repeated exchanges (``×12``) and repeating blocks
    (``loop``); ``max_hops`` caps the hops drawn. ``by="instance"`` draws
    one lifeline per instance. ``breakers``: circuit breakers on the
    network's clock whose rejections to draw (the call log has no row for
    a call a breaker refused).

    >>> d = sequence_diagram(net, trace=-1)                   # doctest: +SKIP
    >>> print(d.mermaid)                                       # doctest: +SKIP
    """
    if by not in ("service", "instance"):
        raise ConfigurationError(f"by={by!r}: use 'service' (one lifeline per service) or 'instance'")
    if max_hops is not None and (isinstance(max_hops, bool) or not isinstance(max_hops, int) or max_hops < 1):
        raise ConfigurationError(f"max_hops={max_hops!r} must be a whole number of at least 1, or None")
    frame = _frame(source)
    picked = None
    if trace is not None:
        picked = _pick_trace(frame, trace)
        frame = frame[frame["trace_id"] == picked].reset_index(drop=True)
    if window is not None:
        frame = _window(frame, window)
    roots = build_hops(frame, by=by)
    attach_rejections(roots, _breakers(breakers))
    lines, left_out = diagram_lines(roots, fold=fold, max_hops=max_hops)
    if left_out:
        lines.append(Note((roots[0].caller,), f"… {left_out} more hops not drawn (max_hops={max_hops})"))
    if title is None:
        span = float((frame["start"] + frame["duration"]).max() - frame["start"].min())
        what = f"trace {picked[:8]}" if picked else f"{frame['trace_id'].nunique()} traces"
        title = f"{what} · {len(frame)} hop{'s' if len(frame) != 1 else ''} · {span * 1000:.3g} ms"
    callees = set(frame["callee"] if by == "service" else frame["instance"])
    first = next((r.caller for r in roots if r.caller not in callees), roots[0].caller)  # the client leads
    return SequenceDiagram(title or None, participants_of(lines, first), lines, len(frame), left_out)
