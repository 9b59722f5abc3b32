"""The config server: a FastAPI service answering ``GET /{application}/{profiles}[/{label}]``.

======  ===================================  =====================================================
method  path                                 what it does
======  ===================================  =====================================================
GET     /{application}/{profiles}            the environment (default label): property sources,
GET     /{application}/{profiles}/{label}    highest precedence first, and the label's version
GET     /repository                          every label's sources and version
PUT     /repository/{label}/{name}           replace one property source (JSON object) -> version
PATCH   /repository/{label}/{name}           set some keys of one source, keep the others -> version
POST    /encrypt                             ``{"value": "s3cret"}`` -> ``{"value": "{cipher}..."}``
POST    /bus/refresh                         publish a refresh event on the broker's ``config-bus``
                                             topic (``{"destination": "greeting"}``; all if omitted)
======  ===================================  =====================================================

The answer has the shape of Spring Cloud Config's ``Environment``:
``{"name", "profiles", "label", "version", "propertySources": [{"name", "source"}]}``.

Secrets (``{cipher}`` values, see :mod:`labsvc.config._cipher`) are served
as stored, encrypted, unless the request carries an access token for the
audience ``config`` that grants ``config:decrypt``; then they are decrypted
for that answer only (the course's design: Spring Cloud Config decrypts for
every client by default and serves clear text). A request that sends a token must send a good one: a
bad token is a 401, a valid one without ``config:decrypt`` a 403 (it asked
for what it may not have), as on any protected route. When the server has a ``resource`` (a
:class:`labsvc.auth.ResourceServer`), changing the repository and
encrypting need ``config:write``; without one those routes are open, which
is only right on a lab network.

The broadcast refresh is Spring Cloud Bus's idea: one event on the broker,
and every instance of every matching application refreshes itself.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Body, FastAPI, Request

from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import Problem, problem_type
from labsvc.auth import TokenRejected, www_authenticate
from labsvc.config._cipher import ConfigCipher, is_cipher
from labsvc.config._repository import ConfigRepository, flatten

__all__ = ["config_server", "BUS_TOPIC", "DEFAULT_BROKER_URL", "DECRYPT_SCOPE", "WRITE_SCOPE"]

BUS_TOPIC = "config-bus"
DEFAULT_BROKER_URL = "http://broker.svc"
DECRYPT_SCOPE = "config:decrypt"
WRITE_SCOPE = "config:write"


def config_server(repository: ConfigRepository | None = None, *, cipher: ConfigCipher | None = None,
                  resource: Any = None, broker_url: str = DEFAULT_BROKER_URL, bus_topic: str = BUS_TOPIC,
                  name: str = "config") -> FastAPI:
    """A config server over ``repository``; ``app.state.repository`` and ``app.state.cipher`` for tests."""
    from labsvc.core.service import create_service, http

    repo = repository if repository is not None else ConfigRepository()
    keys = cipher if cipher is not None else ConfigCipher()
    app = create_service(name, title="config server",
                         description="configuration per application, profile and label; encrypted secrets; bus refresh")
    app.state.repository, app.state.cipher, app.state.resource = repo, keys, resource
    app.state.bus_events = 0

    async def authorized(request: Request, scope: str, *, optional: bool) -> bool:
        """Whether the request's token grants ``scope``; 401/403 problems for a bad or short token."""
        header = request.headers.get("authorization")
        if resource is None:
            return False
        if not header and optional:
            return False
        try:
            claims = await resource.verify(header, request)
        except TokenRejected as exc:
            raise Problem(401, "Invalid token", type=problem_type("invalid-token"), detail=exc.detail, reason=exc.reason,
                          headers={"WWW-Authenticate": www_authenticate(exc, realm="config")}) from None
        if scope not in str(claims.get("scope", "")).split():
            raise Problem(403, "Insufficient scope", type=problem_type("insufficient-scope"),
                          detail=f"this needs scope {scope!r}", reason="insufficient_scope",
                          headers={"WWW-Authenticate": f'Bearer realm="config", error="insufficient_scope", scope="{scope}"'})
        return True

    async def writer(request: Request) -> None:
        if resource is not None:
            await authorized(request, WRITE_SCOPE, optional=False)

    def environment(application: str, profiles: str, label: str | None, decrypt: bool) -> dict:
        try:
            env = repo.environment(application, profiles, label)
        except ConfigurationError as exc:
            raise Problem(404, "No such configuration", type=problem_type("unknown-config"), detail=str(exc)) from None
        for source in env["propertySources"]:
            if decrypt:
                source["source"] = keys.decrypt_all(source["source"])
        env["decrypted"] = decrypt
        env["encrypted_keys"] = sorted({k for s in repo.environment(application, profiles, label)["propertySources"]
                                        for k, v in s["source"].items() if is_cipher(v)})
        return env

    @app.get("/repository", tags=["repository"], summary="Every label's sources and version")
    async def list_repository() -> dict:
        return {label: {"version": repo.version(label), "sources": repo.sources(label)} for label in repo.labels()}

    @app.put("/repository/{label}/{source}", tags=["repository"], summary="Replace one property source")
    async def put_source(label: str, source: str, request: Request, properties: dict = Body(...)) -> dict:
        await writer(request)
        try:
            version = repo.put(source, properties, label=label)
        except ConfigurationError as exc:
            raise Problem(422, "Invalid property source", type=problem_type("invalid-argument"), detail=str(exc)) from None
        return {"label": label, "source": source, "version": version}

    @app.patch("/repository/{label}/{source}", tags=["repository"], summary="Set some keys of one property source")
    async def patch_source(label: str, source: str, request: Request, properties: dict = Body(...)) -> dict:
        await writer(request)
        try:
            current = repo.source(source, label=label)
            version = repo.put(source, {**current, **flatten(properties)}, label=label)
        except ConfigurationError as exc:
            raise Problem(422, "Invalid property source", type=problem_type("invalid-argument"), detail=str(exc)) from None
        return {"label": label, "source": source, "version": version}

    @app.post("/encrypt", tags=["secrets"], summary="Encrypt a value for the repository")
    async def encrypt(request: Request, body: dict = Body(...)) -> dict:
        await writer(request)
        value = body.get("value")
        if not isinstance(value, str):
            raise Problem(422, "Invalid argument", type=problem_type("invalid-argument"),
                          detail='send {"value": "<text to encrypt>"}')
        return {"value": keys.encrypt(value)}

    @app.post("/bus/refresh", tags=["bus"], summary="Ask every instance of an application to refresh")
    async def bus_refresh(request: Request) -> dict:
        await writer(request)
        raw = await request.body()
        body = await request.json() if raw else {}
        destination = body.get("destination", "**") if isinstance(body, dict) else "**"
        event = {"type": "RefreshRemoteApplicationEvent", "id": uuid.uuid4().hex, "destination": destination,
                 "origin": name}
        from labsvc.messaging import HttpBrokerClient

        await HttpBrokerClient(http(request), broker_url).publish(bus_topic, event, message_id=event["id"])
        app.state.bus_events += 1
        return {"published": event}

    @app.get("/{application}/{profiles}", tags=["config"], summary="Configuration, default label")
    async def get_default(application: str, profiles: str, request: Request) -> dict:
        decrypt = await authorized(request, DECRYPT_SCOPE, optional=True)
        return environment(application, profiles, None, decrypt)

    @app.get("/{application}/{profiles}/{label}", tags=["config"], summary="Configuration at a label")
    async def get_label(application: str, profiles: str, label: str, request: Request) -> dict:
        decrypt = await authorized(request, DECRYPT_SCOPE, optional=True)
        return environment(application, profiles, label, decrypt)

    return app
