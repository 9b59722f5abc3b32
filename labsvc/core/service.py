"""Service helpers: a FastAPI app that behaves like a well-run microservice.

:func:`create_service` returns a plain FastAPI app (uvicorn can serve it
alone) that already has what every service in the course needs:

- ``GET /health`` (liveness: the process is alive) and ``GET /ready``
  (readiness: it may receive traffic), the two probes a platform such as
  Kubernetes uses;
- every error as an RFC 9457 problem document (``application/problem+json``):
  unknown routes, wrong methods, validation errors (422, naming each field),
  :class:`~labsvc.core.problems.Problem` raised by handlers, and crashes (500);
- :func:`http`, a client for calling other services from inside a handler,
  which carries the trace id of the incoming request and calls as this
  instance, so the call log can tell who called whom.

**A service that runs alone** (in a container, or under plain uvicorn: no
labsvc network around it) still calls ``http://<name>.svc/...``; the
*service URL map* in its environment says where that is:

- ``LABSVC_SERVICE_URL_TEMPLATE``: one base URL for every service, with
  ``{name}`` in it: ``http://{name}:8000`` under Docker Compose (the service
  name is a DNS name on the Compose network), ``http://{name}`` in Kubernetes
  (the Service's DNS name);
- ``LABSVC_URL_<NAME>``: one service's own base URL, which wins over the
  template (``NAME`` upper-cased, ``-`` and ``.`` written ``_``):
  ``LABSVC_URL_INVENTORY=http://127.0.0.1:8002`` on a laptop.

:func:`service_url` applies it; the calls keep their ``traceparent``, their
timeout, and the errors a network call raises (:class:`DirectHop`).

>>> from labsvc.core.service import create_service, http
>>> app = create_service("orders")
>>> @app.get("/orders/{order_id}")
... async def get_order(order_id: int, request: Request):
...     stock = await http(request).get(f"http://inventory.svc/stock/{order_id}")
...     return {"id": order_id, "in_stock": stock.json()["available"]}
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from labsvc.core.client import DEFAULT_TIMEOUT, Client, Outbound, parse_traceparent
from labsvc.core.errors import ConfigurationError, InstanceDownError, NetworkStateError
from labsvc.core.problems import Problem, problem_response, problem_type

__all__ = ["create_service", "install_problem_handlers", "http", "app_client", "instance_name", "set_ready", "Problem",
           "Request", "ENV_SERVICE_URL_TEMPLATE", "ENV_SERVICE_URL_PREFIX", "service_url", "standalone_client",
           "DirectHop", "has_service_url_map"]

#: The service URL map of a service that runs alone (see the module docstring).
ENV_SERVICE_URL_TEMPLATE = "LABSVC_SERVICE_URL_TEMPLATE"
ENV_SERVICE_URL_PREFIX = "LABSVC_URL_"
_SVC_SUFFIX = ".svc"


def create_service(
    name: str,
    *,
    title: str | None = None,
    version: str = "1.0.0",
    description: str = "",
    ready: Callable[[], bool] | None = None,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """A FastAPI app named ``name`` with probes and problem-details errors.

    ``ready`` is an optional function that says whether the service can take
    traffic now (``/ready`` answers 503 while it returns False);
    :func:`set_ready` switches readiness by hand.
    """
    app = FastAPI(title=title or name, version=version, description=description, **fastapi_kwargs)
    app.state.service_name = name
    app.state.ready = True
    app.state.ready_check = ready

    @app.get("/health", tags=["probes"], summary="Liveness: the service process is alive")
    async def health(request: Request) -> dict:
        return {"status": "UP", "service": name, "instance": instance_name(request)}

    @app.get("/ready", tags=["probes"], summary="Readiness: the service can take traffic")
    async def readiness(request: Request):
        check = app.state.ready_check
        is_ready = bool(app.state.ready) and (check is None or bool(check()))
        if not is_ready:
            return problem_response(
                503, "Not ready", type=problem_type("not-ready"),
                detail=f"{name} is running but not ready to take traffic yet", instance=str(request.url.path),
            )
        return {"status": "READY", "service": name, "instance": instance_name(request)}

    install_problem_handlers(app)
    return app


ErrorTable = Sequence[tuple[type[Exception], int, str, str]]


def install_problem_handlers(app: FastAPI, errors: ErrorTable = ()) -> None:
    """Make every error ``app`` returns an RFC 9457 problem document.

    ``errors`` maps exception classes a handler may raise to HTTP answers:
    rows of ``(exception class, status, problem type slug, title)``, so a
    pattern module's Python errors (an unknown delivery tag, say) reach HTTP
    clients as the matching problem document.
    """
    for kind, status, slug, title in errors:

        async def _mapped(request: Request, exc: Exception, status=status, slug=slug, title=title):
            return problem_response(status, title, type=problem_type(slug), detail=str(exc),
                                    instance=request.url.path)

        app.add_exception_handler(kind, _mapped)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        doc = dict(exc.document)
        doc.setdefault("instance", request.url.path)
        return problem_response(exc.status, headers=exc.headers, **{k: v for k, v in doc.items() if k != "status"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else None
        extra = {} if isinstance(exc.detail, str) or exc.detail is None else {"errors": exc.detail}
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.method} {request.url.path}; see /docs for this service's API"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(exc.status_code, detail=detail, instance=request.url.path,
                                headers=getattr(exc, "headers", None), **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())),
                "loc": list(err.get("loc", ())),
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors) or "the request"
        return problem_response(
            422, "Invalid request", type=problem_type("validation-error"),
            detail=f"fix these fields and send again: {fields}", instance=request.url.path, errors=errors,
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        return problem_response(
            500, type=problem_type("unhandled-error"),
            detail=f"{type(exc).__name__} in {app.state.service_name if hasattr(app.state, 'service_name') else 'the service'}",
            instance=request.url.path,
        )


def set_ready(app: FastAPI, ready: bool) -> None:
    """Switch the readiness probe of ``app`` on or off."""
    app.state.ready = bool(ready)


def instance_name(request: Request) -> str:
    """The name of the instance handling ``request`` (e.g. ``"orders-2"``)."""
    ctx = request.scope.get("extensions", {}).get("labsvc")
    if ctx is not None:
        return ctx.name
    return os.environ.get("LABSVC_INSTANCE", "standalone")


def http(request: Request, *, timeout: float | None = DEFAULT_TIMEOUT) -> Client:
    """A client for calling other services from inside the handler of ``request``.

    Calls go through the network as this instance, and continue the trace of
    the incoming request (W3C ``traceparent``).
    Outside a network (the app runs alone), the calls go straight to the
    URLs the service URL map gives (:func:`service_url`).
    """
    ctx = request.scope.get("extensions", {}).get("labsvc")
    trace_id = parse_traceparent(request.headers.get("traceparent"))
    if ctx is None:
        if not has_service_url_map():
            raise NetworkStateError(
                "this app is not running on a labsvc network, so it cannot call other services by name; "
                "add it to a labsvc.Network, serve it with 'python -m labsvc serve', or, to run it alone "
                f"(a container), set {ENV_SERVICE_URL_TEMPLATE} (e.g. 'http://{{name}}:8000') so that "
                "http://<name>.svc resolves"
            )
        return standalone_client(_own_name(request.app), trace_id=trace_id, timeout=timeout)
    return ctx.client(trace_id=trace_id, timeout=timeout)


def app_client(app: FastAPI, *, timeout: float | None = DEFAULT_TIMEOUT) -> Client:
    """A client for calls a service makes on its own, outside any request.

    For background work started in the app's lifespan (an outbox relay, a
    heartbeat to a registry): the calls go through the network as this
    instance and start new traces. It works for apps built by a factory (one
    app per instance) in both modes; an app object shared by several
    instances cannot tell which instance it is.
    """
    ctx = getattr(app.state, "labsvc", None)
    if ctx is None:
        if has_service_url_map():  # running alone: straight to the service URL map's URLs
            return standalone_client(_own_name(app), timeout=timeout)
        raise NetworkStateError(
            "this app has no instance of its own on a labsvc network: add it with a factory function "
            "(net.add('name', make_app)) so that each instance gets its own app, and call app_client "
            f"once the network has started it (or, running it alone, set {ENV_SERVICE_URL_TEMPLATE})"
        )
    return ctx.client(timeout=timeout)


# ---------------------------------------------------------------- running alone
def _own_name(app: Any) -> str:
    return getattr(getattr(app, "state", None), "service_name", None) or os.environ.get("LABSVC_SERVICE", "standalone")


def has_service_url_map(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment (``os.environ`` by default) sets a service URL map (template or per-service)."""
    env = os.environ if environ is None else environ
    return bool(env.get(ENV_SERVICE_URL_TEMPLATE)) or any(k.startswith(ENV_SERVICE_URL_PREFIX) for k in env)


