"""The services notebook 12 secures: a token service, an inventory that checks scopes, an orders service that calls it.

- ``auth``: :func:`demo_token_service`, with the clients of :data:`DEMO_CLIENTS`;
- ``inventory``: :func:`inventory_app`, a resource server whose routes need
  the scopes of :data:`INVENTORY_SCOPES` (audience ``"inventory"``);
- ``orders``: :func:`orders_app`, which gets a client-credentials token as
  the ``orders`` client and calls the inventory with it (service to service).

:func:`create_app` is the token service a learner serves alone
(``uvicorn --factory labsvc.auth:create_app``): a fresh app, with its own
key ring, on every call.

The secrets are written here because this is a lab whose services all run
on one machine; a real deployment reads them from a secret store or the
environment, never from source code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Depends, FastAPI, Request

from labsvc.core.problems import Problem, problem_type
from labsvc.auth._client import TokenClient, TokenRequestError
from labsvc.auth._keys import KeyRing
from labsvc.auth._resource import ResourceServer
from labsvc.auth._token_service import OAuthClient, token_service

__all__ = ["DEMO_SECRETS", "DEMO_CLIENTS", "INVENTORY_SCOPES", "demo_token_service", "inventory_app", "orders_app",
           "create_app"]

#: client id -> secret (lab only).
DEMO_SECRETS = {
    "orders": "orders-secret-0123456789",
    "reporting": "reporting-secret-0123456789",
    "ops": "ops-secret-0123456789abcdef",
    "config-reader": "config-reader-secret-0123456789",
}


def DEMO_CLIENTS() -> list[OAuthClient]:  # noqa: N802 - a constant's name, built fresh (OAuthClient keeps state)
    """The registered clients: who may ask for which scopes, for which audiences."""
    return [
        OAuthClient("orders", DEMO_SECRETS["orders"], scopes=("stock:read", "stock:write"), audiences=("inventory",)),
        OAuthClient("reporting", DEMO_SECRETS["reporting"], scopes=("stock:read",), audiences=("inventory",)),
        OAuthClient("ops", DEMO_SECRETS["ops"], scopes=("stock:admin", "auth:admin", "config:write"),
                    audiences=("inventory", "config")),
        OAuthClient("config-reader", DEMO_SECRETS["config-reader"], scopes=("config:decrypt",), audiences=("config",)),
    ]


#: Route of the inventory -> the scopes it needs.
INVENTORY_SCOPES: dict[str, tuple[str, ...]] = {
    "GET /stock/{sku}": ("stock:read",),
    "POST /stock/{sku}/reserve": ("stock:write",),
    "DELETE /stock/{sku}": ("stock:admin",),
}


def demo_token_service(*, clock: Any = None, key_size: int = 2048, ttl: float = 300.0) -> FastAPI:
    """The ``auth`` service: :data:`DEMO_CLIENTS`, a fresh key ring, tokens valid ``ttl`` seconds."""
    return token_service(DEMO_CLIENTS(), keys=KeyRing(clock=clock, key_size=key_size), ttl=ttl)


def create_app(settings: Mapping[str, Any] | None = None) -> FastAPI:
    """The token service of notebook 12, new on every call (its own clients and key ring).

    ``settings`` holds :func:`demo_token_service`'s options (``clock``,
    ``key_size``, ``ttl``); none means the defaults. There is no module-level
    ``app``: making one generates an RSA key, which is not free.
    """
    return demo_token_service(**dict(settings or {}))


def inventory_app(*, route_scopes: Mapping[str, tuple[str, ...]] | None = None, clock: Any = None,
                  jwks: Any = None, jwks_max_age: float = 300.0) -> FastAPI:
    """The inventory: stock per SKU, each route guarded by ``route_scopes`` (default :data:`INVENTORY_SCOPES`).

    ``route_scopes`` must name each of the three routes; an empty tuple means
    "any valid token". ``app.state.resource`` is the :class:`ResourceServer`.
    """
    from labsvc.core.errors import ConfigurationError
    from labsvc.core.service import create_service

    scopes = dict(INVENTORY_SCOPES if route_scopes is None else route_scopes)
    missing = set(INVENTORY_SCOPES) - set(scopes)
    extra = set(scopes) - set(INVENTORY_SCOPES)
    if missing or extra:
        raise ConfigurationError(f"route_scopes must name exactly the routes {sorted(INVENTORY_SCOPES)}; "
                                 f"missing {sorted(missing)}, unknown {sorted(extra)}")
    kw = {} if jwks is None else {"jwks": jwks}
    resource = ResourceServer("inventory", clock=clock, jwks_max_age=jwks_max_age, **kw)
    app = create_service("inventory", description="stock per SKU; every route needs a scoped access token")
    app.state.resource = resource
    stock = {"sku-1": 10, "sku-2": 3}

    def guard(route: str):
        return Depends(resource.require(*scopes[route]))

    @app.get("/stock/{sku}")
    async def get_stock(sku: str, claims: dict = guard("GET /stock/{sku}")) -> dict:
        return {"sku": sku, "available": stock.get(sku, 0), "caller": claims["client_id"]}

    @app.post("/stock/{sku}/reserve")
    async def reserve(sku: str, claims: dict = guard("POST /stock/{sku}/reserve")) -> dict:
        if stock.get(sku, 0) < 1:
            raise Problem(409, "Out of stock", type=problem_type("out-of-stock"), detail=f"no {sku} left")
        stock[sku] -= 1
        return {"sku": sku, "available": stock[sku], "caller": claims["client_id"]}

    @app.delete("/stock/{sku}")
    async def delete(sku: str, claims: dict = guard("DELETE /stock/{sku}")) -> dict:
        stock.pop(sku, None)
        return {"sku": sku, "deleted": True, "caller": claims["client_id"]}

    return app


def orders_app(*, clock: Any = None) -> FastAPI:
    """The orders service: ``POST /orders/{sku}`` reserves one unit at the inventory, with its own token."""
    from labsvc.core.service import create_service, http

    app = create_service("orders", description="places orders; calls the inventory with a client-credentials token")
    tokens = TokenClient("orders", DEMO_SECRETS["orders"], scope="stock:read stock:write", resource="inventory",
                         clock=clock)
    app.state.tokens = tokens

    @app.post("/orders/{sku}", status_code=201)
    async def place(sku: str, request: Request) -> dict:
        client = http(request)
        try:
            headers = await tokens.headers(client)
        except TokenRequestError as exc:
            raise Problem(502, "No token", type=problem_type("token-unavailable"), detail=str(exc)) from None
        r = await client.post(f"http://inventory.svc/stock/{sku}/reserve", headers=headers)
        if r.status_code >= 400:
            raise Problem(502 if r.status_code >= 500 else r.status_code, "Inventory refused",
                          type=problem_type("inventory-refused"), detail=r.json().get("detail", ""),
                          upstream_status=r.status_code)
        return {"sku": sku, "reserved": True, "left": r.json()["available"]}

    return app
