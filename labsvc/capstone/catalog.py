"""The capstone's catalog service: the shop's product catalog, in numbered releases (one of them bad).

Deploying a new release is one more thing that can go wrong in production,
so the capstone treats it as a chaos experiment like any other
(``bad_deploy.yaml``). The catalog itself is the shop's
(:func:`labsvc.shop.services.catalog_app`: ``GET /products`` and ``GET
/products/{id}``); what changes is the release (:data:`RELEASES`):

- ``1.0`` and ``1.1``: the shop's catalog (1.1 is a harmless redeploy);
- ``2.0``: a bug. Every product page answers 500 (its new query reads a
  column the catalog does not have), while ``/health`` still says UP, as a
  real bad release often does: only the users, and the SLOs, notice.

``app.state.release`` says which release an instance runs, so an operator
can see a canary. Serve it on its own with::

    python -m labsvc serve labsvc.capstone.catalog:app          # release 1.0
    python -m labsvc serve labsvc.capstone.catalog:create_app   # a new app per instance
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from labsvc.core.problems import problem_response, problem_type
from labsvc.shop.services import catalog_app

__all__ = ["RELEASES", "Settings", "create_app", "app", "catalog_release"]

#: Every catalog release and what it changes.
RELEASES = {
    "1.0": "the shop's catalog",
    "1.1": "the same catalog, redeployed (a harmless release)",
    "2.0": "a new product query with a bug: every product page fails, health stays UP",
}


@dataclass(frozen=True)
class Settings:
    """Which release of the catalog to run (one of :data:`RELEASES`)."""

    release: str = "1.0"

    def __post_init__(self) -> None:
        if self.release not in RELEASES:
            raise ValueError(f"unknown catalog release {self.release!r}; releases: {sorted(RELEASES)}")


async def broken_product_query(request: Any, call_next: Any) -> Any:
    """Release 2.0's bug: every product page fails with a SQL error; everything else (``/health``) works."""
    if request.url.path.startswith("/products/"):
        return problem_response(500, "Internal Server Error", type=problem_type("internal-error"),
                                detail="release 2.0: no such column: products.price_eur")
    return await call_next(request)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new catalog app of ``settings.release``; ``app.state.release`` says which."""
    settings = settings or Settings()
    app = catalog_app()
    app.state.release = settings.release
    if settings.release == "2.0":
        app.middleware("http")(broken_product_query)
    return app


def catalog_release(version: str) -> FastAPI:
    """The catalog app of release ``version`` (see :data:`RELEASES`); ``app.state.release`` says which."""
    return create_app(Settings(release=version))


#: Release 1.0, for ``python -m labsvc serve labsvc.capstone.catalog:app``.
app = create_app()
