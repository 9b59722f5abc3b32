"""Four small product APIs, one per level of the Richardson maturity model.

The same three products behind four designs, so only the API style
changes (Leonard Richardson's model, as Martin Fowler describes it):

- **level 0** (:func:`level0_app`): one URI, every call a ``POST`` whose body
  names the procedure (``{"method": "getProduct", ...}``); every answer is
  200, errors travel inside the body (RPC over HTTP, as in SOAP/XML-RPC);
- **level 1** (:func:`level1_app`): one URI per resource (``/products``,
  ``/products/{sku}``), but still only ``POST`` with an ``action`` in the body,
  and still 200 for everything;
- **level 2** (:func:`level2_app`): HTTP verbs with their meaning (``GET``
  reads, ``POST`` creates, ``PATCH`` changes, ``DELETE`` removes) and status
  codes (201 Created, 204 No Content, 404 problem documents);
- **level 3** (:func:`level3_app`): level 2 plus hypermedia: every product
  carries ``_links`` to itself, its collection and what can be done next,
  so a client follows links instead of building URLs.

Each function is an app factory (a fresh store per instance).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Response
from pydantic import BaseModel

from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import create_service
from labsvc.api._backend import NewProduct, PriceChange

__all__ = ["level0_app", "level1_app", "level2_app", "level3_app", "EXAMPLE_APIS", "example_products"]


def example_products() -> dict[str, dict]:
    """A fresh store of three products keyed by SKU."""
    return {
        "BEA-001": {"sku": "BEA-001", "name": "espresso beans", "price": 14.0},
        "MUG-003": {"sku": "MUG-003", "name": "ceramic mug", "price": 9.5},
        "FIL-005": {"sku": "FIL-005", "name": "paper filters", "price": 4.0},
    }


class Call(BaseModel):
    """A level-0 request: the procedure to run and its arguments."""

    method: str
    params: dict[str, Any] = {}


class Command(BaseModel):
    """A level-1 request: what to do with the resource the URI names."""

    action: str
    name: str | None = None
    price: float | None = None
    sku: str | None = None


def level0_app() -> FastAPI:
    """Level 0: ``POST /api`` with ``{"method": ..., "params": ...}``; always 200."""
    app = create_service("rpc-catalog", title="Catalog RPC (level 0)")
    store = example_products()

    @app.post("/api", summary="Run a procedure")
    async def rpc(call: Call) -> dict:
        p = call.params
        if call.method == "listProducts":
            return {"result": list(store.values())}
        if call.method == "getProduct":
            found = store.get(p.get("sku", ""))
            return {"result": found} if found else {"error": f"no product {p.get('sku')}"}
        if call.method == "createProduct":
            store[p["sku"]] = {"sku": p["sku"], "name": p.get("name", ""), "price": p.get("price", 0)}
            return {"result": store[p["sku"]]}
        if call.method == "deleteProduct":
            return {"result": store.pop(p.get("sku", ""), None) is not None}
        return {"error": f"unknown method {call.method}"}

    return app


def level1_app() -> FastAPI:
    """Level 1: a URI per resource, but only ``POST`` and an ``action`` field; always 200."""
    app = create_service("resource-catalog", title="Catalog resources (level 1)")
    store = example_products()

    @app.post("/products", summary="List or create products")
    async def products(command: Command) -> dict:
        if command.action == "list":
            return {"items": list(store.values())}
        if command.action == "create" and command.sku:
            store[command.sku] = {"sku": command.sku, "name": command.name, "price": command.price}
            return {"created": store[command.sku]}
        return {"error": f"unknown action {command.action}"}

    @app.post("/products/{sku}", summary="Read, reprice or delete one product")
    async def product(sku: str, command: Command) -> dict:
        if sku not in store:
            return {"error": f"no product {sku}"}
        if command.action == "get":
            return {"product": store[sku]}
        if command.action == "reprice" and command.price:
            store[sku]["price"] = command.price
            return {"product": store[sku]}
        if command.action == "delete":
            del store[sku]
            return {"deleted": sku}
        return {"error": f"unknown action {command.action}"}

    return app


def _not_found(sku: str) -> Problem:
    return Problem(404, "Unknown product", type=problem_type("unknown-product"), detail=f"there is no product with SKU {sku}")


_PROBLEM = {"model": dict, "content": {"application/problem+json": {}}}


def _verbs_app(name: str, title: str, decorate) -> FastAPI:
    """Levels 2 and 3 share their handlers; ``decorate`` adds links (level 3) or not (level 2)."""
    app = create_service(name, title=title)
    store = example_products()

    @app.get("/products", summary="List products")
    async def list_products() -> dict:
        return {"items": [decorate(p) for p in store.values()], **_collection_links(decorate)}

    @app.post("/products", status_code=201, summary="Add a product", responses={409: _PROBLEM})
    async def create(new: NewProduct, response: Response) -> dict:
        if new.sku in store:
            raise Problem(409, "Product exists", type=problem_type("duplicate-sku"), detail=f"{new.sku} exists already")
        store[new.sku] = new.model_dump()
        response.headers["Location"] = f"/products/{new.sku}"
        return decorate(store[new.sku])

    @app.get("/products/{sku}", summary="One product", responses={404: _PROBLEM})
    async def get(sku: str) -> dict:
        if sku not in store:
            raise _not_found(sku)
        return decorate(store[sku])

    @app.patch("/products/{sku}", summary="Change the price", responses={404: _PROBLEM})
    async def reprice(sku: str, change: PriceChange) -> dict:
        if sku not in store:
            raise _not_found(sku)
        store[sku]["price"] = change.price
        return decorate(store[sku])

    @app.delete("/products/{sku}", status_code=204, response_class=Response, summary="Remove", responses={404: _PROBLEM})
    async def delete(sku: str) -> Response:
        if store.pop(sku, None) is None:
            raise _not_found(sku)
        return Response(status_code=204)

    return app


def _collection_links(decorate) -> dict:
    if decorate is _plain:
        return {}
    return {"_links": {"self": {"href": "/products"}, "create": {"href": "/products", "method": "POST"}}}


def _plain(product: dict) -> dict:
    return dict(product)


def _with_links(product: dict) -> dict:
    href = f"/products/{product['sku']}"
    return {**product, "_links": {
        "self": {"href": href},
        "collection": {"href": "/products"},
        "reprice": {"href": href, "method": "PATCH"},
        "delete": {"href": href, "method": "DELETE"},
    }}


def level2_app() -> FastAPI:
    """Level 2: HTTP verbs and status codes (201, 204, 404 and 409 problem documents)."""
    return _verbs_app("verbs-catalog", "Catalog with HTTP verbs (level 2)", _plain)


def level3_app() -> FastAPI:
    """Level 3: level 2 plus ``_links`` in every answer (hypermedia controls)."""
    return _verbs_app("hypermedia-catalog", "Catalog with hypermedia (level 3)", _with_links)


#: The four example APIs, by the label the maturity table shows.
EXAMPLE_APIS = {
    "level 0: RPC over POST /api": level0_app,
    "level 1: resources, POST only": level1_app,
    "level 2: verbs + status codes": level2_app,
    "level 3: hypermedia links": level3_app,
}
