"""Context maps as Mermaid flowchart text.

:func:`flowchart` writes what :meth:`ContextMap.to_mermaid
<labsvc.design.ContextMap.to_mermaid>` returns: one node per bounded context,
labelled with its subdomain; one arrow per relationship, from upstream to
downstream (two-headed for the symmetric kinds) and labelled with the kind's
abbreviation; nodes styled by subdomain kind (:data:`KIND_COLORS`, which
:mod:`labsvc.design.plots` draws with too), external contexts dashed.
:func:`node_ids` turns context names into safe, unique Mermaid ids.

It reads contexts and relationships by their attributes only (``name``,
``kind``, ``subdomain.name``, ``external``; ``upstream``, ``downstream``,
``symmetric``, ``label``), so it does not import :mod:`labsvc.design.domain`.

>>> node_ids(["order", "end", "2nd", "order!"])
{'order': 'order', 'end': 'c_end', '2nd': 'c_2nd', 'order!': 'order_'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from labsvc.core.errors import ConfigurationError

DIRECTIONS = {"LR", "RL", "TB", "TD", "BT"}

#: Fill and border colour per subdomain kind (the same as in the Mermaid output).
KIND_COLORS: dict[str, tuple[str, str]] = {
    "core": ("#fde2b3", "#c77c02"),
    "supporting": ("#d7e8fb", "#2f6db5"),
    "generic": ("#e6e6e6", "#666666"),
}


def node_ids(names: Iterable[str]) -> dict[str, str]:
    """Safe, unique Mermaid node ids for context names (Mermaid ids are [A-Za-z0-9_])."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"\W", "_", name, flags=re.ASCII) or "ctx"
        # Mermaid treats a few words as keywords; prefix ids that start with a digit too
        if base[0].isdigit() or base.lower() in {"end", "graph", "flowchart", "subgraph", "class"}:
            base = f"c_{base}"
        candidate, i = base, 2
        while candidate in taken:
            candidate, i = f"{base}_{i}", i + 1
        taken.add(candidate)
        ids[name] = candidate
    return ids


def text(value: str) -> str:
    """Escape text for a quoted Mermaid label."""
    return value.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def flowchart(contexts: Iterable[Any], relationships: Iterable[Any], direction: str = "LR", *,
              kinds: Sequence[str]) -> str:
    """Mermaid flowchart text for ``contexts`` and ``relationships``; ``kinds`` orders the class lines."""
    if direction not in DIRECTIONS:
        raise ConfigurationError(
            f"unknown Mermaid direction {direction!r}; use LR, RL, TB, TD or BT"
        )
    contexts = list(contexts)
    ids = node_ids(c.name for c in contexts)
    lines = [f"flowchart {direction}"]
    for c in contexts:
        label = f"{text(c.name)}<br/>{c.kind}: {text(c.subdomain.name)}"
        if c.external:
            label += "<br/>(external)"
        lines.append(f'    {ids[c.name]}["{label}"]')
    for r in relationships:
        arrow = "<-->" if r.symmetric else "-->"
        lines.append(f"    {ids[r.upstream]} {arrow}|{r.label}| {ids[r.downstream]}")
    lines += [f"    classDef {kind} fill:{fill},stroke:{stroke}" for kind, (fill, stroke) in KIND_COLORS.items()]
    lines.append("    classDef external stroke-dasharray:5 5")
    for kind in kinds:
        members = [ids[c.name] for c in contexts if c.kind == kind]
        if members:
            lines.append(f"    class {','.join(members)} {kind}")
    external = [ids[c.name] for c in contexts if c.external]
    if external:
        lines.append(f"    class {','.join(external)} external")
    return "\n".join(lines)
