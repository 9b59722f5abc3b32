"""Serve one labsvc service with uvicorn: ``python -m labsvc serve module:attr``.

This is how process mode starts each instance, and how a learner runs a
course service on its own (``python -m labsvc serve labsvc.shop:catalog_app
--port 8001``). It only ever listens on 127.0.0.1.

The app is wrapped in a thin ASGI layer that tells handlers which instance
they are (for :func:`labsvc.core.service.http`) and reports the matched route
template back to the network in a response header, so the call log records
``/orders/{order_id}`` rather than ``/orders/42`` in both modes.
"""

from __future__ import annotations

import argparse
import os
import socket
from typing import Any

from labsvc.core import logs
from labsvc.core.client import parse_traceparent
from labsvc.core.apps import load_app, resolve
from labsvc.core.hooks import ENV_INSTRUMENT
from labsvc.core.process import ENV_INSTANCE, ENV_PROXY, ENV_SERVICE, ProxyContext, ProxyHop

__all__ = ["serve", "LabsvcASGIWrapper", "load_app", "main"]


class LabsvcASGIWrapper:
    """Adds the instance context to each request and the route header to each response."""

    def __init__(self, app: Any, context: Any) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.context is not None:
            extensions = dict(scope.get("extensions") or {})
            extensions["labsvc"] = self.context
            scope["extensions"] = extensions
        traceparent = next((v for k, v in scope.get("headers", ()) if k == b"traceparent"), b"")
        token = logs.rebind_trace(parse_traceparent(traceparent.decode("latin-1")))

        async def send_with_route(message: dict) -> None:
            if message["type"] == "http.response.start":
                route = getattr(scope.get("route"), "path", "")
                headers = list(message.get("headers", []))
                if route:
                    headers.append((b"x-labsvc-route", route.encode()))
                if self.context is not None:
                    headers.append((b"x-labsvc-instance", self.context.name.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_route)
        finally:
            if token is not None:
                logs.unbind(token)


def serve(target: str, *, port: int | None = None, fd: int | None = None, instance: str | None = None) -> None:
    """Run ``target`` under uvicorn on 127.0.0.1 until SIGTERM/SIGINT."""
    import asyncio

    import uvicorn

    instance = instance or os.environ.get(ENV_INSTANCE) or target.rsplit(":", 1)[-1]
    proxy = os.environ.get(ENV_PROXY)
    service = os.environ.get(ENV_SERVICE) or instance.rsplit("-", 1)[0]
    ssl_options, verify = _mutual_tls()
    hop: Any = ProxyHop(proxy, verify=verify) if proxy else None
    inner = load_app(target)
    observed = inner
    if os.environ.get(ENV_INSTRUMENT):  # the network's instrumentation (e.g. net.observe()) acts here too
        observed, hop = resolve(os.environ[ENV_INSTRUMENT])(inner, hop, service, instance)
    context = ProxyContext(instance, service, hop) if proxy else None
    if context is not None and hasattr(inner, "state"):
        inner.state.labsvc = context  # for labsvc.core.service.app_client(app)
    app = LabsvcASGIWrapper(observed, context)
    # Every task of this process inherits the binding: its log lines are this instance's.
    logs.bind(service, instance, None, logs.stream_sink())
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="auto", **ssl_options)
    server = uvicorn.Server(config)
    if fd is not None:
        sock = socket.socket(fileno=fd)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # answers go out at once (no Nagle wait)
        sock.bind(("127.0.0.1", port or 0))
        sock.listen(1024)
        print(f"labsvc: serving {target} as {instance} on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    asyncio.run(server.serve(sockets=[sock]))


def _mutual_tls() -> tuple[dict, Any]:
    """With Network(mtls=True): uvicorn's SSL options (client certificate required) and the proxy client's context."""
    from labsvc.core.tls import ENV_TLS_CA, ENV_TLS_CERT, ENV_TLS_KEY

    cert, key, ca = (os.environ.get(n) for n in (ENV_TLS_CERT, ENV_TLS_KEY, ENV_TLS_CA))
    if not (cert and key and ca):
        return {}, True
    import ssl

    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.load_cert_chain(cert, key)
    # A TLS connection closes with an exchange of close_notify alerts; an idle peer may never send its
    # own, so shutdown would wait for it: give it a second, then go.
    options = {"ssl_certfile": cert, "ssl_keyfile": key, "ssl_ca_certs": ca, "ssl_cert_reqs": ssl.CERT_REQUIRED,
               "timeout_graceful_shutdown": 1}
    return options, context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labsvc", description="labsvc command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="serve one service with uvicorn on 127.0.0.1")
    p_serve.add_argument("target", help="import string of a FastAPI app or app factory, 'module:attr'")
    p_serve.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    p_serve.add_argument("--fd", type=int, default=None, help="serve on an inherited listening socket")
    p_serve.add_argument("--instance", default=None, help="instance name, e.g. catalog-1")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.target, port=args.port, fd=args.fd, instance=args.instance)
    return 0
