"""Calling the service behind a route: which instance, under which policy, and relaying its answer.

- :class:`Policy`: how one upstream is called, its timeout, circuit breaker
  and retry (a route's, or an aggregation part's);
- :class:`Upstreams`: picks the instance to call (through discovery and a
  balancer, or the network's own balancer at ``http://<service>.svc``) and
  calls it under the policy, ``retry(breaker(timeout(attempt)))``;
  :meth:`Upstreams.part` fetches one part of an aggregation;
- :func:`relay`: the upstream's answer as the gateway's own, hop-by-hop
  headers dropped and the instance that answered named in
  :data:`UPSTREAM_INSTANCE_HEADER`.

:class:`~labsvc.gateway.Gateway` owns one :class:`Upstreams`; its
``discovery``, ``timeout`` and ``retry_other_instance`` are the gateway's.
"""

from __future__ import annotations

import asyncio
import random
from functools import partial
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from labsvc.core.clock import Clock
from labsvc.core.network import INSTANCE_HEADER
from labsvc.core.service import http
from labsvc.discovery.balancing import make_balancer
from labsvc.gateway._problems import NoInstanceAvailable, upstream_failure
from labsvc.gateway.routes import Part
from labsvc.resilience import Timeout

UPSTREAM_INSTANCE_HEADER = "x-upstream-instance"

# Never relayed: hop-by-hop headers (RFC 9110 7.6.1) and what the network or
# the relay sets itself.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length", "traceparent"}
_DROP_RESPONSE = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"upgrade",
                  INSTANCE_HEADER.encode()}
# The network enforces a route's timeout on the hop itself (so the call log
# records a ReadTimeout); the resilience Timeout, this much later, is the
# backstop that also covers instance lookup and runs on an injected clock.
TIMEOUT_GRACE = 0.001


class Policy:
    """How one upstream is called: its timeout, breaker and retry."""

    __slots__ = ("service", "timeout", "limit", "breaker", "retry", "retry_methods")

    def __init__(self, service: str, timeout: float | None, breaker, retry, retry_methods, clock: Clock) -> None:
        self.service = service
        self.timeout = timeout
        self.limit = Timeout(timeout + TIMEOUT_GRACE, clock=clock) if timeout is not None else None
        self.breaker = breaker
        self.retry = retry
        self.retry_methods = retry_methods


class Upstreams:
    """Instance choice and calls for every service behind one gateway (one balancer per service)."""

    def __init__(self, *, discovery: Any, balancer: Any, timeout: float | None, clock: Clock, seed: int,
                 retry_other_instance: bool) -> None:
        self.discovery = discovery
        self.timeout = timeout
        self.clock = clock
        self.retry_other_instance = retry_other_instance
        self._balancer_spec = balancer
        make_balancer(balancer)  # fail now on a bad name
        self._balancers: dict[str, Any] = {}
        self._rng = random.Random(f"{seed}/gateway")

    async def instance(self, service: str, tried: tuple[str, ...] = ()) -> tuple[str, str | None]:
        """The base URL to call for ``service``, and the discovered instance's name.

        ``tried`` are instances this request already called: with
        ``retry_other_instance`` they are skipped while another one is UP.
        """
        if self.discovery is None:
            return f"http://{service}.svc", None
        d = self.discovery
        if callable(getattr(d, "alookup", None)):
            infos = await d.alookup(service)
        else:
            infos = d.lookup(service)
            if asyncio.iscoroutine(infos):
                infos = await infos
        if not infos:
            raise NoInstanceAvailable(f"discovery has no UP instance of {service!r}")
        by_name = {i.instance: i for i in infos}
        balancer = self._balancers.get(service)
        if balancer is None:
            balancer = self._balancers[service] = make_balancer(self._balancer_spec)
        candidates = list(by_name)
        if self.retry_other_instance and tried:
            candidates = [n for n in candidates if n not in tried] or candidates
        name = balancer.choose(candidates, self._rng)
        return by_name[name].url.rstrip("/"), name

    async def call(self, request: Request, policy: Policy, method: str, path: str,
                   headers: dict, body: bytes) -> httpx.Response:
        """Call the upstream under the policy: retry(breaker(timeout(attempt)))."""
        client = http(request, timeout=policy.timeout if policy.timeout is not None else self.timeout)
        content = body or None
        tried: list[str] = []

        async def attempt() -> httpx.Response:
            base, name = await self.instance(policy.service, tuple(tried))
            if name is not None:
                tried.append(name)
            if name is None:
                return await client.request(method, base + path, headers=headers, content=content)
            balancer = self._balancers[policy.service]
            balancer.on_start(name)
            t = self.clock.now()
            ok = False
            try:
                response = await client.request(method, base + path, headers=headers, content=content)
                ok = response.status_code < 500
                return response
            finally:
                balancer.on_end(name, self.clock.now() - t, ok)

        # Innermost first: each layer wraps the one before (resilience4j's order).
        call = attempt
        if policy.limit is not None:
            call = partial(policy.limit.call, call)
        if policy.breaker is not None:
            call = partial(policy.breaker.call, call)
        if policy.retry is not None and method in policy.retry_methods:
            return await policy.retry.call(call)
        return await call()

    async def part(self, request: Request, policy: Policy, part: Part, params: dict,
                   headers: dict) -> tuple[bool, Any]:
        """(True, JSON body) or (False, a problem document as a dict, with ``slug``)."""
        path = part.path.format(**params)
        try:
            r = await self.call(request, policy, "GET", path, headers, b"")
        except Exception as exc:
            refused = upstream_failure(exc, policy.service, policy.timeout)
            return False, {**refused.document(), "slug": refused.slug}
        if r.status_code >= 400:
            try:
                doc = r.json()
            except ValueError:
                doc = {}
            doc = doc if isinstance(doc, dict) else {}
            kind = str(doc.get("type", ""))
            return False, {"status": r.status_code, "title": doc.get("title", "Upstream error"),
                           "detail": doc.get("detail", f"{part.service} answered {r.status_code}"),
                           "slug": kind.rsplit(":", 1)[-1] if kind.startswith("urn:") else "upstream-error"}
        try:
            return True, r.json()
        except ValueError:
            return True, r.text


def relay(upstream: httpx.Response) -> Response:
    """The upstream's answer, as the gateway's own (hop-by-hop headers dropped)."""
    body = upstream.content
    response = Response(content=body, status_code=upstream.status_code)
    headers = [(b"content-length", str(len(body)).encode())]
    instance = b""
    for k, v in upstream.headers.raw:
        key = k.lower()
        if key == b"x-labsvc-instance":
            instance = v
        elif key not in _DROP_RESPONSE:
            headers.append((key, v))
    if instance:
        headers.append((UPSTREAM_INSTANCE_HEADER.encode(), instance))
    response.raw_headers = headers
    return response
