"""The shop's business modules: the same logic in both designs.

Each module is a plain class with async methods. What differs between the
monolith and the microservices is only how the modules reach each other:

- in the **monolith**, ``OrdersModule`` holds a direct Python reference to
  ``InventoryModule`` (a function call);
- as **microservices**, it holds an adapter with the same methods that calls
  the inventory service over HTTP (:mod:`labsvc.shop.services`).

That is the port-and-adapter idea: the business rules do not change when the
deployment does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Protocol

from labsvc.core.logs import get_logger
from labsvc.core.problems import Problem

__all__ = [
    "PRODUCTS", "WARMUP", "CatalogModule", "InventoryModule", "ReviewsModule", "OrdersModule",
    "DeliveryModule", "OrderDeps", "Inventory", "Payments", "Delivery", "OutOfStock", "PaymentDeclined",
]

# Ten products, as in the guide's small shop example.
PRODUCTS = [
    {"id": i + 1, "name": name, "price": price}
    for i, (name, price) in enumerate([
        ("espresso beans", 14.0), ("pour-over kettle", 39.0), ("ceramic mug", 9.5), ("hand grinder", 54.0),
        ("paper filters", 4.0), ("milk frother", 24.0), ("travel tumbler", 19.0), ("scale", 29.0),
        ("cold brew jar", 22.0), ("tasting notebook", 7.5),
    ])
]

# Seconds each module needs to start (load caches, open connections). A
# process that hosts several modules pays for all of them when it starts:
# the monolith starts as slowly as all its modules together.
WARMUP = {"catalog": 0.15, "inventory": 0.10, "reviews": 0.20, "orders": 0.10, "delivery": 0.10, "web": 0.05}


class OutOfStock(Problem):
    def __init__(self, product_id: int, wanted: int, available: int) -> None:
        super().__init__(409, "Out of stock", detail=f"product {product_id}: wanted {wanted}, only {available} left",
                         type="urn:labsvc:problem:out-of-stock")


class PaymentDeclined(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(402, "Payment declined", detail=detail, type="urn:labsvc:problem:payment-declined")


def _not_found(what: str, key: int) -> Problem:
    return Problem(404, f"Unknown {what}", detail=f"there is no {what} with id {key}")


class CatalogModule:
    """What the shop sells."""

    def __init__(self) -> None:
        self.products = {p["id"]: dict(p) for p in PRODUCTS}

    async def list(self) -> list[dict]:
        return list(self.products.values())

    async def get(self, product_id: int) -> dict:
        try:
            return self.products[product_id]
        except KeyError:
            raise _not_found("product", product_id) from None


class InventoryModule:
    """How many of each product are on the shelf; reservations take them off."""

    def __init__(self, initial: int = 1_000_000) -> None:
        self.stock = {p["id"]: initial for p in PRODUCTS}

    async def available(self, product_id: int) -> int:
        if product_id not in self.stock:
            raise _not_found("product", product_id)
        return self.stock[product_id]

    async def reserve(self, product_id: int, quantity: int) -> dict:
        left = await self.available(product_id)
        if quantity > left:
            get_logger("inventory").warning("out of stock", extra={"product_id": product_id, "wanted": quantity,
                                                                   "available": left})
            raise OutOfStock(product_id, quantity, left)
        self.stock[product_id] = left - quantity
        get_logger("inventory").info("stock reserved", extra={"product_id": product_id, "quantity": quantity})
        return {"product_id": product_id, "reserved": quantity}


class ReviewsModule:
    """What customers said about each product."""

    def __init__(self) -> None:
        self.reviews = {p["id"]: [{"stars": 3 + (p["id"] + k) % 3, "text": f"review {k}"} for k in range(3)] for p in PRODUCTS}

    async def for_product(self, product_id: int) -> list[dict]:
        return self.reviews.get(product_id, [])


class DeliveryModule:
    """Schedules and tracks parcels."""

    def __init__(self, history: int = 20) -> None:
        # Orders 1..history were placed before the experiment starts, and as if
        # stored in a database they survive a restart.
        self.parcels: dict[int, dict] = {i: {"order_id": i, "status": "in transit"} for i in range(1, history + 1)}

    async def schedule(self, order_id: int) -> dict:
        parcel = {"order_id": order_id, "status": "scheduled"}
        self.parcels[order_id] = parcel
        get_logger("delivery").info("delivery scheduled", extra={"order_id": order_id})
        return parcel

    async def track(self, order_id: int) -> dict:
        try:
            return self.parcels[order_id]
        except KeyError:
            raise _not_found("delivery for order", order_id) from None


class Inventory(Protocol):
    async def reserve(self, product_id: int, quantity: int) -> dict: ...


class Payments(Protocol):
    async def charge(self, order_id: int, amount: float) -> dict: ...


class Delivery(Protocol):
    async def schedule(self, order_id: int) -> dict: ...


@dataclass
class OrderDeps:
    """What placing an order needs from other modules (in-process or remote)."""

    catalog: CatalogModule | object
    inventory: Inventory
    payments: Payments
    delivery: Delivery


class OrdersModule:
    """Places orders: price from the catalog, reserve stock, take payment, schedule delivery."""

    def __init__(self) -> None:
        self.orders: dict[int, dict] = {}
        self._ids = itertools.count(1001)  # ids 1..1000 belong to earlier orders

    async def place(self, deps: OrderDeps, product_id: int, quantity: int) -> dict:
        product = await deps.catalog.get(product_id)
        order_id = next(self._ids)
        await deps.inventory.reserve(product_id, quantity)
        await deps.payments.charge(order_id, product["price"] * quantity)
        await deps.delivery.schedule(order_id)
        order = {"id": order_id, "product_id": product_id, "quantity": quantity,
                 "total": product["price"] * quantity, "status": "placed"}
        self.orders[order_id] = order
        get_logger("orders").info("order placed", extra={"order_id": order_id, "total": order["total"]})
        return order

    async def get(self, order_id: int) -> dict:
        try:
            return self.orders[order_id]
        except KeyError:
            raise _not_found("order", order_id) from None
