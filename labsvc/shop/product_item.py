"""Product and Item: one shared table against two bounded contexts.

The guide's Bounded Context section tells a story: a team keeps a
``Product`` table; then a merchandiser wants to sell *sets* (a gift set
made of several goods), and the quickest change is to put the set into the
same table, with a flag. Its Product/Item table separates the two ideas,
and this module uses its words:

* a **Product** is a supplied, physical good: identified by its real
  product code, counted in the units the supplier delivered, tracked until
  it arrives in the store;
* an **Item** is what is sold: one product on its own, or a set of several;
  it carries the price and any time-limited discount, is what the shop
  settles with its suppliers against, and can be recomposed in the store.

Many shops use the two words the other way round (a sellable "product"
made of stock "items"); what matters is that each context fixes its own
meaning, not which word it picks.

The module runs the story both ways, with the shop's ten goods plus one
set, so notebook 02 can measure what goes wrong:

* ``"shared"``: one service, one ``products`` table. Its ``stock`` column
  means "units on the warehouse shelf" for a mug, but "sets we plan to sell"
  for the gift set (the merchandiser typed 10). Ordering anything decrements
  the row that was ordered, the same code for both: selling a set never
  takes mugs off the shelf.
* ``"contexts"``: three services. ``catalog`` owns the **Item** (what a
  customer can buy, with a price and, for a set, the products it is made
  of; no stock at all); ``inventory`` owns the **Product** (a counted
  physical good by product code; it knows nothing about sets); ``order``
  asks the catalog what an item is made of and reserves those products in
  the inventory, all or nothing.

Goods 1 to 10 of :data:`labsvc.shop.PRODUCTS` are both: each is a product
in the inventory and is also sold on its own as the item with the same id;
the set is item 11.

:func:`gift_set_experiment` sends the same seeded orders to either design
and then audits the warehouse: which accepted orders can really be shipped
from the physical stock, and how many units the system believes exist that
do not. The shared design oversells; the contexts design does not.

>>> run = await gift_set_experiment("shared", orders=40, seed=1)     # doctest: +SKIP
>>> run.summary                                                       # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd
from pydantic import BaseModel, Field

from labsvc.core.errors import ConfigurationError
from labsvc.core.network import Network
from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import Request, create_service, http
from labsvc.shop.modules import PRODUCTS
from labsvc.core.simtime import experiment

__all__ = [
    "DESIGNS",
    "PRODUCTS_ON_HAND",
    "GIFT_SET",
    "PLANNED_SETS",
    "ORDER_MIX",
    "shared_model_app",
    "catalog_app",
    "inventory_app",
    "order_app",
    "build_product_item",
    "order_url",
    "GiftSetRun",
    "gift_set_experiment",
]

DESIGNS = ("shared", "contexts")

#: Physical units on the shelf per product (id of :data:`labsvc.shop.PRODUCTS`, the real product code).
PRODUCTS_ON_HAND: dict[int, int] = {1: 30, 2: 10, 3: 12, 4: 6, 5: 40, 6: 8, 7: 15, 8: 9, 9: 7, 10: 25}

#: The gift set, item 11: one pour-over kettle, one pack of filters and one mug ({product id: units}).
GIFT_SET: dict[str, Any] = {"id": 11, "name": "brewing starter set", "price": 49.0,
                            "components": {2: 1, 5: 1, 3: 1}}

#: What the merchandiser typed into the set's ``stock`` cell: sets they plan to sell.
PLANNED_SETS = 10

#: Share of orders per item id in the experiment (the set is popular).
ORDER_MIX: dict[int, float] = {11: 0.35, 3: 0.30, 2: 0.15, 5: 0.10, 1: 0.10}


class OrderRequest(BaseModel):
    item_id: int = Field(ge=1, description="which item is bought (1 to 10 sell one product each; 11 is the gift set)")
    quantity: int = Field(default=1, ge=1, le=10)


class Reservation(BaseModel):
    products: dict[int, int] = Field(description="{product id (product code): units}")


def _unknown(item_id: int) -> Problem:
    return Problem(404, "Unknown item", type=problem_type("unknown-item"),
                   detail=f"there is no item with id {item_id}")


def _out_of_stock(detail: str) -> Problem:
    return Problem(409, "Out of stock", type=problem_type("out-of-stock"), detail=detail)


# -- one shared Product table ------------------------------------------------------


def shared_model_app():
    """One service and one ``products`` table for everything, the set included (the quick change)."""
    app = create_service("store", description="One Product table for supplied goods, sets and stock.")
    rows = {p["id"]: {"id": p["id"], "name": p["name"], "price": p["price"], "stock": PRODUCTS_ON_HAND[p["id"]],
                      "is_set": False, "components": ""} for p in PRODUCTS}
    rows[GIFT_SET["id"]] = {"id": GIFT_SET["id"], "name": GIFT_SET["name"], "price": GIFT_SET["price"],
                            "stock": PLANNED_SETS, "is_set": True,
                            "components": ", ".join(f"{q}x{i}" for i, q in GIFT_SET["components"].items())}
    orders: list[dict] = []

    @app.get("/products", summary="The whole table, as both teams see it")
    async def table() -> list[dict]:
        return [dict(r) for r in rows.values()]

    @app.post("/orders", status_code=201)
    async def place(body: OrderRequest) -> dict:
        row = rows.get(body.item_id)
        if row is None:
            raise _unknown(body.item_id)
        # the same rule for every row: that is what sharing the table means
        if row["stock"] < body.quantity:
            raise _out_of_stock(f"{row['name']}: wanted {body.quantity}, stock says {row['stock']}")
        row["stock"] -= body.quantity
        order = {"order_id": len(orders) + 1, "item_id": body.item_id, "quantity": body.quantity}
        orders.append(order)
        return order

    return app


# -- two bounded contexts (plus the order context that uses both) ------------------


def catalog_app():
    """The catalog context: an Item is what a customer can buy (price, sets). It keeps no stock."""
    app = create_service("catalog", description="Items: what is sold, prices, sets of products. No stock.")
    items = {p["id"]: {**p, "components": {p["id"]: 1}} for p in PRODUCTS}  # each product sold on its own
    items[GIFT_SET["id"]] = {k: GIFT_SET[k] for k in ("id", "name", "price")} | {
        "components": dict(GIFT_SET["components"])}

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict:
        if item_id not in items:
            raise _unknown(item_id)
        return items[item_id]

    return app


def inventory_app():
    """The inventory context: a Product is a supplied physical good, counted by product code. No sets."""
    app = create_service("inventory", description="Products: supplied goods on hand, by product code.")
    on_hand = dict(PRODUCTS_ON_HAND)

    @app.get("/products")
    async def products() -> dict[int, int]:
        return dict(on_hand)

    @app.post("/reservations", status_code=201)
    async def reserve(body: Reservation) -> dict:
        unknown = sorted(set(body.products) - set(on_hand))
        if unknown:
            raise Problem(404, "Unknown product", type=problem_type("unknown-product"),
                          detail=f"no products {unknown}")
        short = {i: (q, on_hand[i]) for i, q in body.products.items() if on_hand[i] < q}
        if short:  # all or nothing: a set is shipped whole or not at all
            raise _out_of_stock("; ".join(f"product {i}: wanted {q}, {have} on hand" for i, (q, have) in short.items()))
        for i, q in body.products.items():
            on_hand[i] -= q
        return {"reserved": body.products}

    return app


def order_app():
    """The order context: asks the catalog what an item is made of, reserves those products."""
    app = create_service("order", description="Orders: translate an item into products and reserve them.")
    orders: list[dict] = []

    @app.post("/orders", status_code=201)
    async def place(body: OrderRequest, request: Request) -> dict:
        client = http(request)
        item = await _forward(client, "GET", f"http://catalog.svc/items/{body.item_id}")
        products = {int(i): q * body.quantity for i, q in item["components"].items()}
        await _forward(client, "POST", "http://inventory.svc/reservations", json={"products": products})
        order = {"order_id": len(orders) + 1, "item_id": body.item_id, "quantity": body.quantity}
        orders.append(order)
        return order

    return app


async def _forward(client, method: str, url: str, json: Any = None) -> Any:
    """Call another context; pass its problem on (404, 409) or report it unavailable."""
    try:
        r = await client.request(method, url, json=json)
    except httpx.HTTPError as exc:
        raise Problem(503, "Dependency unavailable", type=problem_type("dependency-unavailable"),
                      detail=f"{url}: {type(exc).__name__}") from None
    if r.status_code >= 400:
        doc = r.json()
        raise Problem(r.status_code if r.status_code < 500 else 502, doc.get("title"),
                      type=doc.get("type", "about:blank"), detail=doc.get("detail", url))
    return r.json()


# -- building and running ------------------------------------------------------------


def _check(design: str) -> None:
    if design not in DESIGNS:
        raise ConfigurationError(f"design={design!r} is not known; use one of {DESIGNS}")


def build_product_item(design: str, *, seed: int = 0, name: str | None = None) -> Network:
    """A network running the shop ``"shared"`` (one table) or as ``"contexts"`` (catalog, inventory, order)."""
    _check(design)
    net = Network(seed=seed, name=name or f"product-item-{design}")
    if design == "shared":
        net.add("store", shared_model_app)
    else:
        net.add("catalog", catalog_app)
        net.add("inventory", inventory_app)
        net.add("order", order_app)
    return net


def order_url(design: str) -> str:
    """Where customers place orders in ``design``."""
    _check(design)
    return "http://store.svc/orders" if design == "shared" else "http://order.svc/orders"


def _products_of(item_id: int) -> dict[int, int]:
    """The products (and units of each) that one unit of ``item_id`` takes off the shelf."""
    return dict(GIFT_SET["components"]) if item_id == GIFT_SET["id"] else {item_id: 1}


@dataclass
class GiftSetRun:
    """What :func:`gift_set_experiment` saw.

    Attributes:
        design: ``"shared"`` or ``"contexts"``.
        orders: one row per order: i, item_id, item, status, accepted,
            shipped (could the warehouse really pack it, in order of arrival).
        shelf: per physical product: on_hand (at start), system_says (the
            stock the system shows afterwards), really_left (units left after
            shipping what could be shipped), phantom (system_says minus
            really_left: units the system believes in that do not exist).
        calls: the call log.
    """

    design: str
    orders: pd.DataFrame
    shelf: pd.DataFrame
    calls: pd.DataFrame

    @property
    def summary(self) -> pd.Series:
        """Orders accepted, shipped and oversold (accepted but impossible to ship), phantom units."""
        o = self.orders
        return pd.Series({
            "orders": len(o),
            "accepted": int(o["accepted"].sum()),
            "shipped": int(o["shipped"].sum()),
            "oversold": int((o["accepted"] & ~o["shipped"]).sum()),
            "phantom units": int(self.shelf["phantom"].clip(lower=0).sum()),
            "hops per order": len(self.calls) / len(o) if len(o) else 0.0,
        }, name=self.design)


@experiment
async def gift_set_experiment(design: str, *, orders: int = 40, seed: int = 0) -> GiftSetRun:
    """Place ``orders`` seeded single-unit orders of items (mix :data:`ORDER_MIX`), then audit the warehouse."""
    _check(design)
    if isinstance(orders, bool) or not isinstance(orders, int) or orders < 1:
        raise ConfigurationError(f"orders={orders!r} must be a positive int")
    rng = random.Random(seed)
    ids, weights = list(ORDER_MIX), list(ORDER_MIX.values())
    wanted = rng.choices(ids, weights=weights, k=orders)
    names = {p["id"]: p["name"] for p in PRODUCTS} | {GIFT_SET["id"]: GIFT_SET["name"]}
    net = build_product_item(design, seed=seed, name=f"gift-set-{design}")
    rows = []
    async with net:
        client = net.client("customers")
        for i, item_id in enumerate(wanted):  # one after the other: no race, only the model is on trial
            r = await client.post(order_url(design), json={"item_id": item_id, "quantity": 1})
            rows.append({"i": i, "item_id": item_id, "item": names[item_id], "status": r.status_code,
                         "accepted": r.status_code == 201})
        calls = net.calls  # the orders' hops only, not the audit's reads below
        if design == "shared":
            table = (await client.get("http://store.svc/products")).json()
            system = {row["id"]: row["stock"] for row in table if not row["is_set"]}
        else:
            system = {int(k): v for k, v in (await client.get("http://inventory.svc/products")).json().items()}
    # the audit: pack accepted orders in order from the real shelf
    shelf = Counter(PRODUCTS_ON_HAND)
    for row in rows:
        need = _products_of(row["item_id"])
        row["shipped"] = row["accepted"] and all(shelf[i] >= q for i, q in need.items())
        if row["shipped"]:
            for i, q in need.items():
                shelf[i] -= q
    ordered = set().union(*map(_products_of, ORDER_MIX))
    table = pd.DataFrame([
        {"product_id": pid, "product": names[pid], "on_hand": PRODUCTS_ON_HAND[pid], "system_says": system[pid],
         "really_left": shelf[pid]}
        for pid in sorted(PRODUCTS_ON_HAND) if pid in ordered
    ])
    table["phantom"] = table["system_says"] - table["really_left"]
    return GiftSetRun(design, pd.DataFrame(rows), table, calls)
