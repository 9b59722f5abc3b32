"""Swagger UI of a running service, reached through jupyter-server-proxy.

In process mode every instance is a uvicorn process on ``127.0.0.1:<port>``.
A browser on Binder cannot reach that address, but the Jupyter server can:
jupyter-server-proxy forwards ``<base>/proxy/<port>/<path>`` to
``http://127.0.0.1:<port>/<path>``, where ``<base>`` is the server's base URL
(on Binder and JupyterHub ``JUPYTERHUB_SERVICE_PREFIX``, e.g. ``/user/ann/``;
``/`` for a local ``jupyter lab``).

The proxy strips the prefix, so the app sees ``/docs``; FastAPI's Swagger
page would then ask the browser for ``/openapi.json`` on the Jupyter server
and find nothing. The app must know its public prefix (its ASGI
``root_path``): FastAPI's ``root_path="<base>/proxy/<port>"`` does it when
the port is known in advance, and :class:`ForwardedPrefixMiddleware` does it
per request from the ``X-Forwarded-Prefix`` header the proxy sends, so a
process-mode instance on any free port works with no configuration.

:func:`swagger_url` computes the URL to open; :func:`docs_through_proxy`
replays what jupyter-server-proxy does, so the logic can be tested anywhere.
"""

from __future__ import annotations

import os
import re
from typing import Any

from typing import TYPE_CHECKING

from labsvc.core.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["ForwardedPrefixMiddleware", "proxy_root_path", "swagger_url", "jupyter_base_url", "docs_through_proxy"]

# Only prefixes shaped like jupyter-server-proxy's are trusted as root_path.
_PROXY_PREFIX = re.compile(r"^(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?/proxy/(absolute/)?\d{1,5}$")


class ForwardedPrefixMiddleware:
    """ASGI middleware that gives the app its public path prefix (its ASGI ``root_path``).

    With ``root_path`` set (e.g. ``"/proxy/8000"``), every request gets it, as
    ``uvicorn --root-path`` would do (FastAPI 0.163 deprecates its own
    ``root_path=`` argument in favour of the server's). Without, the prefix
    comes from each request's ``X-Forwarded-Prefix`` header when it has
    jupyter-server-proxy's shape (``<base>/proxy/<port>``); other values are
    ignored, so a client cannot make the app link elsewhere.
    """

    def __init__(self, app: Any, root_path: str = "") -> None:
        self.app = app
        self.root_path = root_path.rstrip("/")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.root_path and not scope.get("root_path"):
            scope["root_path"] = self.root_path
        elif scope["type"] == "http" and not scope.get("root_path"):
            for key, value in scope.get("headers", ()):
                if key == b"x-forwarded-prefix":
                    prefix = value.decode("latin-1").rstrip("/")
                    if _PROXY_PREFIX.match(prefix):
                        scope["root_path"] = prefix  # in place: the network reads the matched route from this scope
                    break
        await self.app(scope, receive, send)


def jupyter_base_url(base_url: str | None = None) -> str:
    """The Jupyter server's base URL: ``base_url``, else ``JUPYTERHUB_SERVICE_PREFIX`` (Binder), else ``/``."""
    base = base_url if base_url is not None else os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or "/"
    if not base.startswith("/"):
        raise ConfigurationError(f"base_url={base!r} must be a path starting with '/', e.g. '/user/ann/'")
    return base if base.endswith("/") else base + "/"


def proxy_root_path(port: int, base_url: str | None = None) -> str:
    """The prefix jupyter-server-proxy serves ``127.0.0.1:<port>`` under: ``<base>proxy/<port>``.

    This is the ``root_path`` the FastAPI app needs for ``/docs`` to load its
    ``openapi.json``.

    >>> proxy_root_path(8123, "/user/ann/")
    '/user/ann/proxy/8123'
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigurationError(f"port={port!r} is not a TCP port (1-65535)")
    return f"{jupyter_base_url(base_url)}proxy/{port}"


def _port_of(net: Any, instance: str) -> int:
    if net.mode != "process":
        raise ConfigurationError(
            "an in-process instance has no port for a browser to reach; start the network with "
            "Network(mode='process') to open its Swagger UI (in-process, use render_contract(...) instead)"
        )
    inst = net.instance(instance)
    port = getattr(inst.process, "port", None)
    if not inst.running or port is None:
        raise ConfigurationError(f"{instance} is not running; start the network (await net.start()) first")
    return port


def swagger_url(net: Any, instance: str, *, base_url: str | None = None, page: str = "docs") -> str:
    """The URL path of ``instance``'s Swagger UI through jupyter-server-proxy.

    ``net`` must run in process mode. ``base_url`` defaults to
    ``JUPYTERHUB_SERVICE_PREFIX`` (set on Binder), else ``/``. Open the
    result in the browser tab that shows JupyterLab (it is a path on the
    same server). ``page="redoc"`` gives ReDoc instead.
    """
    return f"{proxy_root_path(_port_of(net, instance), base_url)}/{page.lstrip('/')}"


async def docs_through_proxy(net: Any, instance: str, *, base_url: str | None = None) -> "pd.DataFrame":
    """Replay what jupyter-server-proxy does for a browser opening :func:`swagger_url`; one row per request.

    For each URL the browser would ask for (the Swagger page, then the
    ``openapi.json`` it names), strip ``<base>proxy/<port>`` and send the
    rest to ``127.0.0.1:<port>`` with the ``X-Forwarded-*`` headers the proxy
    adds. Shows whether the page's ``openapi.json`` URL stays under the prefix.
    """
    import httpx
    import pandas as pd

    port = _port_of(net, instance)
    prefix = proxy_root_path(port, base_url)
    rows = []
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:

        async def fetch(public_path: str) -> httpx.Response:
            if not public_path.startswith(prefix + "/"):
                rows.append({"browser asks for": public_path, "forwarded to": "(not proxied: not under the prefix)",
                             "status": None, "note": "the Jupyter server would answer 404"})
                return httpx.Response(404)
            local = public_path[len(prefix):]
            r = await client.get(f"http://127.0.0.1:{port}{local}", headers={
                "X-Forwarded-Prefix": prefix, "X-Forwarded-Context": prefix, "X-ProxyContextPath": prefix})
            rows.append({"browser asks for": public_path, "forwarded to": f"127.0.0.1:{port}{local}",
                         "status": r.status_code, "note": ""})
            return r

        page = await fetch(swagger_url(net, instance, base_url=base_url))
        match = re.search(r"url: '([^']+)'", page.text) if page.status_code == 200 else None
        if match is None:
            rows[-1]["note"] = "no openapi URL found in the Swagger page"
        else:
            rows[-1]["note"] = f"the page loads {match.group(1)}"
            spec = await fetch(match.group(1))
            if spec.status_code == 200:
                doc = spec.json()
                servers = [s.get("url") for s in doc.get("servers", [])]
                rows[-1]["note"] = f"OpenAPI {doc.get('openapi')}; 'Try it out' calls {servers[0] if servers else '/'}"
    return pd.DataFrame(rows, columns=["browser asks for", "forwarded to", "status", "note"])
