"""Running the saga under faults: scenarios, :class:`SagaShop`, :func:`saga_experiment` and its result.

The services are :mod:`labsvc.data.saga_orchestrator` (the order service),
:mod:`labsvc.data.inventory` and :mod:`labsvc.data.payment`.

Also how an order ended (:func:`outcome_of`) and what must hold after any
run (:func:`check_invariants`).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from labsvc.core.clock import Clock
from labsvc.core.errors import ConfigurationError
from labsvc.core.load import LoadRun, closed_loop
from labsvc.core.network import Network
from labsvc.data import inventory, payment, saga_orchestrator
from labsvc.data.inventory import PRODUCT_PRICES, Reservation, Stock
from labsvc.data.payment import Charge
from labsvc.data.saga_orchestrator import FINAL_STATES, SagaLogRow, SagaOrder
from labsvc.core.simtime import experiment, network_methods

__all__ = ["OUTCOMES", "SagaFaults", "SCENARIOS", "SagaShop", "SagaResult", "saga_experiment", "check_invariants",
           "outcome_of"]

#: How an order can end: approved, or cancelled for one of these reasons.
OUTCOMES = ("approved", "out_of_stock", "payment_declined", "inventory_unavailable", "payment_unavailable",
            "interrupted")


# ------------------------------------------------------------------ invariants
def outcome_of(status: str, reason: str | None) -> str:
    """One word for how an order ended: ``approved``, a cancellation reason, or ``unfinished``."""
    if status == "APPROVED":
        return "approved"
    if status == "CANCELLED":
        return reason or "cancelled"
    return "unfinished"


def check_invariants(orders: pd.DataFrame, stock: pd.DataFrame, reservations: pd.DataFrame,
                     charges: pd.DataFrame, *, accepted: list[int] | None = None) -> pd.DataFrame:
    """What must hold after any run of the saga, checked from each service's own data.

    - *stock never oversold*: for every product, available >= 0 and
      available + units held by reservations = initial stock;
    - *no payment without a reservation*: every captured charge belongs to
      an order whose stock is reserved;
    - *no order lost*: every order the clients were given (``accepted``)
      exists, and every order ended APPROVED or CANCELLED;
    - *every failed order compensated*: a cancelled order holds no stock
      and keeps no captured charge;
    - *every approved order reserved and paid*: its stock is reserved and
      its charge captured, for the order's amount.

    One row per invariant: ``invariant``, ``holds``, ``violations`` (how many)
    and ``examples`` (up to five order or product ids).
    """
    def ids(col_: pd.Series) -> list[int]:
        return sorted(int(x) for x in col_)[:5]

    reserved = reservations[reservations["status"] == "RESERVED"] if len(reservations) else reservations
    held = reserved.groupby("product_id")["quantity"].sum() if len(reserved) else pd.Series(dtype=int)
    s = stock.set_index("product_id")
    oversold = s[(s["available"] < 0) | (s["available"] + held.reindex(s.index, fill_value=0) != s["initial"])]

    captured = charges[charges["status"] == "CAPTURED"] if len(charges) else charges
    reserved_ids = set(reserved["order_id"]) if len(reserved) else set()
    captured_ids = set(captured["order_id"]) if len(captured) else set()
    paid_unreserved = sorted(captured_ids - reserved_ids)

    final = orders["status"].isin(FINAL_STATES) if len(orders) else pd.Series(dtype=bool)
    unfinished = orders[~final]["id"] if len(orders) else pd.Series(dtype=int)
    missing = sorted(set(accepted or []) - set(orders["id"] if len(orders) else []))

    cancelled = orders[orders["status"] == "CANCELLED"]["id"] if len(orders) else pd.Series(dtype=int)
    uncompensated = sorted(int(o) for o in cancelled if o in reserved_ids or o in captured_ids)

    approved = orders[orders["status"] == "APPROVED"] if len(orders) else orders
    amounts = captured.set_index("order_id")["amount"] if len(captured) else pd.Series(dtype=float)
    incomplete = sorted(int(r.id) for r in approved.itertuples()
                        if r.id not in reserved_ids or r.id not in captured_ids or abs(amounts.get(r.id, -1) - r.amount) > 1e-6)

    rows = [
        ("stock never oversold", list(oversold.index)),
        ("no payment without a reservation", paid_unreserved),
        ("no order lost", sorted(set(unfinished) | set(missing))),
        ("every failed order compensated", uncompensated),
        ("every approved order reserved and paid", incomplete),
    ]
    return pd.DataFrame([{"invariant": name, "holds": not bad, "violations": len(bad),
                          "examples": ids(pd.Series(bad, dtype=int))} for name, bad in rows])


# ------------------------------------------------------------------ the experiment
@dataclass(frozen=True)
class SagaFaults:
    """The faults of one saga run.

    ``stock``: units of each product (few units: shortages).
    ``payment_error_rate``: share of calls to payment failed by the network (503).
    ``decline_rate``: share of orders whose card is declined (402, by the provider).
    ``slow_rate``: share of charges captured but answered too late (timeouts).
    ``inventory_down``: the inventory service refuses connections from order
    ``start * orders`` to order ``end * orders`` (fractions of the run).
    """

    stock: int = 1000
    payment_error_rate: float = 0.0
    decline_rate: float = 0.0
    slow_rate: float = 0.0
    inventory_down: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.inventory_down is not None:
            a, b = self.inventory_down
            if not 0 <= a < b <= 1:
                raise ConfigurationError(f"inventory_down={self.inventory_down!r} must be fractions 0 <= start < end <= 1")


#: Named fault mixes used in the notebook.
SCENARIOS: dict[str, SagaFaults] = {
    "no faults": SagaFaults(),
    "stock shortage": SagaFaults(stock=30),
    "payment errors": SagaFaults(payment_error_rate=0.3, decline_rate=0.1),
    "payment timeouts": SagaFaults(slow_rate=0.2, payment_error_rate=0.2),
    "inventory down": SagaFaults(inventory_down=(0.3, 0.5)),
    "all at once": SagaFaults(stock=30, payment_error_rate=0.2, decline_rate=0.1, slow_rate=0.1,
                              inventory_down=(0.3, 0.5)),
}


@network_methods
class SagaShop:
    """orders (the orchestrator), inventory and payment on one network, with ``faults`` applied.

    ``compensate=False`` deploys the broken saga. ``timeout`` is the
    orchestrator's per-call timeout, ``attempts`` its tries per step and
    ``compensation_attempts`` per compensation, ``backoff`` the first pause
    between tries (on ``clock``); a slow payment answers after
    ``slow_delay`` seconds.
    """

    def __init__(self, faults: SagaFaults | None = None, *, seed: int = 0, name: str = "saga",
                 compensate: bool = True, clock: Clock | None = None, timeout: float | str = "50ms",
                 slow_delay: float = 0.25, backoff: float | str = "2ms", attempts: int = 3,
                 compensation_attempts: int = 5) -> None:
        self.faults = faults or SagaFaults()
        self.seed = seed
        f = self.faults
        self.net = Network(seed=seed, name=name)
        orders = saga_orchestrator.Settings(clock=clock, compensate=compensate, timeout=timeout, backoff=backoff,
                                            attempts=attempts, compensation_attempts=compensation_attempts)
        stock = inventory.Settings(stock=f.stock)
        provider = payment.Settings(seed=seed, decline_rate=f.decline_rate, slow_rate=f.slow_rate,
                                    slow_delay=slow_delay)
        # One new app per instance (and per restart): each starts with its own empty database.
        self.net.add("orders", lambda: saga_orchestrator.create_app(orders))
        self.net.add("inventory", lambda: inventory.create_app(stock))
        self.net.add("payment", lambda: payment.create_app(provider))

    async def start(self) -> "SagaShop":
        """Start the network and inject the network faults (payment errors)."""
        await self.net.start()
        if self.faults.payment_error_rate:
            self.net.fault("payment", error_rate=self.faults.payment_error_rate)
        return self

    async def stop(self) -> None:
        """Stop the network."""
        await self.net.stop()

    async def __aenter__(self) -> "SagaShop":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def order_body(self, i: int) -> dict[str, Any]:
        """The seeded body of order ``i``."""
        rng = random.Random(f"saga/{self.seed}/{i}")
        return {"customer_id": rng.randint(1, 50), "product_id": rng.choice(sorted(PRODUCT_PRICES)),
                "quantity": rng.randint(1, 3)}

    async def place(self, i: int, client: Any = None) -> httpx.Response:
        """Place order ``i`` (the saga runs inside the request)."""
        client = client or self.net.client("frontend", timeout=30.0)
        return await client.post("http://orders.svc/orders", json=self.order_body(i))

    async def recover(self, *, max_rounds: int = 20) -> int:
        """Call ``POST /sagas/recover`` until no saga is left unfinished (or ``max_rounds``); returns orders finished."""
        client = self.net.client("operator", timeout=30.0)
        finished = 0
        for _ in range(max_rounds):
            r = await client.post("http://orders.svc/sagas/recover")
            doc = r.json()
            finished += doc["finished"]
            if doc["unfinished"] == 0:
                break
        return finished

    async def orders(self) -> pd.DataFrame:
        """Every order, as the order service has it."""
        r = await self.net.client("auditor").get("http://orders.svc/orders")
        return pd.DataFrame(r.json(), columns=list(SagaOrder.model_fields))

    async def snapshot(self) -> dict[str, pd.DataFrame]:
        """Each service's data, read through its API: orders, log, stock, reservations, charges."""
        client = self.net.client("auditor")
        urls = {"orders": "http://orders.svc/orders", "log": "http://orders.svc/sagas/log",
                "stock": "http://inventory.svc/stock", "reservations": "http://inventory.svc/reservations",
                "charges": "http://payment.svc/charges"}
        answers = await asyncio.gather(*(client.get(u) for u in urls.values()))
        columns = {"orders": list(SagaOrder.model_fields), "log": list(SagaLogRow.model_fields),
                   "stock": list(Stock.model_fields), "reservations": list(Reservation.model_fields),
                   "charges": list(Charge.model_fields)}
        return {k: pd.DataFrame(r.json(), columns=columns[k]) for k, r in zip(urls, answers)}


