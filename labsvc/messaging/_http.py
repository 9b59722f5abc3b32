"""The HTTP backend of the broker: :class:`HttpBrokerClient`, a client of the broker service.

The service itself is :mod:`labsvc.messaging.broker_server` (its route table
is there). Consumers pull with a lease, then ack or nack by delivery tag; a
consumer that stops calling simply lets its leases expire. Every error comes
back as an RFC 9457 problem document, which the client raises again as the
exception the in-memory broker raises. The client implements
:class:`~labsvc.messaging.BrokerBackend`, call for call like
:class:`~labsvc.messaging.InMemoryBrokerClient`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd

from labsvc.core.problems import raise_for_problem
from labsvc.messaging._backend import ERRORS, RemoteDelivery, message_from_dict
from labsvc.messaging._message import Message
from labsvc.messaging._queue import STATS_COLUMNS

__all__ = ["HttpBrokerClient", "RemoteDelivery"]


class HttpBrokerClient:
    """Talk to a broker service (:func:`~labsvc.messaging.broker_app`) through any httpx-compatible async client.

    Problem documents become the same exceptions the in-process broker
    raises (:class:`UnknownDeliveryError`, :class:`ConfigurationError`, ...).

    >>> import asyncio, httpx
    >>> from labsvc.messaging import Broker, broker_app
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
        return message_from_dict(data)

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
        return [RemoteDelivery.from_dict(d, self) for d in data["deliveries"]]

    async def ack(self, tag: int) -> None:
        await self._call("POST", f"/deliveries/{int(tag)}/ack")

    async def nack(self, tag: int, *, requeue: bool = True) -> None:
        await self._call("POST", f"/deliveries/{int(tag)}/nack", json={"requeue": requeue})

    async def leave(self, topic: str, group: str, consumer: str) -> int:
        """Close ``consumer`` on the broker; its unacked deliveries are requeued."""
        data = await self._call("DELETE", f"/topics/{_q(topic)}/groups/{_q(group)}/consumers/{_q(consumer)}")
        return int(data["requeued"])

    async def dead_letters(self, topic: str, group: str) -> list[dict[str, Any]]:
        """The group's dead letters, oldest first (``DeadLetter.to_dict()`` each)."""
        return await self._call("GET", f"/topics/{_q(topic)}/groups/{_q(group)}/dead-letters")

    async def stats(self) -> pd.DataFrame:
        """``Broker.stats()`` of the remote broker (same columns, even when it has no group yet)."""
        return pd.DataFrame(await self._call("GET", "/stats"), columns=list(STATS_COLUMNS))

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.client.request(method, self.base_url + path, **kw)
        if response.status_code >= 400:
            _raise_problem(response)
        return response.json()


def _q(name: str) -> str:
    return quote(str(name), safe="")


def _raise_problem(response: httpx.Response) -> None:
    raise_for_problem(response, ERRORS)
