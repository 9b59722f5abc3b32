"""The services notebook 12 configures: a config server with a seeded repository, and a greeting service.

- ``config``: :func:`demo_config_server`, the repository of :func:`demo_repository`
  (labels ``main`` and ``release-1``; a ``{cipher}`` database password),
  checking tokens of the ``auth`` service for decrypting (``config:decrypt``);
- ``greeting``: :func:`greeting_app`, which answers ``GET /greeting`` with the
  configured message, taking ``greeting.delay-ms`` milliseconds (so requests
  are in flight when a refresh lands), and reports the config version it used.

:func:`create_app` is the config server a learner serves alone
(``uvicorn --factory labsvc.config:create_app``): a fresh app, with its own
repository and cipher key, on every call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request

from labsvc.config._cipher import ConfigCipher
from labsvc.config._client import ConfigClient
from labsvc.config._repository import ConfigRepository
from labsvc.config._server import config_server

__all__ = ["demo_repository", "demo_config_server", "greeting_app", "GREETING_DEFAULTS", "create_app"]

#: What the greeting service runs with when the server has nothing for a key.
GREETING_DEFAULTS = {"greeting.message": "hello (built-in default)", "greeting.punctuation": "!",
                     "greeting.delay-ms": 0}


def demo_repository(cipher: ConfigCipher) -> ConfigRepository:
    """The seeded repository: shared and per-application sources, two profiles, two labels."""
    repo = ConfigRepository()
    repo.put("application", {"greeting": {"punctuation": "."}, "logging": {"level": "INFO"}})
    repo.put("application-prod", {"logging": {"level": "WARN"}, "greeting": {"message": "hello from prod"}})
    repo.put("greeting", {"greeting": {"message": "hello", "delay-ms": 20}})
    repo.put("greeting-prod", {"greeting": {"message": "good day"}, "db": {"password": cipher.encrypt("pa55-w0rd")}})
    repo.put("greeting-eu", {"greeting": {"message": "guten Tag"}})
    repo.put("greeting", {"greeting": {"message": "hello, release 1", "delay-ms": 20}}, label="release-1")
    return repo


def demo_config_server(*, cipher: ConfigCipher | None = None, clock: Any = None) -> FastAPI:
    """The ``config`` service over :func:`demo_repository`; tokens come from ``http://auth.svc``."""
    from labsvc.auth import ResourceServer

    keys = cipher if cipher is not None else ConfigCipher()
    return config_server(demo_repository(keys), cipher=keys, resource=ResourceServer("config", clock=clock))


def create_app(settings: Mapping[str, Any] | None = None) -> FastAPI:
    """The config server of notebook 12, new on every call (its own repository and cipher key).

    ``settings`` holds :func:`demo_config_server`'s options (``cipher``,
    ``clock``); none means the defaults.
    """
    return demo_config_server(**dict(settings or {}))


def greeting_app(*, profiles: str | None = None, label: str | None = None, environ: Mapping[str, str] | None = None,
                 bus: bool = True, tokens: Any = None) -> FastAPI:
    """The greeting service, configured by the config server (profiles from the environment unless given)."""
    from labsvc.core.service import create_service, instance_name

    config = ConfigClient("greeting", profiles=profiles, label=label, defaults=GREETING_DEFAULTS, environ=environ,
                          bus=bus, tokens=tokens)
    app = create_service("greeting", description="a greeting whose text lives in the config server")
    app.router.lifespan_context = config.lifespan(app)
    app.state.config = config
    config.install(app)

    @app.get("/greeting")
    async def greet(request: Request) -> dict:
        snap = config.snapshot()  # one consistent view for the whole request, even if a refresh lands meanwhile
        delay = float(snap.get("greeting.delay-ms", 0) or 0) / 1000
        if delay > 0:
            await asyncio.sleep(delay)
        return {"message": f"{snap['greeting.message']}{snap['greeting.punctuation']}", "version": snap.version,
                "instance": instance_name(request)}

    return app
