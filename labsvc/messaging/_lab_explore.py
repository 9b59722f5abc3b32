"""Let the machine search (notebook 07): the course's payment consumer as a workflow for the explorer.

:func:`double_charge_workflow` packs the smallest piece of notebook 07's
order flow where a double charge can happen into a
:class:`~labsvc.explore.Workflow`: an **order** client sends one order's
charge to **payment** and, as an at-least-once sender does, sends it once
more when the first attempt ends in a transport error (no answer). Payment
applies the charge through the course's idempotent consumers and writes it
to its ledger, the same ``ledger`` table as the order flow's payment
service (:mod:`labsvc.messaging._lab_order_flow`):

- ``inbox="memory"``: an :class:`~labsvc.messaging.IdempotentConsumer`
  remembers the applied message ids in the process's memory; the charge
  commits on its own;
- ``inbox="database"``: a :class:`~labsvc.messaging.DurableIdempotentConsumer`
  writes the id to the inbox table of payment's own SQLite database, in the
  charge's transaction.

Payment's database belongs to the run, not to the process: a crash and
restart of the payment instance (a fault the explorer may choose) starts a
new app with empty memory and the same database, as a restarted container
finds its volume again.

>>> from labsvc.explore import Budget, explore                          # doctest: +SKIP
>>> found = await explore(double_charge_workflow("memory"), budget=Budget(crash_after=1))  # doctest: +SKIP
>>> found.counterexample.script                                        # doctest: +SKIP
[1]
"""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.pool import StaticPool

from labsvc.core.errors import ConfigurationError
from labsvc.core.network import Network
from labsvc.core.service import create_service
from labsvc.explore import Workflow
from labsvc.messaging._idempotent import IdempotentConsumer
from labsvc.messaging._inbox import DurableIdempotentConsumer
from labsvc.messaging._lab_order_flow import INBOXES, LEDGER, PAYMENT_TABLES
from labsvc.messaging._message import Message

__all__ = ["double_charge_workflow"]

#: The one order the workflow charges, and the id of its message (the same on every retry).
ORDER_ID = 1
MESSAGE_ID = f"order-{ORDER_ID}"


class ChargeIn(BaseModel):
    """A charge request as the client sends it: the message id is the dedupe key."""

    message_id: str
    order_id: int
    amount: float


def _write_charge(conn: sa.Connection, payload: dict, at: float) -> None:
    """One row in payment's ledger, through ``conn`` (an open transaction)."""
    conn.execute(LEDGER.insert().values(order_id=payload["order_id"], amount=payload["amount"], at=at))


def _payment_app(inbox: str, disk: dict[str, Any]):
    """Payment: charge each message once, remembering applied ids where ``inbox`` says.

    ``disk["engine"]`` is the database; a restarted instance calls this again,
    so the consumer (and an in-memory record of ids) starts empty.
    """
    engine: sa.Engine = disk["engine"]
    net: Network = disk["net"]
    if inbox == "database":  # the id and the charge commit in one transaction
        consumer: Any = DurableIdempotentConsumer(
            engine, lambda conn, m: _write_charge(conn, m.payload, net.now()), metadata=PAYMENT_TABLES)
    else:
        def charge(message: Message) -> None:
            with engine.begin() as conn:  # the charge commits; the id is only remembered in memory
                _write_charge(conn, message.payload, net.now())
        consumer = IdempotentConsumer(charge)

    app = create_service("payment", description="charges an order once per message id")

    @app.post("/charges")
    async def charge_endpoint(body: ChargeIn):
        message = Message(body.message_id, "orders", None, {"order_id": body.order_id, "amount": body.amount},
                          {}, net.now())
        applied = consumer.process(message)
        return {"order_id": body.order_id, "applied": applied}

    return app


def charges(net: Network) -> pd.DataFrame:
    """Payment's ledger on ``net`` (a workflow's network): one row per charge, order_id and amount."""
    engine = net.payment_disk["engine"]  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(LEDGER.c.order_id, LEDGER.c.amount).order_by(LEDGER.c.charge_id)).all()
    return pd.DataFrame(rows, columns=["order_id", "amount"])


def double_charge_workflow(inbox: str = "memory") -> Workflow:
    """The explorer's workflow for notebook 07: one order charged by an at-least-once client.

    ``inbox`` is where payment remembers the messages it applied:
    ``"memory"`` or ``"database"`` (see the module docstring). Invariants:
    "no order charged twice" and "every order charged once" (the network
    has settled when they are checked); ``state`` is the ledger's rows, so
    the exploration counts the distinct ledgers its runs left behind.
    """
    if inbox not in INBOXES:
        raise ConfigurationError(f"inbox={inbox!r} is not known; use 'memory' (ids remembered by the process) "
                                 "or 'database' (ids in an inbox table, committed with the charge)")

    def build() -> Network:
        net = Network(seed=7, name=f"double-charge-{inbox}")
        # payment's database: one per run, outliving a crash of the instance (a restart opens it again)
        engine = sa.create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        PAYMENT_TABLES.create_all(engine)
        net.payment_disk = {"engine": engine, "net": net}  # type: ignore[attr-defined]
        net.add("payment", lambda: _payment_app(inbox, net.payment_disk))  # type: ignore[attr-defined]
        return net

    async def drive(net: Network) -> None:
        client = net.client("order")
        body = {"message_id": MESSAGE_ID, "order_id": ORDER_ID, "amount": 25.0}
        for attempt in range(2):  # at least once: no answer means send again (once)
            try:
                await client.post("http://payment.svc/charges", json=body)
                return
            except httpx.TransportError:
                if attempt == 1:
                    return  # given up: the invariants say what the order ended up with

    def charged_per_order(net: Network) -> pd.Series:
        return charges(net).groupby("order_id").size()

    def no_order_charged_twice(net: Network) -> bool:
        return bool((charged_per_order(net) <= 1).all())

    def every_order_charged_once(net: Network) -> bool:
        return charged_per_order(net).get(ORDER_ID, 0) == 1

    def state(net: Network) -> tuple:
        return tuple(map(tuple, charges(net).itertuples(index=False)))

    return Workflow(build, drive,
                    {"no order charged twice": no_order_charged_twice,
                     "every order charged once": every_order_charged_once},
                    state=state, settle="1s", name=f"double charge ({inbox} inbox)")