def _variable(name: str) -> str:
    return ENV_SERVICE_URL_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def service_url(url: str, environ: Mapping[str, str] | None = None) -> str:
    """Where ``url`` goes when its caller runs alone: ``http://<name>.svc/path?q`` through the service URL map.

    ``LABSVC_URL_<NAME>`` wins, else ``LABSVC_SERVICE_URL_TEMPLATE`` with
    ``{name}`` replaced; the path and query are kept. A URL whose host is not
    ``<name>.svc`` (an address a registry handed out, say) is returned as it is.

    >>> service_url("http://orders.svc/orders/7?x=1", {"LABSVC_SERVICE_URL_TEMPLATE": "http://{name}:8000"})
    'http://orders:8000/orders/7?x=1'
    >>> service_url("http://catalog-2.svc/health", {"LABSVC_URL_CATALOG_2": "http://127.0.0.1:8012/"})
    'http://127.0.0.1:8012/health'
    >>> service_url("http://10.0.0.7:8000/health", {})
    'http://10.0.0.7:8000/health'
    """
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host.endswith(_SVC_SUFFIX):
        return url
    name = host[: -len(_SVC_SUFFIX)]
    base = env.get(_variable(name))
    if not base:
        template = env.get(ENV_SERVICE_URL_TEMPLATE)
        if not template:
            raise NetworkStateError(
                f"no URL for {name!r}: outside a labsvc network http://{name}.svc resolves through "
                f"{ENV_SERVICE_URL_TEMPLATE} (e.g. 'http://{{name}}:8000') or {_variable(name)} "
                f"(e.g. 'http://127.0.0.1:8001'); set one of them in this service's environment"
            )
        if "{name}" not in template:
            raise ConfigurationError(
                f"{ENV_SERVICE_URL_TEMPLATE}={template!r} has no '{{name}}' in it, so every service would get "
                f"the same URL; write it like 'http://{{name}}:8000', or set {_variable(name)} for one service"
            )
        base = template.replace("{name}", name)
    if not base.startswith(("http://", "https://")):
        raise ConfigurationError(f"the service URL map gives {base!r} for {name!r}: not an http(s) base URL "
                                 f"such as 'http://{name}:8000'")
    path = parts.path or "/"
    return base.rstrip("/") + path + (f"?{parts.query}" if parts.query else "")


