"""The transactional outbox: an event is saved in the same transaction as the change it reports.

A relay (``POST /outbox/relay``, driven by a :class:`~labsvc.data.Pump`)
publishes the rows not yet sent, in order, and marks each one sent after the
broker took it. A crash between the two publishes that row again next round,
so consumers deduplicate by event id (at-least-once delivery). Both order
services use it: the CQRS command side (notebook 06) and the saga's
orchestrator when it reports its final states (the capstone).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterator

import httpx
import sqlalchemy as sa
from pydantic import BaseModel, Field as PydanticField
from sqlmodel import Field, SQLModel, col, func, select

from labsvc.core.errors import LabsvcError
from labsvc.messaging import HttpBrokerClient
from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import Request, http

__all__ = ["OutboxFields", "RelayBody", "Outbox", "Epoch"]


class OutboxFields(SQLModel):
    """The columns of an outbox table; a service declares ``class OutboxRow(OutboxFields, MyBase, table=True)``."""

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True)
    order_id: int = Field(index=True)
    type: str
    payload: dict = Field(sa_type=sa.JSON)
    created_at: float
    published_at: float | None = Field(default=None, index=True)


class Epoch:
    """Which opening of a service's database this is, so event ids stay unique across restarts.

    An in-memory database that restarts numbers its orders from 1 again, and
    its events must not be taken for the old ones by a consumer that
    remembers event ids: each opening is a new epoch, and event ids carry it
    (``e<epoch>-order-<id>-...``). Pass :meth:`new` as the database's
    ``setup``; ``counter`` is the service's own ``itertools.count(1)``.
    """

    def __init__(self, counter: Iterator[int]) -> None:
        self._counter = counter
        self.n = 0

    def new(self, _db: Any = None) -> None:
        """Start the next epoch (the database was just opened)."""
        self.n = next(self._counter)


class RelayBody(BaseModel):
    """The body of ``POST /outbox/relay``."""

    max: int = PydanticField(default=100, ge=1, le=10_000, description="most events to publish in this round")
    wait: float = PydanticField(default=0.0, ge=0, le=30, description="seconds to wait for a first event")


class Outbox:
    """One service's outbox: ``add`` rows inside a transaction, ``install`` the relay and status routes."""

    def __init__(self, db: Any, row: type, *, topic: str, clock: Any,
                 key: Callable[[Any], str] = lambda row: f"order-{row.order_id}") -> None:
        self.db, self.row, self.topic, self.clock, self.key = db, row, topic, clock, key
        self._new_event = asyncio.Event()  # wakes a waiting relay (one per instance)
        self._lock = asyncio.Lock()  # one relay round at a time, so rows go out in order

    def add(self, session: Any, event: dict[str, Any], *, order_id: int, created_at: float) -> None:
        """Stage ``event`` in ``session``; it is saved (and later sent) only if the caller commits."""
        session.add(self.row(event_id=event["event_id"], order_id=order_id, type=event["type"], payload=event,
                             created_at=created_at))

    def notify(self) -> None:
        """Tell a waiting relay that a new row was committed."""
        self._new_event.set()

    def pending(self, limit: int) -> list[Any]:
        """Rows not yet published, oldest first."""
        with self.db.session() as s:
            return list(s.exec(select(self.row).where(col(self.row.published_at).is_(None))
                               .order_by(self.row.seq).limit(limit)).all())

    def counts(self) -> dict[str, int]:
        with self.db.session() as s:
            pending = s.exec(select(func.count()).where(col(self.row.published_at).is_(None))).one()
            total = s.exec(select(func.count()).select_from(self.row)).one()
        return {"pending": int(pending), "published": int(total - pending)}

    async def relay(self, request: Request, body: RelayBody | None = None) -> dict[str, Any]:
        """Publish what is pending (waiting up to ``body.wait`` for a first row)."""
        body = body or RelayBody()
        broker = HttpBrokerClient(http(request), "http://broker.svc")
        published = 0
        async with self._lock:
            rows = self.pending(body.max)
            if not rows and body.wait > 0:
                self._new_event.clear()
                if not self.pending(1):
                    try:
                        async with asyncio.timeout(body.wait):
                            await self._new_event.wait()
                    except TimeoutError:
                        pass
                rows = self.pending(body.max)
            for row in rows:
                try:
                    await broker.publish(self.topic, row.payload, key=self.key(row), message_id=row.event_id)
                except (httpx.HTTPError, LabsvcError) as exc:
                    raise Problem(503, "Broker unavailable", type=problem_type("dependency-unavailable"),
                                  detail=f"published {published} event(s), then: {type(exc).__name__}; the rest "
                                         f"stay in the outbox for the next round", published=published) from None
                # A crash right here publishes this row again next round: consumers dedupe by event id.
                with self.db.session() as s:
                    s.exec(sa.update(self.row).where(self.row.seq == row.seq).values(published_at=self.clock.now()))
                    s.commit()
                published += 1
        return {"published": published, "pending": len(self.pending(10_000))}

    def install(self, app: Any) -> None:
        """Add ``GET /outbox`` (counts) and ``POST /outbox/relay`` to ``app``."""

        @app.get("/outbox")
        async def outbox() -> dict[str, Any]:
            return self.counts()

        @app.post("/outbox/relay")
        async def relay(request: Request, body: RelayBody | None = None) -> dict[str, Any]:
            return await self.relay(request, body)
