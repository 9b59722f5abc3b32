"""A tiny front end for the catalog, and its mock test.

The guide's front-end track runs *develop -> mock test -> API integration*
(API 설계 관점). :class:`Storefront` is the front end's code: it calls the
catalog API as the contract describes it and turns answers into what a
page shows (text lines here, HTML in a real shop). :func:`frontend_test`
exercises its screens. The same test runs twice in the notebook:

1. against the **mock** generated from the contract (the backend does not
   exist yet): the front end is finished and tested early;
2. against the **real backend** (API integration): if the backend honours
   the contract, nothing in the front end changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["Storefront", "Screen", "frontend_test"]


@dataclass
class Screen:
    """What one page shows: a title, its lines, and field errors next to form inputs."""

    title: str
    lines: list[str]
    field_errors: dict[str, str]
    status: int

    def text(self) -> str:
        """The screen as plain text, field errors marked with ``!``."""
        return "\n".join([self.title, *self.lines, *(f"  ! {k}: {v}" for k, v in self.field_errors.items())])


class Storefront:
    """The front end's catalog pages, written against the contract only.

    ``client`` is a labsvc client (``net.client("storefront")``) and ``base``
    the catalog's URL (``http://catalog.svc``); nothing here knows whether a
    mock or the real service answers.
    """

    def __init__(self, client: Any, base: str, *, headers: dict | None = None) -> None:
        self.client = client
        self.base = base.rstrip("/")
        self.headers = headers or {}

    @staticmethod
    def card(product: dict) -> str:
        """One product as the shop shows it: ``espresso beans (BEA-001): 14.00 EUR``."""
        return f"{product['name']} ({product['sku']}): {product['price']:.2f} {product['currency']}"

    async def product_list(self, max_price: float | None = None) -> Screen:
        """The product list page (``GET /products``)."""
        params = {"limit": 100, **({"max_price": max_price} if max_price is not None else {})}
        r = await self.client.get(f"{self.base}/products", params=params, headers=self.headers)
        if r.status_code != 200:
            return self._error("Products", r)
        page = r.json()
        return Screen(f"Products ({page['total']})", [self.card(p) for p in page["items"]], {}, r.status_code)

    async def product_page(self, sku: str, *, prefer: str | None = None) -> Screen:
        """One product's page (``GET /products/{sku}``); ``prefer`` is sent as the ``Prefer`` header."""
        headers = {**self.headers, **({"prefer": prefer} if prefer else {})}
        r = await self.client.get(f"{self.base}/products/{sku}", headers=headers)
        if r.status_code != 200:
            return self._error(f"Product {sku}", r)
        return Screen(r.json()["name"], [self.card(r.json())], {}, r.status_code)

    async def add_product(self, form: dict) -> Screen:
        """The "add a product" form submitted (``POST /products``), field errors shown next to their inputs."""
        r = await self.client.post(f"{self.base}/products", json=form, headers=self.headers)
        if r.status_code == 201:
            return Screen("Product added", [self.card(r.json()), f"at {r.headers.get('location', '?')}"], {}, 201)
        return self._error("Add a product", r)

    def _error(self, title: str, r: Any) -> Screen:
        try:
            doc = r.json()
        except ValueError:
            doc = {}
        errors = {str(e.get("field", "")).split(".")[-1]: str(e.get("message", "")) for e in doc.get("errors") or []}
        return Screen(title, [f"{doc.get('title', 'Error')}: {doc.get('detail', '')}"], errors, r.status_code)


async def frontend_test(client: Any, base: str) -> pd.DataFrame:
    """The front end's screens against whatever answers at ``base``; one row per scenario (``ok`` = as designed).

    Scenarios: the product list renders cards; a product page renders; the
    add form creates a product (a SKU not listed yet, so the test can run
    again); a price typed as text shows an error next to the price field; an
    unknown product shows a "not found" page (``Prefer: code=404`` lets the
    mock answer it, the real service answers it anyway).
    """
    shop = Storefront(client, base)
    rows = []

    def record(scenario: str, screen: Screen, ok: bool) -> None:
        rows.append({"scenario": scenario, "status": screen.status, "shows": screen.text().replace("\n", " | "),
                     "ok": bool(ok)})

    listing = await shop.product_list()
    record("product list shows cards", listing, listing.status == 200 and len(listing.lines) > 0
           and all(" EUR" in line for line in listing.lines))
    listed = {line.split("(")[1].split(")")[0] for line in listing.lines if "(" in line}
    first = next(iter(sorted(listed)), "BEA-001")
    page = await shop.product_page(first)
    record("product page shows one product", page, page.status == 200 and len(page.lines) == 1)
    sku = next(f"NEW-{n:03d}" for n in range(1, 1000) if f"NEW-{n:03d}" not in listed)
    added = await shop.add_product({"sku": sku, "name": "gooseneck kettle", "price": 45.0})
    record("add form creates a product", added, added.status == 201 and "EUR" in added.lines[0])
    bad = await shop.add_product({"sku": "NEW-999", "name": "gooseneck kettle", "price": "forty-five"})
    record("add form shows the price error", bad, bad.status == 422 and "price" in bad.field_errors)
    missing = await shop.product_page("ZZZ-999", prefer="code=404")
    record("unknown product shows not found", missing, missing.status == 404 and "Unknown product" in missing.lines[0])
    return pd.DataFrame(rows, columns=["scenario", "status", "shows", "ok"])