@dataclass
class SagaResult:
    """One saga run: every service's data, the invariants, and the outcome counts.

    ``orders`` has an ``outcome`` column (:func:`outcome_of`); ``outcomes``
    counts orders per outcome; ``invariants`` is :func:`check_invariants`.
    """

    scenario: str
    seed: int
    run: LoadRun
    orders: pd.DataFrame
    log: pd.DataFrame
    stock: pd.DataFrame
    reservations: pd.DataFrame
    charges: pd.DataFrame
    invariants: pd.DataFrame
    recovered: int
    unfinished_before_recovery: int
    calls: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    @property
    def outcomes(self) -> pd.DataFrame:
        """Orders per outcome (``scenario``, ``seed``, ``outcome``, ``orders``), approved first."""
        counts = self.orders["outcome"].value_counts()
        order = [o for o in (*OUTCOMES, "unfinished") if o in counts.index] + [o for o in counts.index if o not in OUTCOMES and o != "unfinished"]
        return pd.DataFrame({"scenario": self.scenario, "seed": self.seed, "outcome": order,
                             "orders": [int(counts[o]) for o in order]})

    @property
    def ok(self) -> bool:
        """True when every invariant holds."""
        return bool(self.invariants["holds"].all())

    def compensations(self) -> pd.DataFrame:
        """How often each compensation ran, per cancellation reason."""
        orders = self.orders[["id", "outcome"]].rename(columns={"id": "order_id", "outcome": "order_outcome"})
        comp = self.log[self.log["kind"] == "compensation"].merge(orders, on="order_id")
        comp = comp[comp["outcome"] == "ok"]
        table = comp.groupby(["order_outcome", "step"]).size().unstack(fill_value=0)
        table.index.name, table.columns.name = "outcome", "compensation"
        return table


