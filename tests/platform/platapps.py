"""Small apps for the platform tests (importable by process mode's child processes)."""

from __future__ import annotations

import os

from labsvc.core.service import Request, create_service, instance_name


def _versioned(version: str, status: int = 200):
    def factory():
        app = create_service("web", version=version)

        @app.get("/hello")
        async def hello(request: Request):
            if status >= 500:
                from labsvc.core.problems import Problem
                raise Problem(status, "Broken release", detail=f"{version} fails on purpose")
            return {"version": version, "instance": instance_name(request)}

        @app.get("/env/{name}")
        async def env(name: str):
            return {"name": name, "value": os.environ.get(name)}

        return app

    return factory


web_v1 = _versioned("v1")
web_v2 = _versioned("v2")
web_broken = _versioned("v3-broken", status=500)


def _object(version: str):
    """An app given as an object (not a factory): its lifespan sets what it answers with."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        app.state.started_version = version
        yield

    app = create_service("web", version=version, lifespan=lifespan)

    @app.get("/hello")
    async def hello(request: Request):
        return {"version": app.state.started_version, "instance": instance_name(request)}

    return app


object_v1 = _object("v1")
object_v2 = _object("v2")
