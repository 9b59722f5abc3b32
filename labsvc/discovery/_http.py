"""The HTTP backend of the registry: :class:`HttpRegistryClient`, a client of the registry service.

The service itself is :mod:`labsvc.discovery.registry_server` (its route
table is there). Problem documents come back as the exceptions the
in-memory registry raises. The client implements
:class:`~labsvc.discovery.RegistryBackend`, call for call like
:class:`~labsvc.discovery.InMemoryRegistryClient`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from labsvc.core.errors import UnknownInstanceError  # noqa: F401 (the doctest's)
from labsvc.core.problems import raise_for_problem
from labsvc.discovery._backend import ERRORS
from labsvc.discovery._registry import InstanceInfo, InstanceStatus

__all__ = ["HttpRegistryClient"]


class HttpRegistryClient:
    """Talk to a registry service (:func:`~labsvc.discovery.registry_app`) through any httpx-compatible async client.

    A 404 on heartbeat raises :class:`UnknownInstanceError`, so an instance
    can do what a Eureka client does: register again.

    >>> import asyncio
    >>> from labsvc.discovery import ServiceRegistry, registry_app
    >>> app = registry_app(ServiceRegistry())
    >>> async def demo():
    ...     async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
    ...         registry = HttpRegistryClient(http, "http://registry.svc")
    ...         try:
    ...             await registry.heartbeat("catalog", "catalog-1")
    ...         except UnknownInstanceError:
    ...             await registry.register("catalog", "catalog-1", "http://catalog-1.svc")
    ...         return [i.url for i in await registry.lookup("catalog")]
    >>> asyncio.run(demo())
    ['http://catalog-1.svc']
    """

    def __init__(self, client: Any, base_url: str = "") -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")

    async def register(
        self,
        service: str,
        instance: str,
        url: str,
        metadata: dict[str, Any] | None = None,
        *,
        status: InstanceStatus | str = InstanceStatus.UP,
        lease_duration: float | None = None,
    ) -> InstanceInfo:
        body = {"instance": instance, "url": url, "metadata": metadata or {}, "status": str(status),
                "lease_duration": lease_duration}
        return InstanceInfo.from_dict(await self._call("POST", f"/services/{_q(service)}/instances", json=body))

    async def heartbeat(self, service: str, instance: str) -> InstanceInfo:
        path = f"/services/{_q(service)}/instances/{_q(instance)}/heartbeat"
        return InstanceInfo.from_dict(await self._call("PUT", path))

    renew = heartbeat

    async def set_status(self, service: str, instance: str, status: InstanceStatus | str) -> InstanceInfo:
        path = f"/services/{_q(service)}/instances/{_q(instance)}/status"
        return InstanceInfo.from_dict(await self._call("PUT", path, json={"status": str(status)}))

    async def cancel(self, service: str, instance: str) -> None:
        await self._call("DELETE", f"/services/{_q(service)}/instances/{_q(instance)}")

    async def lookup(self, service: str) -> list[InstanceInfo]:
        data = await self._call("GET", f"/services/{_q(service)}")
        return [InstanceInfo.from_dict(i) for i in data["instances"]]

    async def snapshot(self) -> dict[str, list[InstanceInfo]]:
        data = await self._call("GET", "/services")
        return {s: [InstanceInfo.from_dict(i) for i in v] for s, v in data.items()}

    async def status(self) -> dict[str, Any]:
        return await self._call("GET", "/status")

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.client.request(method, self.base_url + path, **kw)
        if response.status_code >= 400:
            _raise_problem(response)
        return None if response.status_code == 204 else response.json()


def _q(name: str) -> str:
    return quote(str(name), safe="")


def _raise_problem(response: httpx.Response) -> None:
    raise_for_problem(response, ERRORS)
