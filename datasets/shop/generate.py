"""Generate the synthetic shop dataset (deterministic: same seed, same bytes).

The example online shop of the course, as data:

* the domain: bounded contexts, their relationships, ubiquitous language,
  entities, business capabilities and user stories (written by hand below);
* a synthetic monolith of that shop: modules, their layer and bounded
  context, and weighted module dependencies (the dependency structure is
  written by hand; the weights are drawn from a seeded generator by the
  strength of each dependency);
* a change history: changes drawn with a seeded generator from change
  templates, each of which touches a fixed set of modules and, with a given
  probability, a few more (changes leak along dependencies in real code too);
* reference assignments of modules to services (DDD-aligned, by layer,
  coarse).

Only the Python standard library is used, so the script runs anywhere:

    python datasets/shop/generate.py            # rewrite the CSVs next to this file
    python datasets/shop/generate.py --out DIR  # write them somewhere else

The test suite regenerates the files into a temporary folder and checks that
they are byte-identical to the committed ones.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

SEED = 20240611
N_CHANGES = 60

# -- the domain ---------------------------------------------------------------

# context, subdomain, subdomain_kind, external, description
CONTEXTS = [
    ("storefront", "Online storefront", "supporting", False,
     "Web pages and the checkout flow customers click through; composes the other contexts."),
    ("catalog", "Product catalog", "core", False,
     "What the shop sells: products, sets, prices and promotions."),
    ("inventory", "Inventory management", "supporting", False,
     "Physical stock: items on hand, reservations and replenishment from suppliers."),
    ("order", "Order management", "core", False,
     "Carts, checkout and orders from placement to completion."),
    ("payment", "Payments", "generic", False,
     "Our thin adapter to the external payment provider: charges and refunds."),
    ("payment-provider", "Payments", "generic", True,
     "An external payment service (PayPal-like); we use it, we do not build it."),
    ("delivery", "Delivery management", "supporting", False,
     "Shipments, delivery options and tracking."),
    ("carrier", "Parcel shipping", "generic", True,
     "An external parcel carrier with its own API."),
    ("customer", "Identity and access", "generic", False,
     "Customer accounts, sign-in and access tokens (staff sign in here too)."),
    ("search", "Product search", "supporting", False,
     "Full-text product search over an index fed from the catalog."),
    ("notification", "Notifications", "generic", False,
     "E-mail and SMS messages to customers and staff."),
    ("employee", "Staff management", "supporting", False,
     "The shop's employees and their back-office roles."),
]

# upstream, downstream, kind, note
RELATIONSHIPS = [
    ("catalog", "order", "customer-supplier", "order prices carts with catalog prices"),
    ("inventory", "order", "customer-supplier", "checkout reserves stock"),
    ("catalog", "inventory", "shared-kernel", "both use the SKU code and the product-to-item mapping"),
    ("payment", "order", "customer-supplier", "checkout asks payment to charge the customer"),
    ("payment-provider", "payment", "open-host-service", "the provider's public REST API"),
    ("payment-provider", "payment", "anticorruption-layer",
     "payment.adapter translates provider messages into our Payment model"),
    ("order", "delivery", "customer-supplier", "delivery ships what order confirmed"),
    ("carrier", "delivery", "conformist", "we use the carrier's tracking model as it is"),
    ("customer", "order", "open-host-service", "sign-in tokens and customer profiles over a public API"),
    ("customer", "employee", "conformist", "staff sign in through the identity service and accept its model"),
    ("catalog", "search", "published-language", "product-changed events in a documented format feed the index"),
    ("notification", "order", "open-host-service", "a send-message API"),
    ("notification", "delivery", "open-host-service", "a send-message API"),
    ("inventory", "employee", "partnership", "replenishment approvals are planned by both teams together"),
    ("catalog", "storefront", "customer-supplier", "pages show catalog data"),
    ("order", "storefront", "customer-supplier", "pages drive cart and checkout"),
    ("search", "storefront", "conformist", "pages show search results as search returns them"),
]

# context, term, meaning  (the same word on purpose in several contexts)
GLOSSARY = [
    ("catalog", "Product", "Something a customer can buy, as shown in the shop: name, pictures, "
     "price; may be a set made of several stock items."),
    ("catalog", "Item", "One stock item a product is made of; the catalog only keeps its SKU code."),
    ("catalog", "Price", "The current selling price of a product, after any running promotion."),
    ("catalog", "Promotion", "A discount on chosen products for a limited period."),
    ("catalog", "Category", "A shelf in the shop's navigation that groups products."),
    ("inventory", "Item", "A physical stock-keeping unit, identified by its SKU code and counted "
     "on hand in the warehouse."),
    ("inventory", "Product", "The supplier's article under which items arrive and are paid for."),
    ("inventory", "Reservation", "Items held back for a checkout until it is paid or cancelled."),
    ("inventory", "Stock level", "Items on hand minus items reserved."),
    ("order", "Cart", "Products a customer intends to buy, with quantities; not yet an order."),
    ("order", "Order", "A confirmed purchase: lines, totals and a status from placed to completed."),
    ("order", "Order line", "One product, a quantity and the price agreed at checkout."),
    ("order", "Product", "An id, a name and the price agreed at checkout, copied into the order line."),
    ("payment", "Payment", "A charge against a payment method for one order."),
    ("payment", "Refund", "Money returned against an earlier payment, in full or in part."),
    ("payment", "Customer", "The payer, known only by the provider's customer token."),
    ("delivery", "Shipment", "A parcel handed to a carrier for one order."),
    ("delivery", "Recipient", "The person and address a shipment goes to; may differ from the payer."),
    ("delivery", "Order", "A request to ship some items to one address; prices do not matter here."),
    ("customer", "Customer", "A person with an account: profile, addresses and credentials."),
    ("customer", "Token", "A signed proof of who is calling, with an expiry time."),
    ("search", "Product", "A search document: text and facets copied from the catalog, possibly "
     "a little stale."),
    ("search", "Query", "What a customer typed plus the chosen filters."),
    ("notification", "Message", "One e-mail or SMS, rendered from a template."),
    ("notification", "Recipient", "An e-mail address or phone number, nothing more."),
    ("employee", "Employee", "A member of staff with a role and a shift plan."),
    ("employee", "Role", "What an employee may do in the back office."),
    ("storefront", "Page", "A screen the customer sees, assembled from several contexts."),
]

# entity, context, description
ENTITIES = [
    ("Product", "catalog", "A sellable product or set, with name, pictures and price."),
    ("Category", "catalog", "Navigation group of products."),
    ("Promotion", "catalog", "Time-limited discount rule."),
    ("Item", "inventory", "Physical stock-keeping unit with SKU code and quantity on hand."),
    ("Reservation", "inventory", "Stock held for a checkout."),
    ("SupplierArrival", "inventory", "A delivery of items from a supplier."),
    ("Cart", "order", "The customer's cart."),
    ("Order", "order", "A placed order and its status."),
    ("OrderLine", "order", "A product, quantity and agreed price within an order."),
    ("Payment", "payment", "A charge made through the payment provider."),
    ("Refund", "payment", "A refund of a payment."),
    ("Shipment", "delivery", "A parcel and its tracking number."),
    ("DeliveryOption", "delivery", "Standard, same-day, pick-up point, ..."),
    ("Customer", "customer", "Account, profile and addresses."),
    ("Credential", "customer", "Password hash or external sign-in link."),
    ("SearchDocument", "search", "Indexed copy of a product."),
    ("Message", "notification", "A sent or queued e-mail or SMS."),
    ("Employee", "employee", "A member of staff."),
    ("Role", "employee", "A back-office permission set."),
]

# capability_id, capability, context, description
CAPABILITIES = [
    ("CAP-01", "Browse the catalog", "catalog", "Show categories, products and prices."),
    ("CAP-02", "Manage products and prices", "catalog", "Create products and sets, set prices."),
    ("CAP-03", "Run promotions", "catalog", "Time-limited discounts on chosen products."),
    ("CAP-04", "Search products", "search", "Find products by text and filters."),
    ("CAP-05", "Manage stock", "inventory", "Know what is on hand and reserve it for checkouts."),
    ("CAP-06", "Replenish from suppliers", "inventory", "Reorder items that run low."),
    ("CAP-07", "Manage the cart", "order", "Add, change and remove products before buying."),
    ("CAP-08", "Check out", "order", "Turn a cart into a paid order."),
    ("CAP-09", "Take payments", "payment", "Charge the customer through the payment provider."),
    ("CAP-10", "Refund", "payment", "Return money for cancelled or returned orders."),
    ("CAP-11", "Ship orders", "delivery", "Book a carrier and hand over parcels."),
    ("CAP-12", "Track deliveries", "delivery", "Tell customers where their parcel is."),
    ("CAP-13", "Register and sign in", "customer", "Accounts, sign-in, tokens."),
    ("CAP-14", "Notify customers", "notification", "Confirmation, shipping and reset messages."),
    ("CAP-15", "Manage staff", "employee", "Employees, roles and approvals."),
]

# story_id, role, want, so_that, capability_id
USER_STORIES = [
    ("US-01", "shopper", "to browse products by category", "I can find what I need", "CAP-01"),
    ("US-02", "shopper", "to see whether a product is in stock", "I do not order something unavailable", "CAP-05"),
    ("US-03", "shopper", "to search by keyword and filter by price", "I find products quickly", "CAP-04"),
    ("US-04", "merchandiser", "to bundle three products as a gift set", "we can sell sets for holidays", "CAP-02"),
    ("US-05", "merchandiser", "to schedule a weekend discount", "promotions start and stop on time", "CAP-03"),
    ("US-06", "shopper", "to change quantities in my cart", "I buy exactly what I want", "CAP-07"),
    ("US-07", "shopper", "to pay with my usual payment account", "I do not type card details", "CAP-09"),
    ("US-08", "shopper", "to get an order confirmation e-mail", "I know the order went through", "CAP-14"),
    ("US-09", "shopper", "to choose same-day delivery", "I get my order today", "CAP-11"),
    ("US-10", "shopper", "to track my parcel", "I know when to be at home", "CAP-12"),
    ("US-11", "shopper", "to sign in with a one-time code", "I do not need a password", "CAP-13"),
    ("US-12", "shopper", "to cancel an order before it ships", "I am not charged for a mistake", "CAP-08"),
    ("US-13", "customer service agent", "to refund part of an order", "a damaged item is compensated", "CAP-10"),
    ("US-14", "warehouse worker", "to record a supplier arrival", "stock levels are right", "CAP-06"),
    ("US-15", "warehouse manager", "to approve replenishment orders", "we do not overstock", "CAP-15"),
    ("US-16", "back-office admin", "to give an employee the warehouse role", "they can use the stock screens", "CAP-15"),
    ("US-17", "shopper", "to apply a coupon code at checkout", "I get the advertised discount", "CAP-08"),
    ("US-18", "finance officer", "to see VAT per order line", "invoices are correct", "CAP-08"),
    ("US-19", "shopper", "to reset my password by e-mail", "I can get back into my account", "CAP-13"),
    ("US-20", "merchandiser", "new products to appear in search within minutes", "launches are visible at once", "CAP-04"),
]

# -- the monolith -------------------------------------------------------------

# module, layer, bounded_context, description
MODULES = [
    ("storefront.web", "web", "storefront", "Server-rendered pages and the checkout flow."),
    ("catalog.api", "web", "catalog", "HTTP endpoints for products and categories."),
    ("catalog.service", "service", "catalog", "Catalog use cases."),
    ("catalog.pricing", "service", "catalog", "Prices, sets and promotions."),
    ("catalog.repo", "persistence", "catalog", "Product and category tables."),
    ("catalog.model", "domain", "catalog", "Product, Category, Promotion."),
    ("inventory.api", "web", "inventory", "HTTP endpoints for stock."),
    ("inventory.service", "service", "inventory", "Stock levels and reservations."),
    ("inventory.replenishment", "service", "inventory", "Reorders from suppliers."),
    ("inventory.repo", "persistence", "inventory", "Item, reservation and arrival tables."),
    ("inventory.model", "domain", "inventory", "Item, Reservation, SupplierArrival."),
    ("order.api", "web", "order", "HTTP endpoints for carts and orders."),
    ("order.cart", "service", "order", "Cart operations and cart pricing."),
    ("order.checkout", "service", "order", "Checkout: reserve, pay, confirm, book delivery."),
    ("order.service", "service", "order", "Order lifecycle after checkout."),
    ("order.repo", "persistence", "order", "Cart and order tables."),
    ("order.model", "domain", "order", "Cart, Order, OrderLine."),
    ("payment.service", "service", "payment", "Charges and refunds."),
    ("payment.adapter", "integration", "payment", "Client of the external payment provider (the anticorruption layer)."),
    ("payment.model", "domain", "payment", "Payment, Refund."),
    ("delivery.api", "web", "delivery", "HTTP endpoints for shipments and tracking."),
    ("delivery.service", "service", "delivery", "Shipment booking and tracking."),
    ("delivery.carrier", "integration", "delivery", "Client of the external carrier API."),
    ("delivery.repo", "persistence", "delivery", "Shipment tables."),
    ("delivery.model", "domain", "delivery", "Shipment, DeliveryOption."),
    ("customer.api", "web", "customer", "HTTP endpoints for accounts and sign-in."),
    ("customer.auth", "service", "customer", "Sign-in, tokens and access checks."),
    ("customer.service", "service", "customer", "Account and address management."),
    ("customer.repo", "persistence", "customer", "Customer and credential tables."),
    ("customer.model", "domain", "customer", "Customer, Credential."),
    ("search.api", "web", "search", "HTTP endpoint for product search."),
    ("search.indexer", "service", "search", "Builds and queries the product index."),
    ("notification.service", "service", "notification", "Queues and sends messages."),
    ("notification.email", "integration", "notification", "Templates and the mail gateway client."),
    ("employee.api", "web", "employee", "Back-office endpoints for staff."),
    ("employee.service", "service", "employee", "Employees, roles and approvals."),
    ("employee.repo", "persistence", "employee", "Employee and role tables."),
]

# Weight ranges by dependency strength: how many references a source module
# makes to a target module (like the occurrence counts of the Java monoliths).
STRENGTH = {"strong": (6, 14), "normal": (3, 7), "weak": (1, 3)}


def _standard(ctx: str) -> list[tuple[str, str, str]]:
    """The usual api -> service -> repo -> model wiring inside one context."""
    return [
        (f"{ctx}.api", f"{ctx}.service", "strong"),
        (f"{ctx}.api", f"{ctx}.model", "normal"),
        (f"{ctx}.service", f"{ctx}.repo", "strong"),
        (f"{ctx}.service", f"{ctx}.model", "strong"),
        (f"{ctx}.repo", f"{ctx}.model", "strong"),
    ]


# source, target, strength
DEPENDENCIES = [
    # inside contexts
    *_standard("catalog"),
    ("catalog.service", "catalog.pricing", "strong"),
    ("catalog.pricing", "catalog.model", "normal"),
    *_standard("inventory"),
    ("inventory.service", "inventory.replenishment", "normal"),
    ("inventory.replenishment", "inventory.repo", "normal"),
    ("inventory.replenishment", "inventory.model", "normal"),
    ("order.api", "order.cart", "strong"),
    ("order.api", "order.checkout", "strong"),
    ("order.api", "order.service", "normal"),
    ("order.api", "order.model", "normal"),
    ("order.cart", "order.repo", "normal"),
    ("order.cart", "order.model", "strong"),
    ("order.checkout", "order.cart", "normal"),
    ("order.checkout", "order.service", "strong"),
    ("order.checkout", "order.model", "normal"),
    ("order.service", "order.repo", "strong"),
    ("order.service", "order.model", "strong"),
    ("order.repo", "order.model", "strong"),
    ("payment.service", "payment.adapter", "strong"),
    ("payment.service", "payment.model", "strong"),
    ("payment.adapter", "payment.model", "normal"),
    *_standard("delivery"),
    ("delivery.service", "delivery.carrier", "strong"),
    ("delivery.carrier", "delivery.model", "normal"),
    *_standard("customer"),
    ("customer.api", "customer.auth", "strong"),
    ("customer.auth", "customer.repo", "normal"),
    ("customer.auth", "customer.model", "normal"),
    ("search.api", "search.indexer", "strong"),
    ("notification.service", "notification.email", "strong"),
    ("employee.api", "employee.service", "strong"),
    ("employee.service", "employee.repo", "strong"),
    # across contexts: the front end composes everything
    ("storefront.web", "catalog.api", "normal"),
    ("storefront.web", "order.api", "normal"),
    ("storefront.web", "customer.api", "normal"),
    ("storefront.web", "search.api", "normal"),
    ("storefront.web", "delivery.api", "weak"),
    ("storefront.web", "customer.auth", "weak"),
    # order needs almost everyone
    ("order.cart", "catalog.service", "normal"),
    ("order.cart", "catalog.model", "normal"),  # cart lines hold the catalog's Product
    ("order.checkout", "inventory.service", "normal"),
    ("order.checkout", "payment.service", "normal"),
    ("order.checkout", "delivery.service", "weak"),
    ("order.service", "customer.service", "weak"),
    ("order.service", "notification.service", "weak"),
    ("order.model", "catalog.model", "weak"),
    ("order.model", "customer.model", "weak"),
    ("order.api", "customer.auth", "weak"),
    # catalog and inventory share the SKU (shared kernel)
    ("catalog.service", "inventory.service", "weak"),
    ("inventory.model", "catalog.model", "weak"),
    ("catalog.api", "customer.auth", "weak"),
    ("inventory.api", "customer.auth", "weak"),
    ("inventory.replenishment", "employee.service", "weak"),
    ("inventory.replenishment", "notification.service", "weak"),
    # monolith shortcuts that a split has to undo
    ("payment.service", "order.model", "weak"),      # reads order totals directly
    ("payment.service", "customer.model", "weak"),
    ("delivery.service", "order.repo", "weak"),      # reads order tables directly
    ("delivery.model", "order.model", "weak"),
    ("delivery.service", "customer.service", "weak"),
    ("delivery.service", "notification.service", "weak"),
    ("delivery.api", "customer.auth", "weak"),
    ("customer.service", "notification.service", "weak"),
    ("search.indexer", "catalog.repo", "normal"),    # indexes straight from catalog tables
    ("search.indexer", "catalog.model", "normal"),
    ("notification.service", "customer.repo", "weak"),  # looks up addresses itself
    ("employee.api", "customer.auth", "normal"),
]

# Change templates: (description, fill-ins, modules always touched,
# {module: probability of also being touched}, relative frequency).
CHANGE_TEMPLATES = [
    ("Add {} to the product page",
     ["a size chart", "a video", "colour swatches", "customer photos", "care instructions"],
     ["catalog.api", "catalog.model", "catalog.repo"],
     {"storefront.web": 0.5, "search.indexer": 0.3}, 4),
    ("Change price rounding for {}", ["bundles", "foreign currencies", "sale items"],
     ["catalog.pricing", "catalog.model"], {"catalog.service": 0.3, "order.cart": 0.3}, 3),
    ("Run a {} promotion", ["weekend", "clearance", "two-for-one", "members-only"],
     ["catalog.pricing", "catalog.service"], {"catalog.api": 0.5, "customer.service": 0.2}, 3),
    ("Sell {} as a set", ["gift boxes", "starter kits", "holiday bundles"],
     ["catalog.model", "catalog.service", "catalog.repo"], {"inventory.model": 0.4}, 2),
    ("Show the stock level {}", ["on the product page", "in the cart"],
     ["inventory.service", "inventory.api", "catalog.service"], {"storefront.web": 0.5}, 1),
    ("Change the low-stock threshold for {}", ["fast movers", "seasonal items", "bulky items"],
     ["inventory.replenishment", "inventory.model"], {"inventory.repo": 0.3}, 2),
    ("Record {} of supplier arrivals", ["dates", "batch numbers", "damaged goods"],
     ["inventory.model", "inventory.repo", "inventory.service"], {"inventory.api": 0.5}, 3),
    ("Release stock reservations after {} minutes", ["15", "30"],
     ["inventory.service", "inventory.model"], {"order.checkout": 0.3}, 1),
    ("Let customers {} in the cart",
     ["save items for later", "change quantities inline", "apply a coupon code"],
     ["order.cart", "order.api", "order.model"],
     {"storefront.web": 0.5, "catalog.pricing": 0.2}, 4),
    ("Add {} to orders", ["a gift message", "a purchase-order number", "an order note"],
     ["order.model", "order.repo", "order.api"], {"order.service": 0.5, "delivery.model": 0.3}, 3),
    ("Order status flow: {}",
     ["add an 'on hold' state", "allow cancelling before shipping", "allow partial cancellation"],
     ["order.service", "order.model"],
     {"order.repo": 0.3, "delivery.service": 0.3, "payment.service": 0.3}, 3),
    ("Validate {} at checkout",
     ["a minimum order value", "a maximum quantity per customer", "address completeness"],
     ["order.checkout"], {"order.model": 0.4, "customer.service": 0.3}, 3),
    ("Move to the payment provider's API {}", ["v2", "v3", "v4"],
     ["payment.adapter"], {"payment.model": 0.4}, 2),
    ("Support {}", ["gift cards", "instalments", "a mobile wallet"],
     ["payment.service", "payment.adapter", "payment.model"],
     {"order.checkout": 0.6, "storefront.web": 0.3}, 2),
    ("Allow partial refunds {}", ["for damaged items", "for late deliveries"],
     ["payment.service", "payment.model"], {"order.service": 0.4}, 1),
    ("Offer {} delivery", ["same-day", "evening", "pick-up point"],
     ["delivery.service", "delivery.model", "delivery.carrier"],
     {"order.checkout": 0.5, "storefront.web": 0.3}, 2),
    ("Switch carrier labels to {}", ["PDF", "ZPL"], ["delivery.carrier"], {}, 1),
    ("Show tracking as a {}", ["map", "timeline", "delivery-time estimate"],
     ["delivery.api", "delivery.service"],
     {"storefront.web": 0.5, "notification.service": 0.3}, 2),
    ("Sign in with {}", ["a one-time code", "a social account", "a passkey"],
     ["customer.auth", "customer.api"],
     {"customer.repo": 0.3, "employee.api": 0.2, "storefront.web": 0.3}, 2),
    ("Let customers {}",
     ["keep several addresses", "delete their account", "export their data"],
     ["customer.model", "customer.repo", "customer.service", "customer.api"],
     {"delivery.service": 0.2, "order.service": 0.2}, 2),
    ("Improve search: {}", ["typo tolerance", "synonyms", "facets by brand"],
     ["search.indexer"], {"search.api": 0.6, "catalog.model": 0.2}, 2),
    ("Change the {} e-mail template",
     ["order confirmation", "shipping", "password reset", "welcome"],
     ["notification.email"], {"notification.service": 0.3}, 2),
    ("Send {} by SMS", ["shipping updates", "sign-in codes"],
     ["notification.service", "notification.email"], {"customer.model": 0.3}, 1),
    ("Add {} to staff records", ["a shift plan", "a warehouse role"],
     ["employee.service", "employee.repo"], {"employee.api": 0.5}, 1),
    ("Let warehouse staff approve {}", ["replenishment orders", "stock write-offs"],
     ["employee.service", "inventory.replenishment"], {"inventory.api": 0.4}, 1),
    ("Rename the SKU field to {} everywhere", ["'article code'"],
     ["catalog.model", "inventory.model", "order.model", "search.indexer"], {}, 1),
    ("Add a VAT breakdown to {}", ["receipts", "invoices"],
     ["order.model", "catalog.pricing", "payment.model"], {"notification.email": 0.5}, 1),
]

# Coarse services for a first cut (the guide's advice: start bigger, split later).
COARSE = {
    "storefront": "sales", "catalog": "sales", "search": "sales", "order": "sales",
    "customer": "sales", "notification": "sales", "payment": "payment",
    "inventory": "fulfilment", "delivery": "fulfilment", "employee": "fulfilment",
}


# -- generation ---------------------------------------------------------------


def _check() -> None:
    """Catch typos in the hand-written tables before anything is written."""
    modules = {m for m, *_ in MODULES}
    contexts = {c for c, *_ in CONTEXTS}
    assert len(modules) == len(MODULES), "duplicate module"
    for m, _, ctx, _ in MODULES:
        assert ctx in contexts and m.split(".")[0] == ctx, m
    pairs = [(s, t) for s, t, _ in DEPENDENCIES]
    assert len(set(pairs)) == len(pairs), "duplicate dependency"
    for s, t, strength in DEPENDENCIES:
        assert s in modules and t in modules and s != t and strength in STRENGTH, (s, t)
    for up, down, *_ in RELATIONSHIPS:
        assert up in contexts and down in contexts, (up, down)
    for ctx, *_ in GLOSSARY + [(c, *rest) for _, c, *rest in ENTITIES]:
        assert ctx in contexts, ctx
    capabilities = {c for c, *_ in CAPABILITIES}
    for *_, cap in USER_STORIES:
        assert cap in capabilities, cap
    for _, _, always, maybe, _ in CHANGE_TEMPLATES:
        assert set(always) <= modules and set(maybe) <= modules, always
    assert set(COARSE) == {ctx for _, _, ctx, _ in MODULES}


def _write(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def generate(out_dir: str | Path, seed: int = SEED, n_changes: int = N_CHANGES) -> list[Path]:
    """Write every CSV of the shop dataset into ``out_dir``; return the paths.

    One ``random.Random(seed)`` drives everything, consumed in a fixed order
    (weights first, then changes), so the output depends only on the seed.
    """
    _check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    written = []

    def write(name: str, header: list[str], rows: list[tuple]) -> None:
        _write(out / name, header, rows)
        written.append(out / name)

    write("contexts.csv", ["context", "subdomain", "subdomain_kind", "external", "description"],
          [(c, s, k, str(e).lower(), d) for c, s, k, e, d in CONTEXTS])
    write("relationships.csv", ["upstream", "downstream", "kind", "note"], RELATIONSHIPS)
    write("glossary.csv", ["context", "term", "meaning"], GLOSSARY)
    write("entities.csv", ["entity", "context", "description"], ENTITIES)
    write("capabilities.csv", ["capability_id", "capability", "context", "description"], CAPABILITIES)
    write("user_stories.csv", ["story_id", "role", "want", "so_that", "capability_id"], USER_STORIES)
    write("modules.csv", ["module", "layer", "bounded_context", "description"], MODULES)

    deps = [(s, t, rng.randint(*STRENGTH[strength])) for s, t, strength in DEPENDENCIES]
    write("dependencies.csv", ["source", "target", "weight"], deps)

    weights = [t[4] for t in CHANGE_TEMPLATES]
    rows = []
    for i in range(1, n_changes + 1):
        text, fills, always, maybe, _ = rng.choices(CHANGE_TEMPLATES, weights=weights)[0]
        description = text.format(rng.choice(fills))
        touched = set(always)
        for module, p in maybe.items():  # dict order is fixed, so draws are too
            if rng.random() < p:
                touched.add(module)
        rows += [(f"CH-{i:03d}", m, description) for m in sorted(touched)]
    write("changes.csv", ["change_id", "module", "description"], rows)

    write("assignments.csv", ["module", "ddd", "layered", "coarse"],
          [(m, ctx, layer, COARSE[ctx]) for m, layer, ctx, _ in MODULES])
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent),
                        help="folder to write the CSVs to (default: next to this script)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    for path in generate(args.out, seed=args.seed):
        print(path)


if __name__ == "__main__":
    main()
