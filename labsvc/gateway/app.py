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

This module holds :class:`Gateway` (admission, the endpoints, the route
table) and the factories :func:`create_app` and :func:`gateway_app`; three
private modules hold the rest: ``_upstream`` (the per-route policy, instance
choice and the call itself, relaying the answer), ``_problems`` (the
problem documents the gateway answers itself) and ``_metrics`` (the
per-request records and their tables).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from labsvc.auth import TokenRejected, TokenVerifier, www_authenticate
from labsvc.core.client import DEFAULT_TIMEOUT
from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError
from labsvc.core.service import create_service
from labsvc.gateway._metrics import OUTCOMES, Recorder
from labsvc.gateway._problems import NoInstanceAvailable, Refused, upstream_failure
from labsvc.gateway._upstream import HOP_BY_HOP, UPSTREAM_INSTANCE_HEADER, Policy, Upstreams, relay
from labsvc.gateway.ratelimit import RateLimit, RateLimiter
from labsvc.gateway.routes import Aggregation, Part, Route, as_routes

__all__ = ["Gateway", "gateway_app", "create_app", "NoInstanceAvailable", "OUTCOMES", "UPSTREAM_INSTANCE_HEADER"]


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
        A :class:`~labsvc.auth.jwt_tokens.TokenVerifier`; routes with ``auth=True``
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
        self.routes = as_routes(routes)
        self.aggregations = list(aggregations)
        for agg in self.aggregations:
            if not isinstance(agg, Aggregation):
                raise ConfigurationError(f"aggregations must be Aggregation objects, got {agg!r}")
        if auth is not None and not isinstance(auth, TokenVerifier):
            raise ConfigurationError("auth must be a labsvc.auth.jwt_tokens.TokenVerifier (e.g. issuer.verifier())")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise ConfigurationError("rate_limit must be a RateLimit(capacity=..., refill_rate=...)")
        if discovery is not None and not (callable(getattr(discovery, "lookup", None))
                                          or callable(getattr(discovery, "alookup", None))):
            raise ConfigurationError("discovery must be a ServiceRegistry or a DiscoveryClient (anything with lookup())")
        self.auth = auth
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.forward_claims = dict({"sub": "x-user"} if forward_claims is None else forward_claims)
        self.api_key_header = api_key_header.lower()
        self.api_keys = dict(api_keys) if api_keys is not None else None
        self.name = name
        self._upstreams = Upstreams(discovery=discovery, balancer=balancer, timeout=timeout, clock=self.clock,
                                    seed=seed, retry_other_instance=bool(retry_other_instance))
        self._limiters: dict[int, RateLimiter] = {}
        self.rate_limit = rate_limit
        self.limiter = self._limiter(rate_limit)
        self._policies = {r.prefix: self._policy(r) for r in self.routes}
        self._strip = {h.lower() for h in self.forward_claims.values()} | HOP_BY_HOP
        self._recorder = Recorder(self.clock, max_records)
        self.app = self._build_app()

    # The upstream settings live in self._upstreams; these properties read and change them there.
    @property
    def discovery(self) -> Any:
        """The registry or discovery client instances are looked up in (None: the network's balancer)."""
        return self._upstreams.discovery

    @discovery.setter
    def discovery(self, value: Any) -> None:
        self._upstreams.discovery = value

    @property
    def timeout(self) -> float | None:
        """The timeout of a route or part that sets none (seconds)."""
        return self._upstreams.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self._upstreams.timeout = value

    @property
    def retry_other_instance(self) -> bool:
        """Whether a retry goes to an instance the request has not tried yet (with discovery)."""
        return self._upstreams.retry_other_instance

    @retry_other_instance.setter
    def retry_other_instance(self, value: bool) -> None:
        self._upstreams.retry_other_instance = bool(value)

    # ------------------------------------------------------------------ set-up
    def _limiter(self, limit: RateLimit | None) -> RateLimiter | None:
        if limit is None:
            return None
        if id(limit) not in self._limiters:
            self._limiters[id(limit)] = RateLimiter(limit, clock=self.clock)
        return self._limiters[id(limit)]

    def _policy(self, route: Route, timeout: float | None = None) -> Policy:
        return Policy(route.service, timeout or route.timeout, route.breaker, route.retry, route.retry_methods,
                      self.clock)

    def _part_policy(self, part: Part) -> Policy:
        for route in self.routes:
            if route.service == part.service:  # share the route's breaker and retry
                return self._policy(route, part.timeout)
        return Policy(part.service, part.timeout, None, None, (), self.clock)

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
            raise Refused(
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
                raise Refused(
                    "throttled", 429, "rate-limited", "Too many requests",
                    f"client {client!r} used its burst of {limit_.capacity} and refills "
                    f"{limit_.refill_rate:g} requests per second; {when}",
                    headers={"Retry-After": decision.retry_after_header}, client=client,
                    retry_after=None if never else round(decision.retry_after, 6),
                )
        return client

    # ------------------------------------------------------------------ forwarding
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
                    upstream = await self._upstreams.call(request, policy, scope["method"], path, headers, body)
                except Exception as exc:  # mapped to 502/503/504, or re-raised (500)
                    raise upstream_failure(exc, policy.service, policy.timeout) from None
                response = relay(upstream)
                status = response.status_code
                return response
            except Refused as refused:
                outcome, status, slug = refused.outcome, refused.status, refused.slug
                client = client or refused.ext.get("client") or self.client_id(request, None)
                return refused.response(scope["path"])
            except Exception:
                status = 500
                raise
            finally:
                self._recorder.record(start, route.prefix, client, scope["method"], scope["path"], outcome, status,
                                      slug)

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
                    self._upstreams.part(request, policies[name], part, params, headers)
                    for name, part in agg.parts.items()
                ))
                body: dict[str, Any] = {}
                missing, errors = [], {}
                for (name, part), (ok, value) in zip(agg.parts.items(), results):
                    if ok:
                        body[name] = value
                        continue
                    if not part.optional:
                        raise Refused("admitted", value["status"], value.get("slug", "aggregation-failed"),
                                      value.get("title", "Part failed"),
                                      f"required part {name!r} ({part.service} GET {part.path.format(**params)}) failed: "
                                      f"{value.get('detail', '')}", part=name)
                    body[name] = part.fallback
                    missing.append(name)
                    errors[name] = {k: value[k] for k in ("status", "title", "detail") if k in value}
                body.update(partial=bool(missing), missing=missing, errors=errors)
                status = 200
                return JSONResponse(body)
            except Refused as refused:
                outcome, status, slug = refused.outcome, refused.status, refused.slug
                client = client or refused.ext.get("client") or self.client_id(request, None)
                return refused.response(path)
            except Exception:
                status = 500
                raise
            finally:
                self._recorder.record(start, agg.path, client, "GET", path, outcome, status, slug)

        return compose

    # ------------------------------------------------------------------ observing
    def metrics(self) -> pd.DataFrame:
        """One row per request the gateway saw.

        Columns: ``time`` (seconds since the gateway was made or reset),
        ``route`` (prefix or aggregation path), ``client``, ``method``,
        ``path``, ``outcome`` (admitted / throttled / rejected), ``status``
        (what the gateway answered), ``problem`` (the problem type slug when
        the gateway answered itself), ``latency`` (seconds).
        """
        return self._recorder.frame()

    def summary(self, by: str | Iterable[str] = ("route", "client")) -> pd.DataFrame:
        """Requests admitted, throttled and rejected per route and client (or ``by``).

        ``upstream_errors`` counts admitted requests answered with a 5xx
        (by the service, or by the gateway for a timeout or an open breaker).
        """
        return self._recorder.summary(by)

    def reset_metrics(self) -> None:
        """Forget the recorded requests and restart the time axis (limits and breakers keep their state)."""
        self._recorder.reset()

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
    return create_app({"routes": routes, "discovery": discovery, "auth": auth, "rate_limit": rate_limit, **kwargs})


def create_app(settings: Mapping[str, Any] | None = None):
    """A FastAPI app that is an API gateway, new on every call (its own limiters and metrics).

    ``settings`` holds :class:`Gateway`'s options, ``routes`` among them
    (``{"routes": {"/catalog": "catalog"}, "rate_limit": RateLimit(10, 5)}``).
    Without ``routes`` the gateway has none and answers only
    ``GET /gateway/routes``; so there is no module-level ``app``. The
    :class:`Gateway` object is ``app.state.gateway``.

    >>> create_app({"routes": {"/catalog": "catalog"}}).state.gateway.routes[0].service
    'catalog'
    """
    options = dict(settings or {})
    routes = options.pop("routes", {})
    return Gateway(routes, **options).app
