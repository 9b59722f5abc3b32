"""What the gateway forwards where, and how it protects each upstream.

A :class:`Route` maps a path prefix at the edge to a service behind it:
``Route("/catalog", "catalog")`` sends ``GET /catalog/products/1`` to
``GET http://catalog.svc/products/1`` (the prefix is stripped, as Spring
Cloud Gateway's ``StripPrefix`` filter does). Each route may carry its own
resilience policy, applied from the outside in as resilience4j orders them:

    retry( circuit breaker( timeout( call ) ) )

- ``timeout``: how long one attempt may take (504 when it runs out);
- ``breaker``: a :class:`~labsvc.resilience.CircuitBreaker`; while it is
  open the gateway answers 503 at once without calling the service;
- ``retry``: a :class:`~labsvc.resilience.Retry`, used only for idempotent
  methods (``retry_methods``, GET/HEAD/OPTIONS by default): retrying a
  POST could place an order twice.

:func:`upstream_breaker` and :func:`upstream_retry` build a breaker and a
retry with the settings a gateway wants (5xx answers count as failures; an
open breaker is never retried).

An :class:`Aggregation` is one edge endpoint that calls several services
concurrently and returns one document (the API composition / backend for
frontend pattern); each :class:`Part` may be optional, so the page is still
served, marked ``partial``, when that part fails.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from labsvc.core.clock import Clock
from labsvc.core.durations import positive_seconds
from labsvc.core.errors import ConfigurationError
from labsvc.resilience import CircuitBreaker, Retry, RetryBudget, is_server_error
from labsvc.gateway.ratelimit import RateLimit

__all__ = ["Route", "Part", "Aggregation", "upstream_breaker", "upstream_retry", "RESERVED_PATHS", "ALL_METHODS"]

ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
IDEMPOTENT_METHODS = ("GET", "HEAD", "OPTIONS")
RESERVED_PATHS = ("/health", "/ready", "/docs", "/openapi.json", "/redoc", "/gateway")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_SERVICE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$")


def _seconds(value: Any, name: str) -> float | None:
    return None if value is None else positive_seconds(value, name)


def _service(name: Any) -> str:
    if not isinstance(name, str) or not _SERVICE.match(name):
        raise ConfigurationError(
            f"service={name!r} is not a service name; use the name the service has on the network, e.g. 'catalog'"
        )
    return name


@dataclass(frozen=True)
class Route:
    """Forward requests under ``prefix`` to ``service``.

    ``auth=False`` makes the route public (no token needed, even when the
    gateway authenticates); ``rate_limit`` replaces the gateway-wide limit
    on this route; ``methods`` limits what may pass (others get 405).

    >>> Route("/catalog", "catalog", timeout="200ms").timeout
    0.2
    """

    prefix: str
    service: str
    timeout: float | str | None = None
    breaker: CircuitBreaker | None = None
    retry: Retry | None = None
    retry_methods: tuple[str, ...] = IDEMPOTENT_METHODS
    auth: bool = True
    rate_limit: RateLimit | None = None
    strip_prefix: bool = True
    methods: tuple[str, ...] = ALL_METHODS

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not _PREFIX.match(self.prefix):
            raise ConfigurationError(
                f"prefix={self.prefix!r} must start with '/' and contain path segments only, without a "
                f"trailing slash, e.g. '/catalog' or '/api/orders'"
            )
        for reserved in RESERVED_PATHS:
            if self.prefix == reserved or self.prefix.startswith(reserved + "/"):
                raise ConfigurationError(f"prefix={self.prefix!r} is taken by the gateway itself ({reserved}); pick another")
        _service(self.service)
        object.__setattr__(self, "timeout", _seconds(self.timeout, "timeout"))
        if self.breaker is not None and not isinstance(self.breaker, CircuitBreaker):
            raise ConfigurationError("breaker must be a labsvc.resilience.CircuitBreaker (see upstream_breaker())")
        if self.retry is not None and not isinstance(self.retry, Retry):
            raise ConfigurationError("retry must be a labsvc.resilience.Retry (see upstream_retry())")
        if self.rate_limit is not None and not isinstance(self.rate_limit, RateLimit):
            raise ConfigurationError("rate_limit must be a labsvc.gateway.RateLimit(capacity=..., refill_rate=...)")
        for name in ("methods", "retry_methods"):
            value = tuple(m.upper() for m in getattr(self, name))
            bad = set(value) - set(ALL_METHODS)
            if bad:
                raise ConfigurationError(f"{name} has unknown HTTP methods {sorted(bad)}; use some of {ALL_METHODS}")
            object.__setattr__(self, name, value)

    def upstream_path(self, raw_path: str) -> str:
        """The path the service sees for ``raw_path`` at the edge.

        >>> Route("/catalog", "catalog").upstream_path("/catalog/products/1")
        '/products/1'
        """
        if not self.strip_prefix:
            return raw_path
        rest = raw_path[len(self.prefix):]
        return rest if rest.startswith("/") else "/" + rest


@dataclass(frozen=True)
class Part:
    """One call of an :class:`Aggregation`: ``GET http://<service>.svc<path>``.

    ``path`` may use the aggregation's path parameters, e.g.
    ``"/stock/{product_id}"``. An ``optional`` part that fails leaves
    ``fallback`` in its place and marks the answer partial; a required one
    that fails fails the whole answer. ``timeout`` replaces the route's.
    """

    service: str
    path: str
    optional: bool = False
    fallback: Any = None
    timeout: float | str | None = None

    def __post_init__(self) -> None:
        _service(self.service)
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise ConfigurationError(f"path={self.path!r} must start with '/', e.g. '/stock/{{product_id}}'")
        object.__setattr__(self, "timeout", _seconds(self.timeout, "timeout"))

    @property
    def parameters(self) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(self.path) if f}


@dataclass(frozen=True)
class Aggregation:
    """An edge endpoint composed from several services, called concurrently.

    >>> page = Aggregation("/pages/products/{product_id}", {
    ...     "product": Part("catalog", "/products/{product_id}"),
    ...     "stock": Part("inventory", "/stock/{product_id}"),
    ...     "reviews": Part("reviews", "/reviews/{product_id}", optional=True, fallback=[]),
    ... })
    >>> sorted(page.parts)
    ['product', 'reviews', 'stock']

    The answer is a JSON object with one member per part, plus ``partial``
    (true when an optional part failed), ``missing`` (their names) and
    ``errors`` (what each failure was).
    """

    path: str
    parts: Mapping[str, Part] = field(default_factory=dict)
    auth: bool = True
    rate_limit: RateLimit | None = None

    def __post_init__(self) -> None:
        template = re.sub(r"\{[A-Za-z_][A-Za-z0-9_]*\}", "x", self.path) if isinstance(self.path, str) else ""
        if not _PREFIX.match(template):
            raise ConfigurationError(f"path={self.path!r} must look like '/pages/products/{{product_id}}'")
        for reserved in RESERVED_PATHS:
            if self.path == reserved or self.path.startswith(reserved + "/"):
                raise ConfigurationError(f"path={self.path!r} is taken by the gateway itself ({reserved})")
        if not self.parts:
            raise ConfigurationError("an aggregation needs at least one Part")
        reserved_names = {"partial", "missing", "errors"}
        params = set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", self.path))
        for name, part in self.parts.items():
            if name in reserved_names:
                raise ConfigurationError(f"part name {name!r} is reserved for the answer's own fields")
            if not isinstance(part, Part):
                raise ConfigurationError(f"part {name!r} must be a Part(service, path), got {type(part).__name__}")
            unknown = part.parameters - params
            if unknown:
                raise ConfigurationError(
                    f"part {name!r} uses {sorted(unknown)}, which {self.path!r} does not define; it has {sorted(params)}"
                )
        object.__setattr__(self, "parts", dict(self.parts))


def upstream_breaker(name: str, *, clock: Clock | None = None, **settings: Any) -> CircuitBreaker:
    """A circuit breaker for a gateway route: 5xx answers and transport errors count as failures.

    Defaults suit a short notebook run (window of 10 calls, opens at 50 %
    failures once 5 calls are in, waits 5 s before a trial); any
    :class:`~labsvc.resilience.CircuitBreakerConfig` field overrides them.
    """
    settings.setdefault("sliding_window_size", 10)
    settings.setdefault("minimum_number_of_calls", 5)
    settings.setdefault("wait_duration_in_open_state", 5.0)
    settings.setdefault("permitted_number_of_calls_in_half_open_state", 2)
    settings.setdefault("record_result", is_server_error)
    return CircuitBreaker(name, clock=clock, **settings)


def _retryable(exc: BaseException) -> bool:
    # Transport failures and timeouts may pass on another attempt (another
    # instance, a moment later); an open breaker will not, so it is final.
    return isinstance(exc, (httpx.TransportError, TimeoutError))


def upstream_retry(max_attempts: int = 3, *, base: float | str = "10ms", cap: float | str = "200ms",
                   jitter: str = "full", budget: RetryBudget | None = None, clock: Clock | None = None,
                   seed: int | None = 0, retry_server_errors: bool = True) -> Retry:
    """A retry for a gateway route: transport errors and timeouts, and 5xx answers unless told not to.

    Never retries an open breaker (:class:`~labsvc.resilience.CallNotPermitted`).
    """
    return Retry(max_attempts=max_attempts, base=base, cap=cap, jitter=jitter, retry_on=_retryable,
                 retry_on_result=is_server_error if retry_server_errors else None, budget=budget,
                 clock=clock, seed=seed)


def as_routes(routes: Mapping[str, str] | Iterable[Route]) -> list[Route]:
    """Routes from ``{"/catalog": "catalog"}`` or a list of :class:`Route`; longest prefix first."""
    if isinstance(routes, Mapping):
        items = [Route(prefix, service) for prefix, service in routes.items()]
    else:
        items = list(routes)
        for r in items:
            if not isinstance(r, Route):
                raise ConfigurationError(f"routes must be Route objects or a dict prefix -> service, got {r!r}")
    seen: set[str] = set()
    for r in items:
        if r.prefix in seen:
            raise ConfigurationError(f"two routes share the prefix {r.prefix!r}; give each route its own prefix")
        seen.add(r.prefix)
    # The most specific prefix wins, as in every gateway: /api/orders before /api.
    return sorted(items, key=lambda r: -len(r.prefix))
