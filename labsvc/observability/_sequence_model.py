"""From call-log rows to the lines of a sequence diagram (arrows, notes, frames), shared by Mermaid and SVG.

Each row of the call log is one hop. A hop's parent is the hop that was
being served, in the same trace, by the instance that made the call, and
whose time span holds the call's; hops without one are roots. Siblings
are drawn in the order they started. The drawing rules, in one place:

- a hop that reached its callee is a request arrow and, after what the
  callee called meanwhile, a reply arrow with the status and the latency;
  a 5xx answer, an injected error and a timeout come back as a crossed
  reply (``--x``);
- a hop refused on the way (instance down, partition) is one crossed
  arrow (``-x``) and no reply;
- a hop to the broker service (:mod:`labsvc.messaging.broker_server`'s
  routes) is asynchronous: publish, ack and nack are one open arrow
  (``-)``); a pull is a request and an open dotted reply (``--)``); a
  publish that fails is crossed and noted as a message that was not queued;
- an attempt after a failed identical one (same caller, callee, method and
  path, under the same parent) is labelled as a retry;
- a circuit breaker's ``not_permitted`` events, when given, become crossed
  arrows from the service whose request was in progress at that moment;
- with folding, identical consecutive exchanges collapse into one line with
  a count (``×12``), a repeating block of two or three exchanges into a
  ``loop`` frame, and overlapping sibling calls (a gateway's fan-out) share
  a ``par`` frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

import pandas as pd

__all__ = ["Arrow", "Note", "Frame", "Hop", "build_hops", "attach_rejections", "diagram_lines", "participants_of",
           "BROKER_ROUTES"]

#: The broker service's routes (:mod:`labsvc.messaging.broker_server`): method, path template, operation.
BROKER_ROUTES = (
    ("POST", "/topics/{topic}/messages", "publish"),
    ("POST", "/topics/{topic}/groups/{group}/pull", "pull"),
    ("POST", "/deliveries/{tag}/ack", "ack"),
    ("POST", "/deliveries/{tag}/nack", "nack"),
    ("PUT", "/topics/{topic}/groups/{group}", "declare"),
    ("DELETE", "/topics/{topic}/groups/{group}/consumers/{consumer}", "leave"),
)
_BROKER = [(m, re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(t)) + "$"), op)
           for m, t, op in BROKER_ROUTES]
_OP_LABEL = {"publish": "publish {topic}", "pull": "pull {topic}/{group}", "ack": "ack tag {tag}",
             "nack": "nack tag {tag}", "declare": "declare {topic}/{group}", "leave": "leave {topic}/{group}"}
_REFUSED = {"InstanceDownError": "refused: instance down", "ConnectError": "refused: cannot connect",
            "PartitionError": "cut off by a partition"}
_FAULT_NOTES = {"latency": "injected latency", "pause": "paused", "hang": "hangs (injected)",
                "crash": "crashed after the work, before answering, then restarted", "lost-reply": "reply lost"}
_EPS = 1e-9


@dataclass(frozen=True)
class Arrow:
    """One message: ``style`` is sync, reply, async, async_reply, cross or reply_cross."""

    src: str
    dst: str
    style: str
    text: str


@dataclass(frozen=True)
class Note:
    """A note over one or two participants."""

    over: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Frame:
    """``kind`` is loop, par, and (a new branch of the current par) or end."""

    kind: str
    text: str = ""


@dataclass(eq=False)
class Hop:
    """One call-log row placed in its trace's tree."""

    caller: str
    callee: str
    caller_instance: str
    instance: str
    method: str
    what: str  # the route template, or the path when the app never matched a route
    path: str
    status: int
    error: str
    fault: str
    start: float
    end: float
    trace_id: str
    order: int
    op: str = ""  # a broker operation, or "rejected" for a breaker's refusal
    op_text: str = ""
    retry: int = 0
    children: list["Hop"] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.error) or self.status >= 500 or self.status == 429 or self.op == "rejected"

    def count(self) -> int:
        """Hops in this exchange (itself and everything it called)."""
        return 1 + sum(c.count() for c in self.children)


def _broker_op(method: str, path: str) -> tuple[str, str]:
    for m, pattern, op in _BROKER:
        found = pattern.match(path) if m == method else None
        if found:
            return op, _OP_LABEL[op].format(**found.groupdict())
    return "", ""