@experiment
async def saga_experiment(faults: SagaFaults | str = "all at once", *, orders: int = 200, concurrency: int = 20,
                          seed: int = 0, name: str | None = None, compensate: bool = True,
                          clock: Clock | None = None, **shop_kw: Any) -> SagaResult:
    """Place ``orders`` orders, ``concurrency`` at a time, under ``faults``; then recover and check invariants.

    ``faults`` is a :class:`SagaFaults` or the name of one of :data:`SCENARIOS`.
    After the load, faults are cleared and ``POST /sagas/recover`` finishes
    the sagas that had to wait (compensations a down service could not take).
    """
    if isinstance(faults, str):
        if faults not in SCENARIOS:
            raise ConfigurationError(f"faults={faults!r} is not a scenario; use one of {list(SCENARIOS)} or a SagaFaults")
        scenario, faults = faults, SCENARIOS[faults]
    else:
        scenario = "custom"
    down = faults.inventory_down
    lo, hi = (int(down[0] * orders), int(down[1] * orders)) if down else (-1, -1)
    shop = SagaShop(faults, seed=seed, name=name or f"saga-{seed}", compensate=compensate, clock=clock, **shop_kw)
    accepted: list[int] = []  # the order ids the clients were given
    async with shop:
        async def one(client: Any, i: int) -> httpx.Response:
            if i == lo:
                shop.net.fault("inventory", down=True)
            elif i == hi:
                shop.net.fault("inventory", down=False)
            r = await shop.place(i, client)
            if r.status_code == 201:
                accepted.append(int(r.json()["id"]))
            return r

        run = await closed_loop(shop.net, one, concurrency=concurrency, requests=orders, timeout=30.0, progress=False)
        shop.net.clear_faults()
        before = await shop.snapshot()
        unfinished = int((~before["orders"]["status"].isin(FINAL_STATES)).sum())
        recovered = await shop.recover()
        data = await shop.snapshot()
        calls = shop.net.calls
    table = data["orders"]
    table["outcome"] = [outcome_of(s, r) for s, r in zip(table["status"], table["reason"])]
    invariants = check_invariants(table, data["stock"], data["reservations"], data["charges"], accepted=accepted)
    return SagaResult(scenario, seed, run, table, data["log"], data["stock"], data["reservations"], data["charges"],
                      invariants, recovered, unfinished, calls)
