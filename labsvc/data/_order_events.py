"""The contract between the order service and those who read its events (CQRS, notebook 06).

Both sides of CQRS agree on these and on nothing else: the topic and the
read model's consumer group, the statuses and event types, and the shape of
the ``stats`` answer both sides give (so that comparing them tells whether
the read model caught up).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import func, select

__all__ = ["ORDER_STATUSES", "EVENT_TYPES", "TOPIC", "GROUP", "stats_of", "order_stats"]

ORDER_STATUSES = ("PLACED", "SHIPPED", "CANCELLED")
EVENT_TYPES = {"PLACED": "OrderPlaced", "SHIPPED": "OrderShipped", "CANCELLED": "OrderCancelled"}
TOPIC = "orders"
GROUP = "order-history"


def stats_of(rows: list[tuple[str, int, float]]) -> dict[str, Any]:
    """Counts and sums per status from (status, count, total) rows: both sides answer this shape."""
    by_status = {s: 0 for s in ORDER_STATUSES}
    orders, total = 0, 0.0
    for status, n, t in rows:
        by_status[status] = int(n)
        orders += int(n)
        total += float(t or 0.0)
    return {"orders": orders, "total": round(total, 2), **by_status}


def order_stats(db: Any, model: Any) -> dict[str, Any]:
    """:func:`stats_of` the orders in ``model``'s table (it has ``status`` and ``total`` columns)."""
    with db.session() as s:
        rows = s.exec(select(model.status, func.count(), func.sum(model.total)).group_by(model.status)).all()
    return stats_of(rows)
