"""The API gateway: one entry point in front of the services.

Every request to the gateway goes through the same steps, in the order
Kong and Spring Cloud Gateway apply their plugins and filters:

1. **match** a route by path prefix (the longest prefix wins);
2. **authenticate**: verify the bearer token (401 problem if refused);
3. **rate limit** the client (429 problem with ``Retry-After``);
4. **forward** to an instance of the service, chosen through discovery and
   a balancer, or by the network's own balancer at ``http://<svc>.svc``,
   under the route's timeout, circuit breaker and retry (504, 503, 502
   problems when they give up);
5. **record** what happened, for :meth:`Gateway.metrics`.

The verified claims travel to the service as headers (``x-user`` for
``sub`` by default), and the same headers are removed from what the client
sent, so nobody can claim to be someone else by setting ``x-user``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections import deque
from functools import partial
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from ..balancing import make_balancer
from ..client import DEFAULT_TIMEOUT
from ..clock import Clock, MonotonicClock
from ..errors import ConfigurationError, LabsvcError, UnknownServiceError
from ..network import INSTANCE_HEADER
from ..problems import problem, problem_response, problem_type
from ..resilience import CallNotPermitted, CallTimeoutError, Timeout
from ..security import TokenRejected, TokenVerifier, www_authenticate
from ..service import create_service, http
from .ratelimit import RateLimit, RateLimiter
from .routes import Aggregation, Part, Route, as_routes

__all__ = ["Gateway", "gateway_app", "NoInstanceAvailable", "OUTCOMES", "UPSTREAM_INSTANCE_HEADER"]

OUTCOMES = ("admitted", "throttled", "rejected")
UPSTREAM_INSTANCE_HEADER = "x-upstream-instance"
_METRIC_COLUMNS = ["time", "route", "client", "method", "path", "outcome", "status", "problem", "latency"]

# Never relayed: hop-by-hop headers (RFC 9110 7.6.1) and what the network or
# the relay sets itself.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "content-length", "traceparent"}
_DROP_RESPONSE = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"upgrade",
                  INSTANCE_HEADER.encode()}
# The network enforces a route's timeout on the hop itself (so the call log
# records a ReadTimeout); the resilience Timeout, this much later, is the
# backstop that also covers instance lookup and runs on an injected clock.
_TIMEOUT_GRACE = 0.001


class NoInstanceAvailable(LabsvcError, LookupError):
    """Discovery knows no UP instance of the service."""


class _Refused(Exception):
    """The gateway answers itself (401, 429, 502-504): a problem document and its outcome."""

    def __init__(self, outcome: str, status: int, slug: str, title: str, detail: str,
                 headers: dict | None = None, **ext: Any) -> None:
        self.outcome, self.status, self.slug, self.title, self.detail = outcome, status, slug, title, detail
        self.headers, self.ext = headers, ext

    def response(self, path: str) -> Response:
        return problem_response(self.status, self.title, type=problem_type(self.slug), detail=self.detail,
                                instance=path, headers=self.headers, **self.ext)

    def document(self) -> dict:
        return problem(self.status, self.title, type=problem_type(self.slug), detail=self.detail, **self.ext)


class _Policy:
    """How one upstream is called: its timeout, breaker and retry."""

    __slots__ = ("service", "timeout", "limit", "breaker", "retry", "retry_methods")

    def __init__(self, service: str, timeout: float | None, breaker, retry, retry_methods, clock: Clock) -> None:
        self.service = service
        self.timeout = timeout
        self.limit = Timeout(timeout + _TIMEOUT_GRACE, clock=clock) if timeout is not None else None
        self.breaker = breaker
        self.retry = retry
        self.retry_methods = retry_methods


class Gateway:
    """An API gateway; :attr:`app` is the FastAPI app to put on a network.

    Parameters
    ----------
    routes:
        ``{"/catalog": "catalog", ...}`` or a list of :class:`Route`.
    discovery:
        A :class:`~labsvc.discovery.ServiceRegistry` or
        :class:`~labsvc.discovery.DiscoveryClient`: the gateway asks it for
        the UP instances of a service and picks one with ``balancer``.
        Without it, requests go to ``http://<service>.svc`` and the
        network's balancer picks.
    auth:
        A :class:`~labsvc.security.TokenVerifier`; routes with ``auth=True``
        (the default) then need a valid bearer token.
    rate_limit:
        A :class:`RateLimit` applied per client on every route that does not
        bring its own.
    aggregations:
        :class:`Aggregation` endpoints (backend for frontend).
    forward_claims:
        Which verified claims reach the services, as which header.
    api_key_header, api_keys:
        Without a verified subject, the client is named by this header
        (mapped through ``api_keys`` when given), else by the calling
        instance.
    retry_other_instance:
        With discovery, a retry goes to an instance this request has not
        tried yet while one is left (Envoy's ``previous_hosts`` retry
        predicate, Ribbon's "next server"); off by default, as in both.
    clock:
        Time for the rate limiter, timeouts and metrics (FakeClock in tests).
    """

    def __init__(
        self,
        routes: Mapping[str, str] | Iterable[Route],
        *,
        discovery: Any = None,
        auth: TokenVerifier | None = None,
        rate_limit: RateLimit | None = None,
        aggregations: Iterable[Aggregation] = (),
        balancer: Any = "round_robin",
        forward_claims: Mapping[str, str] | None = None,
        api_key_header: str = "x-api-key",
        api_keys: Mapping[str, str] | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        clock: Clock | None = None,
        seed: int = 0,
        name: str = "gateway",
        max_records: int = 200_000,
        retry_other_instance: bool = False,
    ) -> None:
        self.retry_other_instance = bool(retry_other_instance)
        self.routes = as_routes(routes)
        self.aggregations = list(aggregations)
        for agg in self.aggregations:
            if not isinstance(agg, Aggregation):
                raise ConfigurationError(f"aggregations must be Aggregation objects, got {agg!r}")
        if auth is not None and not isinstance(auth, TokenVerifier):
            raise ConfigurationError("auth must be a labsvc.security.TokenVerifier (e.g. issuer.verifier())")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise ConfigurationError("rate_limit must be a RateLimit(capacity=..., refill_rate=...)")
        if discovery is not None and not (callable(getattr(discovery, "lookup", None))
                                          or callable(getattr(discovery, "alookup", None))):
            raise ConfigurationError("discovery must be a ServiceRegistry or a DiscoveryClient (anything with lookup())")
        self.discovery = discovery
        self.auth = auth
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.forward_claims = dict({"sub": "x-user"} if forward_claims is None else forward_claims)
        self.api_key_header = api_key_header.lower()
        self.api_keys = dict(api_keys) if api_keys is not None else None
        self.timeout = timeout
        self.name = name
        self._balancer_spec = balancer
        make_balancer(balancer)  # fail now on a bad name
        self._balancers: dict[str, Any] = {}
        self._rng = random.Random(f"{seed}/gateway")
        self._limiters: dict[int, RateLimiter] = {}
        self.rate_limit = rate_limit
        self.limiter = self._limiter(rate_limit)
        self._policies = {r.prefix: self._policy(r) for r in self.routes}
        self._strip = {h.lower() for h in self.forward_claims.values()} | _HOP_BY_HOP
        self._records: deque[tuple] = deque(maxlen=max_records)
        self._t0 = self.clock.now()
        self.app = self._build_app()

    # ------------------------------------------------------------------ set-up
    def _limiter(self, limit: RateLimit | None) -> RateLimiter | None:
        if limit is None:
            return None
        if id(limit) not in self._limiters:
            self._limiters[id(limit)] = RateLimiter(limit, clock=self.clock)
        return self._limiters[id(limit)]

    def _policy(self, route: Route, timeout: float | None = None) -> _Policy:
        return _Policy(route.service, timeout or route.timeout, route.breaker, route.retry, route.retry_methods,
                       self.clock)

    def _part_policy(self, part: Part) -> _Policy:
        for route in self.routes:
            if route.service == part.service:  # share the route's breaker and retry
                return self._policy(route, part.timeout)
        return _Policy(part.service, part.timeout, None, None, (), self.clock)

    def _build_app(self):
        app = create_service(self.name, title="API gateway",
                             description="routes, authentication, rate limiting, aggregation")
        app.state.gateway = self

        @app.get("/gateway/routes", tags=["gateway"], summary="The routes and the state of their breakers")
        async def list_routes() -> list[dict]:
            return self.describe().to_dict("records")

        for agg in self.aggregations:
            app.router.routes.append(StarletteRoute(agg.path, self._aggregation_endpoint(agg), methods=["GET"]))
        for route in self.routes:
            # Plain Starlette routes: no dependency injection to pay for on every request.
            endpoint = self._route_endpoint(route)
            methods = list(route.methods)
            app.router.routes.append(StarletteRoute(route.prefix, endpoint, methods=methods))
            app.router.routes.append(StarletteRoute(route.prefix + "/{path:path}", endpoint, methods=methods))
        return app

    # ------------------------------------------------------------------ admission
    def _authenticate(self, request: Request) -> dict:
        try:
            return self.auth.bearer(request.headers.get("authorization"))  # type: ignore[union-attr]
        except TokenRejected as exc:
            missing = exc.reason == "missing_token"
            raise _Refused(
                "rejected", 401, "missing-token" if missing else "invalid-token",
                "Authentication required" if missing else "Invalid token", exc.detail,
                headers={"WWW-Authenticate": www_authenticate(exc)}, reason=exc.reason,
            ) from None

    def client_id(self, request: Request, claims: dict | None) -> str:
        """Who is asking: the verified subject, else the API key's client, else the calling instance."""
        if claims and claims.get("sub"):
            return str(claims["sub"])
        key = request.headers.get(self.api_key_header)
        if key:
            if self.api_keys is not None:
                return self.api_keys.get(key, "unknown-key")
            return key
        client = request.scope.get("client")
        return client[0] if client else "anonymous"

    def _admit(self, request: Request, limiter: RateLimiter | None, limit: RateLimit | None,
               claims: dict | None) -> str:
        if limit is not None and limit.key is not None:
            client = str(limit.key(request, claims))
        else:
            client = self.client_id(request, claims)
        if limiter is not None:
            decision = limiter.decide(client)
            if not decision.allowed:
                limit_ = limiter.limit
                never = math.isinf(decision.retry_after)  # a bucket with refill_rate 0
                when = "its bucket never refills" if never else f"retry in {decision.retry_after:.3g} s"
                raise _Refused(
                    "throttled", 429, "rate-limited", "Too many requests",
                    f"client {client!r} used its burst of {limit_.capacity} and refills "
                    f"{limit_.refill_rate:g} requests per second; {when}",
                    headers={"Retry-After": decision.retry_after_header}, client=client,
                    retry_after=None if never else round(decision.retry_after, 6),
                )
        return client

    # ------------------------------------------------------------------ forwarding
    async def _instance(self, service: str, tried: tuple[str, ...] = ()) -> tuple[str, str | None]:
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

    async def _call(self, request: Request, policy: _Policy, method: str, path: str,
                    headers: dict, body: bytes) -> httpx.Response:
        """Call the upstream under the policy: retry(breaker(timeout(attempt)))."""
        client = http(request, timeout=policy.timeout if policy.timeout is not None else self.timeout)
        content = body or None
        tried: list[str] = []

        async def attempt() -> httpx.Response:
            base, name = await self._instance(policy.service, tuple(tried))
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

    def _failure(self, exc: Exception, policy: _Policy) -> _Refused:
        """The problem the gateway answers when calling ``policy.service`` raised ``exc``."""
        service = policy.service
        if isinstance(exc, CallNotPermitted):
            headers = None
            if exc.retry_after is not None:
                headers = {"Retry-After": str(max(1, int(-(-exc.retry_after // 1))))}
            return _Refused("admitted", 503, "circuit-open", "Circuit open",
                            f"the circuit breaker for {service!r} is {exc.state}: the gateway fails fast "
                            f"instead of calling a service that keeps failing", headers=headers, service=service)
        if isinstance(exc, (CallTimeoutError, httpx.TimeoutException)):
            return _Refused("admitted", 504, "upstream-timeout", "Gateway timeout",
                            f"{service!r} did not answer within {policy.timeout:g} s"
                            if policy.timeout is not None else f"{service!r} did not answer in time", service=service)
        if isinstance(exc, NoInstanceAvailable):
            return _Refused("admitted", 503, "no-instance", "No instance available", str(exc), service=service)
        if isinstance(exc, httpx.TransportError):
            return _Refused("admitted", 502, "bad-gateway", "Bad gateway",
                            f"cannot reach {service!r}: {type(exc).__name__}", service=service)
        if isinstance(exc, UnknownServiceError):
            return _Refused("admitted", 502, "bad-gateway", "Bad gateway",
                            f"the network has no service {service!r}; check the route", service=service)
        raise exc

    def _forward_headers(self, request: Request, claims: dict | None, prefix: str | None) -> dict[str, str]:
        strip = self._strip
        headers = {}
        for k, v in request.scope["headers"]:
            name = k.decode("latin-1")
            if name not in strip:
                headers[name] = v.decode("latin-1")
        if claims:
            for claim, header in self.forward_claims.items():
                value = claims.get(claim)
                if value is not None:
                    headers[header] = value if isinstance(value, str) else json.dumps(value)
        client = request.scope.get("client")
        if client:
            headers["x-forwarded-for"] = client[0]
        if prefix:
            headers["x-forwarded-prefix"] = prefix
        return headers

    # ------------------------------------------------------------------ endpoints
    def _route_endpoint(self, route: Route):
        policy = self._policies[route.prefix]
        limit = route.rate_limit if route.rate_limit is not None else self.rate_limit
        limiter = self._limiter(limit)
        needs_auth = route.auth and self.auth is not None

        async def forward(request: Request) -> Response:
            start = self.clock.now()
            scope = request.scope
            client, status, slug, outcome = "", 0, "", "admitted"
            try:
                claims = self._authenticate(request) if needs_auth else None
                client = self._admit(request, limiter, limit, claims)
                raw = scope.get("raw_path") or scope["path"].encode()
                path = route.upstream_path(raw.decode("latin-1"))
                if scope["query_string"]:
                    path += "?" + scope["query_string"].decode("latin-1")
                headers = self._forward_headers(request, claims, route.prefix if route.strip_prefix else None)
                body = await request.body()
                try:
                    upstream = await self._call(request, policy, scope["method"], path, headers, body)
                except Exception as exc:  # mapped to 502/503/504, or re-raised (500)
                    raise self._failure(exc, policy) from None
                response = _relay(upstream)
                status = response.status_code
                return response
            except _Refused as refused:
                outcome, status, slug = refused.outcome, refused.status, refused.slug
                client = client or refused.ext.get("client") or self.client_id(request, None)
                return refused.response(scope["path"])
            except Exception:
                status = 500
                raise
            finally:
                self._record(start, route.prefix, client, scope["method"], scope["path"], outcome, status, slug)

        return forward

    def _aggregation_endpoint(self, agg: Aggregation):
        policies = {name: self._part_policy(part) for name, part in agg.parts.items()}
        limit = agg.rate_limit if agg.rate_limit is not None else self.rate_limit
        limiter = self._limiter(limit)
        needs_auth = agg.auth and self.auth is not None

        async def compose(request: Request) -> Response:
            start = self.clock.now()
            client, status, slug, outcome = "", 0, "", "admitted"
            path = request.scope["path"]
            try:
                claims = self._authenticate(request) if needs_auth else None
                client = self._admit(request, limiter, limit, claims)
                headers = self._forward_headers(request, claims, None)
                params = request.path_params
                results = await asyncio.gather(*(
                    self._part(request, policies[name], part, params, headers) for name, part in agg.parts.items()
                ))
                body: dict[str, Any] = {}
                missing, errors = [], {}
                for (name, part), (ok, value) in zip(agg.parts.items(), results):
                    if ok:
                        body[name] = value
                        continue
                    if not part.optional:
                        raise _Refused("admitted", value["status"], value.get("slug", "aggregation-failed"),
                                       value.get("title", "Part failed"),
                                       f"required part {name!r} ({part.service} GET {part.path.format(**params)}) failed: "
                                       f"{value.get('detail', '')}", part=name)
                    body[name] = part.fallback
                    missing.append(name)
                    errors[name] = {k: value[k] for k in ("status", "title", "detail") if k in value}
                body.update(partial=bool(missing), missing=missing, errors=errors)
                status = 200
                return JSONResponse(body)
            except _Refused as refused:
                outcome, status, slug = refused.outcome, refused.status, refused.slug
                client = client or refused.ext.get("client") or self.client_id(request, None)
                return refused.response(path)
            except Exception:
                status = 500
                raise
            finally:
                self._record(start, agg.path, client, "GET", path, outcome, status, slug)

        return compose

    async def _part(self, request: Request, policy: _Policy, part: Part, params: dict,
                    headers: dict) -> tuple[bool, Any]:
        """(True, JSON body) or (False, a problem document as a dict, with ``slug``)."""
        path = part.path.format(**params)
        try:
            r = await self._call(request, policy, "GET", path, headers, b"")
        except Exception as exc:
            refused = self._failure(exc, policy)
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

    # ------------------------------------------------------------------ observing
    def _record(self, start: float, route: str, client: str, method: str, path: str, outcome: str,
                status: int, slug: str) -> None:
        now = self.clock.now()
        self._records.append((start - self._t0, route, client, method, path, outcome, status, slug, now - start))

    def metrics(self) -> pd.DataFrame:
        """One row per request the gateway saw.

        Columns: ``time`` (seconds since the gateway was made or reset),
        ``route`` (prefix or aggregation path), ``client``, ``method``,
        ``path``, ``outcome`` (admitted / throttled / rejected), ``status``
        (what the gateway answered), ``problem`` (the problem type slug when
        the gateway answered itself), ``latency`` (seconds).
        """
        return pd.DataFrame(list(self._records), columns=_METRIC_COLUMNS)

    def summary(self, by: str | Iterable[str] = ("route", "client")) -> pd.DataFrame:
        """Requests admitted, throttled and rejected per route and client (or ``by``).

        ``upstream_errors`` counts admitted requests answered with a 5xx
        (by the service, or by the gateway for a timeout or an open breaker).
        """
        keys = [by] if isinstance(by, str) else list(by)
        df = self.metrics()
        if df.empty:
            return pd.DataFrame(columns=[*keys, "requests", *OUTCOMES, "upstream_errors"])
        table = pd.crosstab([df[k] for k in keys], df["outcome"]).reindex(columns=list(OUTCOMES), fill_value=0)
        table.columns.name = None
        table.insert(0, "requests", table.sum(axis=1))
        errors = df[(df["outcome"] == "admitted") & (df["status"] >= 500)].groupby(keys).size()
        table["upstream_errors"] = errors.reindex(table.index, fill_value=0).astype(int)
        return table.reset_index()

    def reset_metrics(self) -> None:
        """Forget the recorded requests and restart the time axis (limits and breakers keep their state)."""
        self._records.clear()
        self._t0 = self.clock.now()

    def describe(self) -> pd.DataFrame:
        """The routes: prefix, service, auth, rate limit, timeout, breaker state, retry attempts."""
        rows = []
        for r in self.routes:
            limit = r.rate_limit if r.rate_limit is not None else self.rate_limit
            rows.append({
                "prefix": r.prefix, "service": r.service, "auth": bool(r.auth and self.auth is not None),
                "rate_limit": f"{limit.capacity} burst, {limit.refill_rate:g}/s" if limit else "",
                "timeout_s": r.timeout, "breaker": str(r.breaker.state) if r.breaker is not None else "",
                "retry_attempts": r.retry.policy.max_attempts if r.retry is not None else 1,
            })
        return pd.DataFrame(rows, columns=["prefix", "service", "auth", "rate_limit", "timeout_s", "breaker",
                                           "retry_attempts"])

    def __repr__(self) -> str:
        return f"<Gateway {self.name!r} routes={[r.prefix for r in self.routes]} auth={self.auth is not None}>"


def _relay(upstream: httpx.Response) -> Response:
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


def gateway_app(
    routes: Mapping[str, str] | Iterable[Route],
    *,
    discovery: Any = None,
    auth: TokenVerifier | None = None,
    rate_limit: RateLimit | None = None,
    **kwargs: Any,
):
    """A FastAPI app that is an API gateway (see :class:`Gateway` for every option).

    The :class:`Gateway` object, with its metrics, is ``app.state.gateway``.

    >>> app = gateway_app({"/catalog": "catalog", "/inventory": "inventory"})
    >>> [r.prefix for r in app.state.gateway.routes]
    ['/inventory', '/catalog']
    """
    return Gateway(routes, discovery=discovery, auth=auth, rate_limit=rate_limit, **kwargs).app
