"""Releases of the catalog service, so that deploying a bad one is an experiment like any other.

``1.0`` and ``1.1`` are the shop's catalog (:func:`labsvc.shop.services.catalog_app`);
``2.0`` has a bug: every product page answers 500 (its new query reads a
column the catalog does not have), while its health check still says UP,
as a real bad release often does.
"""

from __future__ import annotations

from ..problems import problem_response, problem_type
from ..shop.services import catalog_app

__all__ = ["RELEASES", "catalog_release"]

#: Every catalog release and what it changes.
RELEASES = {
    "1.0": "the shop's catalog",
    "1.1": "the same catalog, redeployed (a harmless release)",
    "2.0": "a new product query with a bug: every product page fails, health stays UP",
}


def catalog_release(version: str):
    """The catalog app of release ``version`` (see :data:`RELEASES`); ``app.state.release`` says which."""
    if version not in RELEASES:
        raise ValueError(f"unknown catalog release {version!r}; releases: {sorted(RELEASES)}")
    app = catalog_app()
    app.state.release = version
    if version == "2.0":
        @app.middleware("http")
        async def broken_product_query(request, call_next):
            if request.url.path.startswith("/products/"):
                return problem_response(500, "Internal Server Error", type=problem_type("internal-error"),
                                        detail="release 2.0: no such column: products.price_eur")
            return await call_next(request)
    return app
