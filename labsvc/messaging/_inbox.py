"""The durable idempotent consumer: an inbox table committed with the effect.

:class:`~labsvc.messaging.IdempotentConsumer` remembers applied message ids
in memory, so it survives a lost acknowledgement but not a crash: a process
that charged a card and died before its ack comes back with an empty memory,
gets the message again and charges again. The cure is to make the record of
"this message was applied" as durable as the effect itself, and to write
both in **one database transaction**: either both are committed or neither
is. That is the *inbox* (or *idempotent receiver*) pattern: a table whose
primary key is the message id, in the consumer's own database.

The transaction is the boundary of the guarantee. It covers writes to that
one database; an effect outside it (a charge at an external payment
provider, an e-mail) can still happen twice, unless the other side also
deduplicates, for instance by honouring an idempotency key.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from labsvc.core.errors import ConfigurationError
from labsvc.messaging._idempotent import _message_of
from labsvc.messaging._message import Message

__all__ = ["DurableIdempotentConsumer", "inbox_table"]


def inbox_table(metadata: sa.MetaData, name: str = "inbox") -> sa.Table:
    """The inbox table on ``metadata``: one row per applied message, keyed by its id."""
    if name in metadata.tables:
        return metadata.tables[name]
    return sa.Table(
        name, metadata,
        sa.Column("message_id", sa.String, primary_key=True),
        sa.Column("topic", sa.String, nullable=False),
    )


class _Duplicate(Exception):
    """The message id is already in the inbox (internal: rolls the transaction back)."""


class DurableIdempotentConsumer:
    """Apply each message's effect once, even across a crash and restart.

    ``engine`` is the consumer's own database (a SQLAlchemy engine: a SQLite
    file survives the process). ``effect(conn, message)`` does the work
    through ``conn``, an open transaction; the consumer adds the message id
    to the inbox table in that same transaction, so the effect and the
    record commit together or not at all. A message whose id is already in
    the inbox is a duplicate: nothing is written and ``process`` returns
    False. An effect that raises rolls everything back, so the redelivery
    tries again.

    The effect must be a plain (synchronous) function: a transaction should
    not stay open across an ``await``. ``applied`` and ``duplicates`` count
    what this object saw since it was created; the inbox is what persists.

    >>> engine = sa.create_engine("sqlite://")
    >>> metadata = sa.MetaData()
    >>> ledger = sa.Table("ledger", metadata, sa.Column("order_id", sa.Integer), sa.Column("amount", sa.Float))
    >>> def charge(conn, message):
    ...     conn.execute(ledger.insert().values(**message.payload))
    >>> consumer = DurableIdempotentConsumer(engine, charge, metadata=metadata)
    >>> m = Message("pay-1", "orders", None, {"order_id": 1, "amount": 5.0}, {}, 0.0)
    >>> consumer.process(m), consumer.process(m)
    (True, False)
    >>> restarted = DurableIdempotentConsumer(engine, charge, metadata=metadata)   # a new process, same database
    >>> restarted.process(m), restarted.seen("pay-1")
    (False, True)
    >>> with engine.connect() as conn:
    ...     conn.execute(sa.select(sa.func.count()).select_from(ledger)).scalar()
    1
    """

    def __init__(self, engine: Engine, effect: Callable[[Connection, Message], Any] | None = None, *,
                 metadata: sa.MetaData | None = None, table: str = "inbox") -> None:
        if not isinstance(engine, Engine):
            raise ConfigurationError(f"engine must be a SQLAlchemy Engine (the consumer's own database), "
                                     f"got {type(engine).__name__}")
        if effect is not None and inspect.iscoroutinefunction(effect):
            raise ConfigurationError("the effect runs inside a database transaction and must be a plain function, "
                                     "not a coroutine function: do the awaiting before process()")
        self.engine = engine
        self.effect = effect
        self.metadata = metadata if metadata is not None else sa.MetaData()
        self.table = inbox_table(self.metadata, table)
        self.metadata.create_all(engine)  # the inbox and the effect's tables, if not there yet
        self.applied = 0
        self.duplicates = 0

    def seen(self, message_id: str) -> bool:
        """True if the inbox holds ``message_id`` (its effect was committed)."""
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(self.table.c.message_id).where(self.table.c.message_id == message_id))
            return found.first() is not None

    __contains__ = seen

    def __len__(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one())

    def process(self, item: Any, effect: Callable[[Connection, Message], Any] | None = None) -> bool:
        """Record the message in the inbox and apply its effect, in one transaction.

        Returns True if the effect ran and was committed, False for a
        duplicate (nothing written). Does not ack: acknowledge afterwards,
        or use :meth:`handle` / :meth:`ahandle`.
        """
        message = _message_of(item)
        chosen = effect if effect is not None else self.effect
        try:
            with self.engine.begin() as conn:
                try:
                    # The insert comes first: a duplicate fails on the primary
                    # key before the effect does anything.
                    conn.execute(self.table.insert().values(message_id=message.id, topic=message.topic))
                except IntegrityError:
                    raise _Duplicate from None  # leaves the transaction: rolled back, nothing written
                if chosen is not None:
                    result = chosen(conn, message)
                    if inspect.isawaitable(result):
                        close = getattr(result, "close", None)
                        if close is not None:
                            close()  # avoid "coroutine was never awaited"
                        raise ConfigurationError("the effect returned an awaitable; it must be a plain function")
        except _Duplicate:
            self.duplicates += 1
            return False
        self.applied += 1
        return True

    def handle(self, delivery: Any, effect: Callable[[Connection, Message], Any] | None = None) -> bool:
        """:meth:`process` a broker :class:`Delivery`, then ack it (duplicates too)."""
        applied = self.process(delivery, effect)
        delivery.ack()
        return applied

    async def ahandle(self, delivery: Any, effect: Callable[[Connection, Message], Any] | None = None) -> bool:
        """:meth:`process` then ack, awaiting the ack of a remote (HTTP) delivery."""
        applied = self.process(delivery, effect)
        result = delivery.ack()
        if inspect.isawaitable(result):
            await result
        return applied

    def __repr__(self) -> str:
        return (f"DurableIdempotentConsumer(table={self.table.name!r}, applied={self.applied}, "
                f"duplicates={self.duplicates})")
