"""The client services and notebooks use to call services on a network.

Its API is a small subset of ``httpx.AsyncClient`` (``get``, ``post``, ...,
``request``; ``params``, ``json``, ``content``, ``headers``, ``timeout``) and
it returns real ``httpx.Response`` objects, so a learner who knows httpx can
read every line. Underneath it skips httpx's client machinery and hands the
request straight to the network's hop, which is why an in-process call is
cheap.

A client knows who is calling (``caller``), so the call log can say which
service talked to which, and it carries the W3C ``traceparent`` header so the
hops of one user request share a trace id.
"""

from __future__ import annotations

import json as _json
import random
from functools import lru_cache
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode, urlsplit

import httpx

__all__ = ["Client", "Outbound", "DEFAULT_TIMEOUT", "new_trace_id", "parse_traceparent"]

DEFAULT_TIMEOUT = 5.0  # seconds, httpx's default too


class Outbound:
    """One request on its way through the network."""

    __slots__ = ("method", "url", "host", "path", "query", "headers", "body", "timeout", "caller", "caller_instance", "trace_id")

    def __init__(self, method, url, host, path, query, headers, body, timeout, caller, caller_instance, trace_id):
        self.method = method
        self.url = url
        self.host = host
        self.path = path
        self.query = query
        self.headers = headers  # list of (bytes, bytes), lower-case names
        self.body = body
        self.timeout = timeout
        self.caller = caller
        self.caller_instance = caller_instance
        self.trace_id = trace_id


Hop = Callable[[Outbound], Awaitable[httpx.Response]]

_trace_rng = random.Random()


def new_trace_id(rng: random.Random | None = None) -> str:
    """A fresh 32-hex-digit W3C trace id."""
    return f"{(rng or _trace_rng).getrandbits(128):032x}"


def parse_traceparent(value: str | None) -> str | None:
    """The trace id inside a ``traceparent`` header, or None if malformed."""
    if not value:
        return None
    parts = value.split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        return parts[1]
    return None


@lru_cache(maxsize=4096)
def _split(url: str) -> tuple[str, str, str, str, str]:
    # scheme, netloc, host, path, query of an absolute URL. Remembered: a
    # service calls the same few URLs over and over.
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute URL such as 'http://orders.svc/orders/42'")
    return parts.scheme, parts.netloc, parts.hostname, parts.path or "/", parts.query


class Client:
    """Calls services by URL, e.g. ``await client.get("http://orders.svc/orders/42")``.

    Get one from :meth:`labsvc.Network.client` (a caller outside the
    services, such as a front end or a load generator) or, inside a service
    handler, from :func:`labsvc.core.service.http` (the instance itself calls).
    """

    def __init__(
        self,
        hop: Hop,
        caller: str,
        *,
        caller_instance: str | None = None,
        base_url: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        trace_id: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._hop = hop
        self.caller = caller
        self.caller_instance = caller_instance or caller
        self.base_url = base_url.rstrip("/") if base_url else None
        self.headers = [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
        self.timeout = timeout
        self.trace_id = trace_id
        self._rng = rng

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc) -> None:
        return None

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        headers: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        timeout: float | None | object = ...,
    ) -> httpx.Response:
        """Send one request through the network and return its response."""
        if self.base_url and not url.startswith(("http://", "https://")):
            url = self.base_url + (url if url.startswith("/") else "/" + url)
        scheme, netloc, host, path, query = _split(url)
        if params:
            extra = urlencode(params, doseq=True)
            query = f"{query}&{extra}" if query else extra
            url = f"{scheme}://{netloc}{path}?{query}"
        raw = list(self.headers)
        trace_id = self.trace_id
        if headers:
            for k, v in headers.items():
                name = k.lower()
                if name == "traceparent":  # the caller continues an existing trace
                    trace_id = parse_traceparent(v) or trace_id
                    continue
                raw.append((name.encode(), str(v).encode()))
        body = b""
        if json is not None:
            body = _json.dumps(json).encode()
            raw.append((b"content-type", b"application/json"))
        elif content is not None:
            body = content.encode() if isinstance(content, str) else bytes(content)
        if body:
            raw.append((b"content-length", str(len(body)).encode()))
        trace_id = trace_id or new_trace_id(self._rng)
        span = f"{(self._rng or _trace_rng).getrandbits(64):016x}"
        raw.append((b"traceparent", f"00-{trace_id}-{span}-01".encode()))
        out = Outbound(
            method.upper(), url, host, path, query, raw, body,
            self.timeout if timeout is ... else timeout, self.caller, self.caller_instance, trace_id,
        )
        return await self._hop(out)

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def put(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", url, **kw)

    async def patch(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kw)

    async def head(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("HEAD", url, **kw)

    async def options(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("OPTIONS", url, **kw)

    def __repr__(self) -> str:
        return f"Client(caller={self.caller!r})"


class NetworkTransport(httpx.AsyncBaseTransport):
    """An httpx transport over a network hop, for code that wants a full
    ``httpx.AsyncClient`` (``httpx.AsyncClient(transport=net.transport("web"))``)."""

    def __init__(self, hop: Hop, caller: str) -> None:
        self._client = Client(hop, caller)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        body = await request.aread()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        response = await self._client.request(
            request.method, str(request.url), headers=headers, content=body or None, timeout=timeout
        )
        return httpx.Response(response.status_code, headers=response.headers, content=response.content)
