"""The broker as an HTTP service, and a client that speaks to it.

``broker_app(broker)`` is a plain FastAPI app, so the broker can run as a
service of its own (in-process or as a uvicorn process) and other services
reach it over HTTP like any other dependency. Consumers pull with a lease,
then ack or nack by delivery tag; a consumer that stops calling simply lets
its leases expire. Every error is an RFC 9457 problem document.

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from ..errors import ConfigurationError, LabsvcError
from ..problems import raise_for_problem
from ._broker import Broker
from ._message import ConsumerClosedError, Message, UnknownDeliveryError, UnknownGroupError

__all__ = ["broker_app", "broker_service", "HttpBrokerClient", "RemoteDelivery"]

# Each labsvc error maps to one HTTP status and one problem type.
_ERRORS: list[tuple[type[Exception], int, str, str]] = [
    (UnknownDeliveryError, 404, "unknown-delivery", "Delivery not in flight"),
    (UnknownGroupError, 404, "unknown-group", "Consumer group not found"),
    (ConsumerClosedError, 409, "consumer-closed", "Consumer closed"),
    (ConfigurationError, 422, "invalid-argument", "Invalid argument"),
]


def _install_problem_handlers(app: FastAPI) -> None:
    """Answer every error with ``application/problem+json`` (labsvc errors mapped by ``_ERRORS``)."""
    from ..service import install_problem_handlers

    install_problem_handlers(app, _ERRORS)


class PublishBody(BaseModel):
    payload: Any = Field(description="any JSON value")
    key: str | int | None = None
    headers: dict[str, Any] = Field(default_factory=dict)
    message_id: str | None = Field(default=None, min_length=1)


class PullBody(BaseModel):
    consumer: str = Field(default="http", min_length=1, description="who pulls; one name per worker")
    max: int = Field(default=1, ge=1, le=1000, description="most deliveries to return")
    lease: float | None = Field(default=None, gt=0, description="seconds before an unacked delivery comes back")
    wait: float = Field(default=0.0, ge=0, le=60, description="seconds to wait for a first delivery (long poll)")


class NackBody(BaseModel):
    requeue: bool = True


def broker_app(broker: Broker, *, title: str = "broker") -> FastAPI:
    """A FastAPI app serving ``broker`` over HTTP (see the module's route table).

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
    from ..service import create_service

    app = create_service(title, description="labsvc message broker: topics, groups, leases, acks, dead letters")
    _install_problem_handlers(app)

    @app.post("/topics/{topic}/messages", status_code=201)
    async def publish(topic: str, body: PublishBody) -> dict[str, Any]:
        message = await broker.publish(topic, body.payload, key=body.key, headers=body.headers,
                                       message_id=body.message_id)
        return message.to_dict()

    @app.put("/topics/{topic}/groups/{group}")
    async def declare(topic: str, group: str) -> dict[str, Any]:
        broker.declare(topic, group)
        return {"topic": topic, "group": group}

    @app.post("/topics/{topic}/groups/{group}/pull")
    async def pull(topic: str, group: str, body: PullBody | None = None) -> dict[str, Any]:
        body = body or PullBody()
        consumer = broker.consumer(topic, group, body.consumer)
        lease = body.lease if body.lease is not None else consumer.lease
        deliveries = []
        while len(deliveries) < body.max:
            delivery = consumer.poll(lease=lease)
            if delivery is None:
                break
            deliveries.append(delivery)
        if not deliveries and body.wait > 0:
            # Long poll: wait for the first one, then return at once.
            delivery = await consumer.get(timeout=body.wait, lease=lease)
            if delivery is not None:
                deliveries.append(delivery)
        return {"deliveries": [d.to_dict() for d in deliveries]}

    @app.post("/deliveries/{tag}/ack")
    async def ack(tag: int) -> dict[str, Any]:
        broker.ack(tag)
        return {"tag": tag, "status": "acked"}

    @app.post("/deliveries/{tag}/nack")
    async def nack(tag: int, body: NackBody | None = None) -> dict[str, Any]:
        requeue = True if body is None else body.requeue
        broker.nack(tag, requeue=requeue)
        return {"tag": tag, "status": "requeued" if requeue else "rejected"}

    @app.delete("/topics/{topic}/groups/{group}/consumers/{consumer}")
    async def leave(topic: str, group: str, consumer: str) -> dict[str, Any]:
        active = broker._group(topic, group).consumers.get(consumer)
        return {"requeued": active.close() if active is not None else 0}

    @app.get("/topics/{topic}/groups/{group}/dead-letters")
    async def dead_letters(topic: str, group: str) -> list[dict[str, Any]]:
        return [d.to_dict() for d in broker.dead_letters(topic, group)]

    @app.get("/stats")
    async def stats() -> list[dict[str, Any]]:
        return broker.stats().to_dict("records")

    app.state.broker = broker
    return app


def broker_service() -> FastAPI:
    """A broker service with a fresh :class:`Broker`: the zero-argument factory
    process mode needs (``net.add("broker", "labsvc.messaging:broker_service")``)."""
    return broker_app(Broker())


@dataclass(eq=False)
class RemoteDelivery:
    """A delivery pulled over HTTP; ``await delivery.ack()`` acknowledges it."""

    tag: int
    message: Message
    group: str
    consumer: str
    delivery_count: int
    redelivered: bool
    lease_seconds: float
    _client: HttpBrokerClient = field(repr=False)

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def key(self) -> str | int | None:
        return self.message.key

    @property
    def payload(self) -> Any:
        return self.message.payload

    async def ack(self) -> None:
        await self._client.ack(self.tag)

    async def nack(self, requeue: bool = True) -> None:
        await self._client.nack(self.tag, requeue=requeue)


def _message(data: dict[str, Any]) -> Message:
    return Message(data["id"], data["topic"], data.get("key"), data.get("payload"),
                   data.get("headers") or {}, data.get("published_at", 0.0))


class HttpBrokerClient:
    """Talk to a :func:`broker_app` through any httpx-compatible async client.

    Problem documents become the same exceptions the in-process broker
    raises (:class:`UnknownDeliveryError`, :class:`ConfigurationError`, ...).

    >>> import asyncio, httpx
    >>> app = broker_app(Broker())
    >>> async def demo():
    ...     async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
    ...         client = HttpBrokerClient(http, "http://broker.svc")
    ...         await client.declare("orders", "billing")
    ...         await client.publish("orders", {"order": 1}, key="c-1")
    ...         [delivery] = await client.pull("orders", "billing", consumer="worker-1")
    ...         await delivery.ack()
    ...         return delivery.payload
    >>> asyncio.run(demo())
    {'order': 1}
    """

    def __init__(self, client: Any, base_url: str = "") -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")

    async def publish(
        self,
        topic: str,
        payload: Any,
        *,
        key: str | int | None = None,
        headers: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> Message:
        """Publish; returns the message as the broker stored it."""
        body = {"payload": payload, "key": key, "headers": headers or {}, "message_id": message_id}
        data = await self._call("POST", f"/topics/{_q(topic)}/messages", json=body)
        return _message(data)

    async def declare(self, topic: str, group: str) -> None:
        """Create consumer group ``group`` on ``topic`` (it gets messages published from now on)."""
        await self._call("PUT", f"/topics/{_q(topic)}/groups/{_q(group)}")

    async def pull(
        self,
        topic: str,
        group: str,
        *,
        consumer: str = "http",
        max: int = 1,
        lease: float | None = None,
        wait: float = 0.0,
    ) -> list[RemoteDelivery]:
        """Up to ``max`` deliveries under a lease of ``lease`` seconds (the broker's if None)."""
        body: dict[str, Any] = {"consumer": consumer, "max": max, "wait": wait}
        if lease is not None:
            body["lease"] = lease
        data = await self._call("POST", f"/topics/{_q(topic)}/groups/{_q(group)}/pull", json=body)
        return [
            RemoteDelivery(d["tag"], _message(d["message"]), d["group"], d["consumer"], d["delivery_count"],
                           d["redelivered"], d["lease_seconds"], self)
            for d in data["deliveries"]
        ]

    async def ack(self, tag: int) -> None:
        await self._call("POST", f"/deliveries/{int(tag)}/ack")

    async def nack(self, tag: int, *, requeue: bool = True) -> None:
        await self._call("POST", f"/deliveries/{int(tag)}/nack", json={"requeue": requeue})

    async def leave(self, topic: str, group: str, consumer: str) -> int:
        """Close ``consumer`` on the broker; its unacked deliveries are requeued."""
        data = await self._call("DELETE", f"/topics/{_q(topic)}/groups/{_q(group)}/consumers/{_q(consumer)}")
        return int(data["requeued"])

    async def dead_letters(self, topic: str, group: str) -> list[dict[str, Any]]:
        return await self._call("GET", f"/topics/{_q(topic)}/groups/{_q(group)}/dead-letters")

    async def stats(self) -> pd.DataFrame:
        return pd.DataFrame(await self._call("GET", "/stats"))

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.client.request(method, self.base_url + path, **kw)
        if response.status_code >= 400:
            _raise_problem(response)
        return response.json()


def _q(name: str) -> str:
    return quote(str(name), safe="")


def _raise_problem(response: httpx.Response) -> None:
    raise_for_problem(response, _ERRORS)
