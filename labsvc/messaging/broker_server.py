"""The broker as a service of its own: a FastAPI app you can open, read and serve alone.

    python -m labsvc serve labsvc.messaging.broker_server:app --port 8001

``create_app(settings)`` returns a new app with a new :class:`~labsvc.messaging.Broker`
on every call, so two instances never share a queue (a factory for process
mode: ``labsvc.messaging.broker_server:create_app``); ``app`` is one made
with the default settings. Other services reach it over HTTP with
:class:`~labsvc.messaging.HttpBrokerClient`. Every route calls an
:class:`~labsvc.messaging.InMemoryBrokerClient`, so the service keeps the
same promises (:class:`~labsvc.messaging.BrokerBackend`) as the broker in
this process. Every error is an RFC 9457 problem document.

======  =====================================================  ==========================
method  path                                                   body / answer
======  =====================================================  ==========================
POST    /topics/{topic}/messages                               {payload, key?, headers?, message_id?} -> 201 message
PUT     /topics/{topic}/groups/{group}                         declare the group -> {topic, group}
POST    /topics/{topic}/groups/{group}/pull                    {consumer?, max?, lease?, wait?} -> {deliveries: [...]}
POST    /deliveries/{tag}/ack                                  -> {tag, status}
POST    /deliveries/{tag}/nack                                 {requeue?} -> {tag, status}
DELETE  /topics/{topic}/groups/{group}/consumers/{consumer}    -> {requeued} (a consumer leaving)
GET     /topics/{topic}/groups/{group}/dead-letters            -> [dead letter, ...]
GET     /stats                                                 -> [row, ...] (``Broker.stats``)
======  =====================================================  ==========================

>>> from labsvc.core.clock import FakeClock
>>> app = create_app(Settings(lease=10, max_deliveries=3, clock=FakeClock()))
>>> app.state.broker.lease, app.state.broker.max_deliveries
(10.0, 3)
>>> create_app().state.broker is create_app().state.broker     # a new broker every time
False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from labsvc.core.clock import Clock
from labsvc.core.errors import ConfigurationError
from labsvc.core.service import create_service, install_problem_handlers
from labsvc.messaging._backend import ERRORS, MAX_PULL, MAX_WAIT, InMemoryBrokerClient
from labsvc.messaging._broker import DEFAULT_LEASE, DEFAULT_MAX_DELIVERIES, Broker

__all__ = ["Settings", "create_app", "app", "broker_app", "broker_service"]


@dataclass(frozen=True)
class Settings:
    """How to run the broker service (see :class:`~labsvc.messaging.Broker` for each value).

    ``clock``: what leases are measured on (a new
    :class:`~labsvc.core.clock.MonotonicClock` per broker when None; tests
    pass a :class:`~labsvc.core.clock.FakeClock`).
    """

    lease: float | str = DEFAULT_LEASE
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    log_size: int = 100_000
    title: str = "broker"
    clock: Clock | None = None

    def new_broker(self) -> Broker:
        """A new in-memory :class:`~labsvc.messaging.Broker` with these settings (what each app serves)."""
        return Broker(clock=self.clock, lease=self.lease, max_deliveries=self.max_deliveries, log_size=self.log_size)


class PublishBody(BaseModel):
    payload: Any = Field(description="any JSON value")
    key: str | int | None = None
    headers: dict[str, Any] = Field(default_factory=dict)
    message_id: str | None = Field(default=None, min_length=1)


class PullBody(BaseModel):
    consumer: str = Field(default="http", min_length=1, description="who pulls; one name per worker")
    max: int = Field(default=1, ge=1, le=MAX_PULL, description="most deliveries to return")
    lease: float | None = Field(default=None, gt=0, description="seconds before an unacked delivery comes back")
    wait: float = Field(default=0.0, ge=0, le=MAX_WAIT, description="seconds to wait for a first delivery (long poll)")


class NackBody(BaseModel):
    requeue: bool = True


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new broker service with a new :class:`~labsvc.messaging.Broker`; ``app.state.broker`` is it."""
    if settings is None:
        settings = Settings()
    if not isinstance(settings, Settings):
        raise ConfigurationError(
            f"settings must be a labsvc.messaging.broker_server.Settings (or None), got {type(settings).__name__}")
    return broker_app(settings.new_broker(), title=settings.title)


def broker_app(broker: Broker, *, title: str = "broker") -> FastAPI:
    """A FastAPI app serving ``broker``, an existing broker, over HTTP (see the module's route table).

    >>> import asyncio, httpx
    >>> app = broker_app(Broker())
    >>> async def demo():
    ...     transport = httpx.ASGITransport(app=app)
    ...     async with httpx.AsyncClient(transport=transport, base_url="http://broker.svc") as http:
    ...         r = await http.post("/deliveries/99/ack")
    ...         return r.status_code, r.headers["content-type"]
    >>> asyncio.run(demo())
    (404, 'application/problem+json')
    """
    app = create_service(title, description="labsvc message broker: topics, groups, leases, acks, dead letters")
    install_problem_handlers(app, ERRORS)
    backend = InMemoryBrokerClient(broker)

    @app.post("/topics/{topic}/messages", status_code=201)
    async def publish(topic: str, body: PublishBody) -> dict[str, Any]:
        message = await backend.publish(topic, body.payload, key=body.key, headers=body.headers,
                                        message_id=body.message_id)
        return message.to_dict()

    @app.put("/topics/{topic}/groups/{group}")
    async def declare(topic: str, group: str) -> dict[str, Any]:
        await backend.declare(topic, group)
        return {"topic": topic, "group": group}

    @app.post("/topics/{topic}/groups/{group}/pull")
    async def pull(topic: str, group: str, body: PullBody | None = None) -> dict[str, Any]:
        body = body or PullBody()
        deliveries = await backend.pull(topic, group, consumer=body.consumer, max=body.max, lease=body.lease,
                                        wait=body.wait)
        return {"deliveries": [d.to_dict() for d in deliveries]}

    @app.post("/deliveries/{tag}/ack")
    async def ack(tag: int) -> dict[str, Any]:
        await backend.ack(tag)
        return {"tag": tag, "status": "acked"}

    @app.post("/deliveries/{tag}/nack")
    async def nack(tag: int, body: NackBody | None = None) -> dict[str, Any]:
        requeue = True if body is None else body.requeue
        await backend.nack(tag, requeue=requeue)
        return {"tag": tag, "status": "requeued" if requeue else "rejected"}

    @app.delete("/topics/{topic}/groups/{group}/consumers/{consumer}")
    async def leave(topic: str, group: str, consumer: str) -> dict[str, Any]:
        return {"requeued": await backend.leave(topic, group, consumer)}

    @app.get("/topics/{topic}/groups/{group}/dead-letters")
    async def dead_letters(topic: str, group: str) -> list[dict[str, Any]]:
        return await backend.dead_letters(topic, group)

    @app.get("/stats")
    async def stats() -> list[dict[str, Any]]:
        return (await backend.stats()).to_dict("records")

    app.state.broker = broker
    return app


def broker_service() -> FastAPI:
    """A broker service with a fresh :class:`~labsvc.messaging.Broker`: the zero-argument factory
    process mode needs (``net.add("broker", "labsvc.messaging:broker_service")``); same as ``create_app()``."""
    return create_app()


#: A broker service with the default settings, for ``python -m labsvc serve labsvc.messaging.broker_server:app``.
app = create_app()