class DirectHop:
    """The hop of a service that runs alone: each call goes over HTTP to the URL the service URL map gives.

    What a call through the network keeps, it keeps: the caller's headers
    (``traceparent`` included, so the trace goes on), the caller's timeout,
    and the errors: a connection that cannot be made (refused, or a name no
    DNS knows, as when a container is down) raises
    :class:`~labsvc.core.errors.InstanceDownError` (an ``httpx.ConnectError``),
    a timeout raises httpx's ``TimeoutException``; every answer, problem
    documents included, comes back as it was sent. ``environ`` is read at
    each call (``os.environ`` when None).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = environ
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for old in [k for k in self._clients if k.is_closed()]:
                del self._clients[old]
            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
            client = self._clients[loop] = httpx.AsyncClient(limits=limits, trust_env=False)
        return client

    async def __call__(self, out: Outbound) -> httpx.Response:
        target = service_url(out.url, self.environ)
        headers = [(k, v) for k, v in out.headers if k not in (b"host", b"content-length")]
        try:
            r = await self._client().request(out.method, target, headers=headers, content=out.body or None,
                                             timeout=out.timeout)
        except httpx.ConnectError as exc:
            raise InstanceDownError(f"cannot connect to {out.host} at {urlsplit(target).netloc}: {exc}") from None
        raw = [(k, v) for k, v in r.headers.raw
               if k.lower() not in (b"content-length", b"transfer-encoding", b"content-encoding")]
        response = httpx.Response(r.status_code, headers=raw, content=r.content)
        response.request = httpx.Request(out.method, out.url)
        return response

    async def aclose(self) -> None:
        """Close the connections of the current event loop."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


_DIRECT = DirectHop()


def standalone_client(caller: str, *, trace_id: str | None = None, timeout: float | None = DEFAULT_TIMEOUT,
                      hop: DirectHop | None = None) -> Client:
    """A client that calls ``http://<name>.svc`` through the service URL map, as ``caller`` (no network needed).

    What :func:`http` and :func:`app_client` hand out when the app runs
    alone; also for a worker or a script next to the services.
    """
    instance = os.environ.get("LABSVC_INSTANCE") or caller
    return Client(hop or _DIRECT, caller, caller_instance=instance, trace_id=trace_id, timeout=timeout)