def build_hops(calls: pd.DataFrame, *, by: str = "service") -> list[Hop]:
    """The roots of the call trees in ``calls`` (rows in start order), each hop with its children."""
    hops: list[Hop] = []
    for order, r in enumerate(calls.itertuples(index=False)):
        caller = r.caller if by == "service" else r.caller_instance
        callee = r.callee if by == "service" else r.instance
        op, op_text = _broker_op(r.method, r.path)
        hops.append(Hop(str(caller), str(callee), str(r.caller_instance), str(r.instance), str(r.method),
                        str(r.route or r.path), str(r.path), int(r.status), str(r.error or ""), str(r.fault or ""),
                        float(r.start), float(r.start) + float(r.duration), str(r.trace_id), order, op, op_text))
    roots: list[Hop] = []
    open_by_trace: dict[str, list[Hop]] = {}
    for h in hops:
        earlier = open_by_trace.setdefault(h.trace_id, [])
        parent = None
        for p in reversed(earlier):  # the innermost: the latest-starting hop that holds this one
            if p.instance == h.caller_instance and p.start <= h.start + _EPS and h.end <= p.end + _EPS:
                parent = p
                break
        (parent.children if parent is not None else roots).append(h)
        earlier.append(h)
    _mark_retries(roots)
    return roots


def _mark_retries(siblings: list[Hop]) -> None:
    last: dict[tuple, Hop] = {}
    for h in siblings:
        key = (h.trace_id, h.caller_instance, h.callee, h.method, h.path)
        before = last.get(key)
        if before is not None and before.failed:
            h.retry = before.retry + 1
        last[key] = h
        _mark_retries(h.children)


def attach_rejections(roots: list[Hop], breakers: Iterable[tuple[str, pd.DataFrame]]) -> int:
    """Add each breaker's ``not_permitted`` events as refused hops; returns how many found a request to join.

    An event at time ``t`` joins the innermost hop in progress at ``t``
    (its callee is the service that tried the call); events at times no
    hop of ``roots`` covers belong to other requests and are left out.
    """
    flat: list[tuple[int, Hop]] = []

    def walk(hs: list[Hop], depth: int) -> None:
        for h in hs:
            flat.append((depth, h))
            walk(h.children, depth + 1)

    walk(roots, 0)
    joined = 0
    for target, events in breakers:
        rejected = events[events["kind"] == "not_permitted"]
        for e in rejected.itertuples(index=False):
            t = float(e.time)
            # Half-open spans: a request that ends at t did not make a call at t; the next one did.
            live = [(d, h) for d, h in flat if h.callee != target and h.op != "rejected" and _holds(h, t)]
            if not live:
                continue
            _, host = max(live, key=lambda dh: (dh[0], dh[1].start, dh[1].order))
            state = str(getattr(e, "state", "OPEN"))
            host.children.append(Hop(host.callee, target, host.instance, target, "", "", "", 0, "CallNotPermitted",
                                     "", t, t, host.trace_id, host.order, "rejected",
                                     f"call not permitted: circuit {state}"))
            host.children.sort(key=lambda c: (c.start, c.order))
            joined += 1
    return joined


def _holds(h: Hop, t: float) -> bool:
    if h.end - h.start <= _EPS:
        return abs(h.start - t) <= _EPS
    return h.start - _EPS <= t < h.end - _EPS


# -- from hops to lines ---------------------------------------------------------------------

def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms"


def _latency(hops: list[Hop]) -> str:
    values = sorted({_ms(h.end - h.start) for h in hops}, key=lambda s: float(s.split()[0]))
    return values[0] if len(values) == 1 else f"{values[0].split()[0]}–{values[-1]}"


def _outcome(h: Hop) -> tuple[str, str]:
    """(how the answer is drawn: ok, cross or refused, its words)."""
    if h.op == "rejected":
        return "refused", h.op_text
    if h.error in _REFUSED:
        return "refused", _REFUSED[h.error]
    if h.error.endswith("Timeout"):
        return "cross", f"no answer: {h.error} after"
    if h.error == "Cancelled":
        return "cross", "cancelled by the caller after"
    if h.error:
        return "cross", f"{h.error} after"
    if h.fault == "error":
        return "cross", f"{h.status} injected fault ·"
    if h.status >= 500:
        return "cross", f"{h.status} ·"
    return "ok", f"{h.status} ·"


def _signature(h: Hop) -> tuple:
    kind, words = _outcome(h)
    return (h.caller, h.callee, h.method, h.what, h.op, h.op_text, kind, words, h.fault, h.retry > 0,
            tuple(_signature(c) for c in h.children))


def _request(h: Hop, group: list[Hop]) -> str:
    text = h.op_text if h.op else f"{h.method} {h.what}"
    if h.retry:
        first, last = group[0].retry, group[-1].retry
        return text + (f" (retry {first})" if first == last else f" (retries {first}–{last})")
    return text + (f" ×{len(group)}" if len(group) > 1 else "")


