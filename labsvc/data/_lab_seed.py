"""Seed data notebook 06's experiments share: customer names, and registering customers and orders through the APIs."""

from __future__ import annotations

import random
from typing import Any

__all__ = ["CUSTOMER_NAMES", "register_customers", "order_body"]

CUSTOMER_NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov",
                  "Donald Knuth", "Frances Allen", "John Backus")


async def register_customers(client: Any, people: Any) -> list[int]:
    """``POST http://customers.svc/customers`` for each full name in ``people``; the ids given, in order."""
    ids = []
    for person in people:
        r = await client.post("http://customers.svc/customers",
                              json={"name": person, "email": person.split()[0].lower() + "@example.com"})
        ids.append(r.json()["id"])
    return ids


def order_body(rng: random.Random, customer_ids: list[int]) -> dict[str, Any]:
    """The body of one seeded ``POST http://orders.svc/orders``: a customer of ``customer_ids`` and a total."""
    return {"customer_id": rng.choice(customer_ids), "total": round(rng.uniform(5, 150), 2)}
