"""Service helpers: a FastAPI app that behaves like a well-run microservice.

:func:`create_service` returns a plain FastAPI app (uvicorn can serve it
alone) that already has what every service in the course needs:

- ``GET /health`` (liveness: the process is alive) and ``GET /ready``
  (readiness: it may receive traffic), the two probes a platform such as
  Kubernetes uses;
- every error as an RFC 9457 problem document (``application/problem+json``):
  unknown routes, wrong methods, validation errors (422, naming each field),
  :class:`~labsvc.problems.Problem` raised by handlers, and crashes (500);
- :func:`http`, a client for calling other services from inside a handler,
  which carries the trace id of the incoming request and calls as this
  instance, so the call log can tell who called whom.

>>> from labsvc.service import create_service, http
>>> app = create_service("orders")
>>> @app.get("/orders/{order_id}")
... async def get_order(order_id: int, request: Request):
...     stock = await http(request).get(f"http://inventory.svc/stock/{order_id}")
...     return {"id": order_id, "in_stock": stock.json()["available"]}
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .client import DEFAULT_TIMEOUT, Client, parse_traceparent
from .errors import NetworkStateError
from .problems import Problem, problem_response, problem_type

__all__ = ["create_service", "install_problem_handlers", "http", "app_client", "instance_name", "set_ready", "Problem", "Request"]


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
    """
    ctx = request.scope.get("extensions", {}).get("labsvc")
    if ctx is None:
        raise NetworkStateError(
            "this app is not running on a labsvc network, so it cannot call other services by name; "
            "add it to a labsvc.Network, or serve it with 'python -m labsvc serve'"
        )
    return ctx.client(trace_id=parse_traceparent(request.headers.get("traceparent")), timeout=timeout)


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
        raise NetworkStateError(
            "this app has no instance of its own on a labsvc network: add it with a factory function "
            "(net.add('name', make_app)) so that each instance gets its own app, and call app_client "
            "once the network has started it"
        )
    return ctx.client(timeout=timeout)
