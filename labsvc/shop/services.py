"""The shop deployed two ways: one monolith, or seven microservices.

Both expose the same four user features at the edge (``shop.svc`` for the
monolith, ``web.svc`` for the storefront service in front of the
microservices):

============  ===============================  =====================================
feature       request                          modules it needs
============  ===============================  =====================================
browse        ``GET /products``                catalog
product page  ``GET /products/{id}``           catalog, inventory, reviews
checkout      ``POST /orders``                 orders, catalog, inventory, payment, delivery
track         ``GET /orders/{id}/delivery``    delivery
============  ===============================  =====================================

``payment`` is an external provider in both designs: even the monolith
calls it over the network.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import BaseModel, Field

from labsvc.core.client import Client
from labsvc.core.logs import get_logger
from labsvc.core.problems import Problem
from labsvc.core.service import Request, create_service, http
from labsvc.shop.modules import (
    WARMUP, CatalogModule, DeliveryModule, InventoryModule, OrderDeps, OrdersModule, ReviewsModule,
)

__all__ = [
    "MICROSERVICES", "monolith_app", "web_app", "catalog_app", "inventory_app", "reviews_app", "orders_app",
    "delivery_app", "payment_app", "OrderRequest",
]


class OrderRequest(BaseModel):
    product_id: int = Field(ge=1, description="which product")
    quantity: int = Field(default=1, ge=1, le=100, description="how many")


def _warmup(*modules: str):
    """A lifespan that pays each hosted module's start-up time."""

    @asynccontextmanager
    async def lifespan(app):
        await asyncio.sleep(sum(WARMUP[m] for m in modules))
        yield

    return lifespan


async def _call(client: Client, method: str, url: str, json: Any = None) -> Any:
    """Call a dependency; its problem or its absence becomes this service's problem."""
    try:
        r = await client.request(method, url, json=json)
    except httpx.HTTPError as exc:
        get_logger(client.caller).error("dependency unavailable", extra={"url": url, "error": type(exc).__name__})
        raise Problem(503, "Dependency unavailable", detail=f"{url}: {type(exc).__name__}",
                      type="urn:labsvc:problem:dependency-unavailable") from None
    if r.status_code >= 500:
        get_logger(client.caller).error("dependency failed", extra={"url": url, "status": r.status_code})
    if r.status_code >= 400:
        try:
            doc = r.json()
        except ValueError:
            doc = {}
        status = r.status_code if r.status_code < 500 else 503
        raise Problem(status, doc.get("title", "Dependency failed"), detail=doc.get("detail", url),
                      type=doc.get("type", "about:blank"))
    return r.json()


# ----------------------------------------------------------------- remote adapters
class _Remote:
    """An adapter with a module's methods that calls its service over HTTP as ``client``'s caller."""

    def __init__(self, client: Client) -> None:
        self.client = client


class RemoteCatalog(_Remote):
    """The catalog module, reached over HTTP."""

    async def list(self) -> list[dict]:
        return await _call(self.client, "GET", "http://catalog.svc/products")

    async def get(self, product_id: int) -> dict:
        return await _call(self.client, "GET", f"http://catalog.svc/products/{product_id}")


class RemoteInventory(_Remote):
    """The inventory module, reached over HTTP."""

    async def available(self, product_id: int) -> int:
        return (await _call(self.client, "GET", f"http://inventory.svc/stock/{product_id}"))["available"]

    async def reserve(self, product_id: int, quantity: int) -> dict:
        body = {"product_id": product_id, "quantity": quantity}
        return await _call(self.client, "POST", "http://inventory.svc/reservations", json=body)


class RemoteReviews(_Remote):
    """The reviews module, reached over HTTP."""

    async def for_product(self, product_id: int) -> list[dict]:
        return await _call(self.client, "GET", f"http://reviews.svc/reviews/{product_id}")


class RemoteDelivery(_Remote):
    """The delivery module, reached over HTTP."""

    async def schedule(self, order_id: int) -> dict:
        return await _call(self.client, "POST", "http://delivery.svc/deliveries", json={"order_id": order_id})

    async def track(self, order_id: int) -> dict:
        return await _call(self.client, "GET", f"http://delivery.svc/deliveries/{order_id}")


class RemotePayments(_Remote):
    """The external payment provider, reached over the network in both designs."""

    async def charge(self, order_id: int, amount: float) -> dict:
        return await _call(self.client, "POST", "http://payment.svc/charges", json={"order_id": order_id, "amount": amount})


async def _product_page(catalog, inventory, reviews, product_id: int) -> dict:
    product = await catalog.get(product_id)
    available = await inventory.available(product_id)
    try:
        found = await reviews.for_product(product_id)
    except Problem:
        found = None  # reviews are optional on the page: show it without them
    return {"product": product, "available": available, "reviews": found, "degraded": found is None}


