"""An upstream that answers with what it received: to see what a gateway forwards.

>>> app = echo_app("profile")
>>> app.title
'profile'
"""

from __future__ import annotations

from fastapi import Request

from labsvc.core.service import create_service, instance_name

__all__ = ["echo_app"]

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def echo_app(name: str = "echo"):
    """A service whose every path answers ``{service, instance, method, path, query, headers, body}``."""
    app = create_service(name)

    @app.api_route("/{path:path}", methods=_METHODS, summary="Echo the request back")
    async def echo(path: str, request: Request) -> dict:
        body = await request.body()
        return {
            "service": name,
            "instance": instance_name(request),
            "method": request.method,
            "path": "/" + path,
            "query": request.url.query,
            "headers": dict(request.headers),
            "body": body.decode("utf-8", "replace"),
        }

    return app
