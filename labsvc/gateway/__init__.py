"""An API gateway: one entry point that routes, authenticates, limits and composes.

Clients see one URL (``http://gateway.svc``); the services behind it stay
private and can move, scale and fail without clients noticing. The gateway
is a labsvc service itself (a FastAPI app made with
:func:`~labsvc.core.service.create_service`), and forwards over the network with
:func:`~labsvc.core.service.http`, so the call log shows every ``gateway ->
service`` hop.

>>> from labsvc import Network
>>> from labsvc.shop.services import catalog_app
>>> net = Network(seed=1, name="gateway-doc")
>>> _ = net.add("catalog", catalog_app, instances=2)
>>> _ = net.add("gateway", gateway_app({"/catalog": "catalog"}))
>>> async def demo():                                             # doctest: +SKIP
...     async with net:
...         r = await net.client("web").get("http://gateway.svc/catalog/products/1")
...         return r.json()["name"], r.headers["x-upstream-instance"]

The modules, one idea each:

- :mod:`~labsvc.gateway.routes`: :class:`Route` (prefix -> service, with
  per-route timeout, breaker, retry), :class:`Aggregation` and :class:`Part`
  (backend for frontend), :func:`upstream_breaker`, :func:`upstream_retry`;
- :mod:`~labsvc.gateway.ratelimit`: :class:`TokenBucket`, :class:`RateLimit`,
  :class:`RateLimiter`;
- :mod:`~labsvc.gateway.app`: :class:`Gateway`, and the app factories
  :func:`create_app` (settings in, a fresh app out) and :func:`gateway_app`;
  its helpers are ``_upstream`` (policy, instance choice, the call, the
  relay), ``_problems`` (the answers the gateway makes itself) and
  ``_metrics`` (what it records per request);
- :mod:`~labsvc.gateway.echo`: :func:`echo_app`, an upstream that shows what
  it received;
- :mod:`~labsvc.gateway.lab`: notebook 09's experiments,
  :func:`shop_with_gateway` (the shop's services behind a gateway) and
  :func:`measure_paths` (what a hop costs); the old paths
  ``labsvc.gateway.demo`` and ``labsvc.gateway.overhead`` still work and warn;
- :mod:`~labsvc.gateway.plots`: :func:`plot_admissions`, :func:`plot_overhead`
  (import matplotlib on first use).

Authentication lives in :mod:`labsvc.auth` (:class:`~labsvc.auth.TokenIssuer`,
:class:`~labsvc.auth.TokenVerifier`).

Every answer the gateway makes itself is an RFC 9457 problem document:

====== ===================== ===============================================
status problem type (slug)   when
====== ===================== ===============================================
401    missing-token         no bearer token on a protected route
401    invalid-token         the token was refused (``reason`` says why)
429    rate-limited          the client's bucket is empty (``Retry-After``)
502    bad-gateway           the service cannot be reached
503    circuit-open          the route's breaker is open (``Retry-After``)
503    no-instance           discovery has no UP instance
504    upstream-timeout      the route's timeout ran out
====== ===================== ===============================================
"""

from __future__ import annotations

from labsvc.gateway.app import OUTCOMES, UPSTREAM_INSTANCE_HEADER, Gateway, NoInstanceAvailable, create_app, gateway_app
from labsvc.gateway.echo import echo_app
from labsvc.gateway.lab import measure_paths, shop_with_gateway
from labsvc.gateway.ratelimit import Decision, RateLimit, RateLimiter, TokenBucket, parse_rate
from labsvc.gateway.routes import ALL_METHODS, Aggregation, Part, Route, upstream_breaker, upstream_retry

__all__ = [  # noqa: F822 - the plots are imported lazily by __getattr__
    "Gateway",
    "gateway_app",
    "create_app",
    "Route",
    "Part",
    "Aggregation",
    "upstream_breaker",
    "upstream_retry",
    "TokenBucket",
    "RateLimit",
    "RateLimiter",
    "Decision",
    "parse_rate",
    "NoInstanceAvailable",
    "OUTCOMES",
    "UPSTREAM_INSTANCE_HEADER",
    "ALL_METHODS",
    "echo_app",
    "shop_with_gateway",
    "measure_paths",
    "plot_admissions",
    "plot_overhead",
    "admissions_over_time",
]


def __getattr__(name: str):
    # matplotlib is slow to import and most uses of the gateway never draw.
    if name in ("plot_admissions", "plot_overhead", "admissions_over_time"):
        from labsvc.gateway import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
