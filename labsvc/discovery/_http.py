"""The registry over HTTP: a FastAPI app with Eureka-like routes, and the async client that calls it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from fastapi import Depends, FastAPI, Response
from pydantic import BaseModel, Field

from ..errors import ConfigurationError, UnknownInstanceError
from ..problems import raise_for_problem
from ._registry import InstanceInfo, InstanceStatus, ServiceRegistry

_ERRORS: list[tuple[type[Exception], int, str, str]] = [
    (UnknownInstanceError, 404, "unknown-instance", "Instance not registered"),
    (ConfigurationError, 422, "invalid-argument", "Invalid argument"),
]


def _install_problem_handlers(app: FastAPI) -> None:
    """Answer every error with ``application/problem+json`` (labsvc errors mapped by ``_ERRORS``)."""
    from ..service import install_problem_handlers

    install_problem_handlers(app, _ERRORS)


class RegisterBody(BaseModel):
    instance: str = Field(min_length=1)
    url: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: InstanceStatus = InstanceStatus.UP
    lease_duration: float | None = Field(default=None, gt=0)


class StatusBody(BaseModel):
    status: InstanceStatus


def registry_app(registry: ServiceRegistry, *, title: str = "registry") -> FastAPI:
    """A FastAPI app serving ``registry`` (Eureka's REST operations, simplified).

    ======  ==============================================  ======================
    POST    /services/{service}/instances                   register -> 201
    PUT     /services/{service}/instances/{id}/heartbeat    renew (404: register again)
    PUT     /services/{service}/instances/{id}/status       {status}
    DELETE  /services/{service}/instances/{id}              cancel -> 204
    GET     /services/{service}                             UP instances
    GET     /services                                       every service's UP instances
    GET     /status                                         renewals, threshold, self-preservation
    ======  ==============================================  ======================

    Every request first runs ``registry.tick()``, standing in for Eureka's
    eviction timer. ``/health`` and ``/ready`` are there as on every labsvc
    service.
    """
    from ..service import create_service

    def tick() -> None:
        registry.tick()

    app = create_service(title, description="labsvc service registry (Eureka semantics)",
                         dependencies=[Depends(tick)])
    _install_problem_handlers(app)

    @app.post("/services/{service}/instances", status_code=201)
    async def register(service: str, body: RegisterBody) -> dict[str, Any]:
        return registry.register(service, body.instance, body.url, body.metadata, status=body.status,
                                 lease_duration=body.lease_duration).to_dict()

    @app.put("/services/{service}/instances/{instance}/heartbeat")
    async def heartbeat(service: str, instance: str) -> dict[str, Any]:
        return registry.heartbeat(service, instance).to_dict()

    @app.put("/services/{service}/instances/{instance}/status")
    async def set_status(service: str, instance: str, body: StatusBody) -> dict[str, Any]:
        return registry.set_status(service, instance, body.status).to_dict()

    @app.delete("/services/{service}/instances/{instance}", status_code=204)
    async def cancel(service: str, instance: str) -> Response:
        registry.cancel(service, instance)
        return Response(status_code=204)

    @app.get("/services/{service}")
    async def lookup(service: str) -> dict[str, Any]:
        return {"service": service, "instances": [i.to_dict() for i in registry.lookup(service)]}

    @app.get("/services")
    async def snapshot() -> dict[str, list[dict[str, Any]]]:
        return {s: [i.to_dict() for i in v] for s, v in registry.snapshot().items()}

    @app.get("/status")
    async def status() -> dict[str, Any]:
        return registry.status()

    app.state.registry = registry
    return app


def registry_service() -> FastAPI:
    """A registry service with a fresh :class:`ServiceRegistry` on the real clock:
    the zero-argument factory process mode needs
    (``net.add("registry", "labsvc.discovery:registry_service")``)."""
    return registry_app(ServiceRegistry())


class HttpRegistryClient:
    """Talk to a :func:`registry_app` through any httpx-compatible async client.

    A 404 on heartbeat raises :class:`UnknownInstanceError`, so an instance
    can do what a Eureka client does: register again.

    >>> import asyncio
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

    async def register(self, service: str, instance: str, url: str, metadata: dict[str, Any] | None = None, *,
                       status: str = "UP", lease_duration: float | None = None) -> InstanceInfo:
        body = {"instance": instance, "url": url, "metadata": metadata or {}, "status": str(status),
                "lease_duration": lease_duration}
        return InstanceInfo.from_dict(await self._call("POST", f"/services/{_q(service)}/instances", json=body))

    async def heartbeat(self, service: str, instance: str) -> InstanceInfo:
        path = f"/services/{_q(service)}/instances/{_q(instance)}/heartbeat"
        return InstanceInfo.from_dict(await self._call("PUT", path))

    async def set_status(self, service: str, instance: str, status: str) -> InstanceInfo:
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
    raise_for_problem(response, _ERRORS)