class _Budget:
    def __init__(self, max_hops: int | None) -> None:
        self.left = max_hops
        self.skipped = 0

    def take(self, unit: list[Hop]) -> bool:
        hops = sum(h.count() for h in unit)
        if self.left is not None and self.left <= 0:
            self.skipped += hops
            return False
        if self.left is not None:
            self.left -= 1  # the exchange's own hop, drawn once however many it folds; its calls count apart
        return True


def _exchange(group: list[Hop], budget: _Budget, fold: bool) -> list:
    """The lines of one exchange, or of ``len(group)`` identical ones folded together."""
    h = group[0]
    kind, words = _outcome(h)
    req = _request(h, group)
    lat = _latency(group)
    if kind == "refused":
        lines: list = [Arrow(h.caller, h.callee, "cross", req if h.op == "rejected" else f"{req}: {words}")]
        if h.op == "publish":
            lines.append(Note((h.caller,), "message not queued"))
        return lines
    answer = f"{words} {lat}"
    async_op = h.op in ("publish", "ack", "nack", "declare", "leave")
    if len(group) > 1 and not h.children:  # a folded leaf exchange: one line
        style = "cross" if kind == "cross" else ("async" if async_op else "sync")
        return [Arrow(h.caller, h.callee, style, f"{req} → {answer}")]
    if async_op and kind == "ok" and not h.children:
        return [Arrow(h.caller, h.callee, "async", f"{req} · {answer}")]
    lines = [Arrow(h.caller, h.callee, "async" if async_op else "sync", req)]
    lines += _siblings(h.children, budget, fold, parallel=True)
    if h.fault in _FAULT_NOTES:
        lines.append(Note((h.callee,), _FAULT_NOTES[h.fault]))
    if kind == "cross":
        lines.append(Arrow(h.callee, h.caller, "reply_cross", answer))
        if h.op == "publish":
            lines.append(Note((h.caller,), "message may not be queued"))
    else:
        lines.append(Arrow(h.callee, h.caller, "async_reply" if h.op == "pull" else "reply", answer))
    return lines


def _runs(hops: list[Hop], fold: bool) -> list[list[Hop]]:
    units: list[list[Hop]] = []
    for h in hops:
        if fold and units and _signature(units[-1][0]) == _signature(h):
            units[-1].append(h)
        else:
            units.append([h])
    return units


def _overlap(a: list[Hop], b: list[Hop]) -> bool:
    return min(h.start for h in b) < max(h.end for h in a) - _EPS


def _siblings(hops: list[Hop], budget: _Budget, fold: bool, *, parallel: bool) -> list:
    units = _runs(hops, fold)
    lines: list = []
    i = 0
    while i < len(units):
        block, reps = _repeating_block(units, i) if fold else (1, 1)
        if reps > 1:
            inner = [line for u in units[i:i + block] if budget.take(u) for line in _exchange(u, budget, fold)]
            if inner:
                lines += [Frame("loop", f"×{reps}"), *inner, Frame("end")]
            i += block * reps  # the repeats are drawn once, counted in the frame's label
            continue
        group = [units[i]]
        while parallel and i + len(group) < len(units) and _overlap(group[-1], units[i + len(group)]):
            group.append(units[i + len(group)])
        drawn = [_exchange(u, budget, fold) for u in group if budget.take(u)]
        if len(drawn) > 1:
            lines.append(Frame("par", "in parallel"))
            for k, part in enumerate(drawn):
                if k:
                    lines.append(Frame("and"))
                lines += part
            lines.append(Frame("end"))
        elif drawn:
            lines += drawn[0]
        i += len(group)
    return lines


def _repeating_block(units: list[list[Hop]], i: int) -> tuple[int, int]:
    """(block length, repetitions) of the longest-covering block of 2 or 3 units repeated from ``i``."""
    best = (1, 1)
    for k in (2, 3):
        sig = [_signature(u[0]) + (len(u),) for u in units[i:]]
        if len(sig) < 2 * k:
            continue
        reps = 1
        while sig[reps * k:(reps + 1) * k] == sig[:k]:
            reps += 1
        if reps > 1 and k * reps > best[0] * best[1]:
            best = (k, reps)
    return best


def diagram_lines(roots: list[Hop], *, fold: bool = True, max_hops: int | None = None) -> tuple[list, int]:
    """The diagram's lines for ``roots`` and how many hops were left out by ``max_hops``."""
    budget = _Budget(max_hops)
    lines = _siblings(roots, budget, fold, parallel=False)
    return lines, budget.skipped


def participants_of(lines: list, first: str | None = None) -> list[str]:
    """Participants in the order they first appear (``first``, the client, leads)."""
    seen: dict[str, None] = {first: None} if first else {}
    for line in lines:
        if isinstance(line, Arrow):
            seen.setdefault(line.src)
            seen.setdefault(line.dst)
        elif isinstance(line, Note):
            for p in line.over:
                seen.setdefault(p)
    return list(seen)
