"""Reading a trace: its spans as a tree, its slowest work, and the order a waterfall draws them in."""

from __future__ import annotations

import pandas as pd

from labsvc.core.errors import ConfigurationError

__all__ = ["trace_spans", "span_tree", "waterfall_order", "leaf_spans", "self_time"]


def trace_spans(spans: pd.DataFrame, trace_id: str) -> pd.DataFrame:
    """The spans of one trace, in start order (``ConfigurationError`` if there are none)."""
    found = spans[spans["trace_id"] == trace_id]
    if found.empty:
        raise ConfigurationError(f"no span has trace id {trace_id!r}; known traces: {spans['trace_id'].nunique()}")
    return found.sort_values("start", kind="stable", ignore_index=True)


def span_tree(spans: pd.DataFrame, trace_id: str) -> list[tuple[str, str]]:
    """The trace's parent/child edges as ``("service kind name", "service kind name")`` pairs, in start order.

    A span whose parent is not among the trace's spans is a root and has no
    edge. Names are readable so a test (or a learner) can compare trees.
    """
    t = trace_spans(spans, trace_id)
    label = {r.span_id: f"{r.service} {r.kind} {r.name}" for r in t.itertuples()}
    return [(label[r.parent_span_id], label[r.span_id]) for r in t.itertuples() if r.parent_span_id in label]


def waterfall_order(spans: pd.DataFrame, trace_id: str) -> pd.DataFrame:
    """The trace's spans depth first (each parent above its children, siblings by start), with ``depth``."""
    t = trace_spans(spans, trace_id)
    children: dict[str | None, list] = {}
    ids = set(t["span_id"])
    for r in t.itertuples():
        parent = r.parent_span_id if r.parent_span_id in ids else None
        children.setdefault(parent, []).append(r.Index)
    order, depth = [], []

    def walk(parent, d):
        for idx in sorted(children.get(parent, []), key=lambda i: t.at[i, "start"]):
            order.append(idx)
            depth.append(d)
            walk(t.at[idx, "span_id"], d + 1)

    walk(None, 0)
    return t.loc[order].assign(depth=depth).reset_index(drop=True)


def leaf_spans(spans: pd.DataFrame, trace_id: str) -> pd.DataFrame:
    """The spans of a trace that have no children: where the time was spent rather than waited."""
    t = trace_spans(spans, trace_id)
    parents = set(t["parent_span_id"].dropna())
    return t[~t["span_id"].isin(parents)].reset_index(drop=True)


def self_time(spans: pd.DataFrame, trace_id: str) -> pd.Series:
    """Each span's duration minus its children's (sequential children assumed), indexed by span id."""
    t = trace_spans(spans, trace_id)
    child_time = t.groupby("parent_span_id")["duration"].sum()
    return (t.set_index("span_id")["duration"] - child_time.reindex(t["span_id"]).fillna(0).to_numpy()).rename("self")