# ----------------------------------------------------------------- the monolith
def monolith_app():
    """All modules in one app: one process, one deploy, one failure domain."""
    app = create_service("shop", lifespan=_warmup("catalog", "inventory", "reviews", "orders", "delivery", "web"))
    catalog, inventory, reviews = CatalogModule(), InventoryModule(), ReviewsModule()
    orders, delivery = OrdersModule(), DeliveryModule()

    @app.get("/products")
    async def browse():
        return await catalog.list()

    @app.get("/products/{product_id}")
    async def product_page(product_id: int):
        return await _product_page(catalog, inventory, reviews, product_id)

    @app.post("/orders", status_code=201)
    async def checkout(body: OrderRequest, request: Request):
        deps = OrderDeps(catalog, inventory, RemotePayments(http(request)), delivery)
        return await orders.place(deps, body.product_id, body.quantity)

    @app.get("/orders/{order_id}/delivery")
    async def track(order_id: int):
        return await delivery.track(order_id)

    return app


# ----------------------------------------------------------------- the microservices
def web_app():
    """The storefront: the same edge API as the monolith, composed from services."""
    app = create_service("web", lifespan=_warmup("web"))

    @app.get("/products")
    async def browse(request: Request):
        return await RemoteCatalog(http(request)).list()

    @app.get("/products/{product_id}")
    async def product_page(product_id: int, request: Request):
        c = http(request)
        return await _product_page(RemoteCatalog(c), RemoteInventory(c), RemoteReviews(c), product_id)

    @app.post("/orders", status_code=201)
    async def checkout(body: OrderRequest, request: Request):
        return await _call(http(request), "POST", "http://orders.svc/orders", json=body.model_dump())

    @app.get("/orders/{order_id}/delivery")
    async def track(order_id: int, request: Request):
        return await RemoteDelivery(http(request)).track(order_id)

    return app


def catalog_app():
    app = create_service("catalog", lifespan=_warmup("catalog"))
    catalog = CatalogModule()

    @app.get("/products")
    async def products():
        return await catalog.list()

    @app.get("/products/{product_id}")
    async def product(product_id: int):
        return await catalog.get(product_id)

    return app


class Reservation(BaseModel):
    product_id: int
    quantity: int = Field(ge=1)


def inventory_app():
    app = create_service("inventory", lifespan=_warmup("inventory"))
    inventory = InventoryModule()

    @app.get("/stock/{product_id}")
    async def stock(product_id: int):
        return {"product_id": product_id, "available": await inventory.available(product_id)}

    @app.post("/reservations", status_code=201)
    async def reserve(body: Reservation):
        return await inventory.reserve(body.product_id, body.quantity)

    return app


def reviews_app():
    app = create_service("reviews", lifespan=_warmup("reviews"))
    reviews = ReviewsModule()

    @app.get("/reviews/{product_id}")
    async def for_product(product_id: int):
        return await reviews.for_product(product_id)

    return app


class Parcel(BaseModel):
    order_id: int


def delivery_app():
    app = create_service("delivery", lifespan=_warmup("delivery"))
    delivery = DeliveryModule()

    @app.post("/deliveries", status_code=201)
    async def schedule(body: Parcel):
        return await delivery.schedule(body.order_id)

    @app.get("/deliveries/{order_id}")
    async def track(order_id: int):
        return await delivery.track(order_id)

    return app


def orders_app():
    app = create_service("orders", lifespan=_warmup("orders"))
    orders = OrdersModule()

    @app.post("/orders", status_code=201)
    async def place(body: OrderRequest, request: Request):
        c = http(request)
        deps = OrderDeps(RemoteCatalog(c), RemoteInventory(c), RemotePayments(c), RemoteDelivery(c))
        return await orders.place(deps, body.product_id, body.quantity)

    @app.get("/orders/{order_id}")
    async def get(order_id: int):
        return await orders.get(order_id)

    return app


class Charge(BaseModel):
    order_id: int
    amount: float = Field(gt=0)


def payment_app():
    """The external payment provider (not ours to change or redeploy)."""
    app = create_service("payment")
    charges: list[dict] = []

    @app.post("/charges", status_code=201)
    async def charge(body: Charge):
        record = {"charge_id": len(charges) + 1, **body.model_dump(), "status": "captured"}
        charges.append(record)
        return record

    return app


MICROSERVICES = {
    "web": web_app, "catalog": catalog_app, "inventory": inventory_app, "reviews": reviews_app,
    "orders": orders_app, "delivery": delivery_app,
}
