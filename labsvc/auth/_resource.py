"""The resource server's side: verify an RFC 9068 access token, then enforce scopes per route.

A service protects a route with a FastAPI dependency::

    resource = ResourceServer("inventory")               # the token's aud must be "inventory"
    @app.get("/stock/{sku}")
    async def stock(sku: str, claims: dict = Depends(resource.require("stock:read"))): ...

and answers, as RFC 6750 section 3.1 says:

- **401** ``invalid_token`` when the token is missing, malformed, signed with
  ``alg: none`` or another algorithm, not of type ``at+jwt``, signed by an
  unknown (or retired) key, badly signed, expired, or meant for another
  audience or issuer; the header is ``WWW-Authenticate: Bearer error="invalid_token"``;
- **403** ``insufficient_scope`` when the token is valid but lacks the
  route's scope; the header names the scope needed.

Both answers are RFC 9457 problem documents with a ``reason`` member (a key
of :data:`labsvc.auth.jwt_tokens.REASONS`, or ``insufficient_scope``).

Keys come from the token service's JWKS (``/.well-known/jwks.json``),
fetched over the network and cached by ``kid`` for ``jwks_max_age`` seconds
(on the server's clock). A token naming a ``kid`` not in the cache makes one
early re-fetch (at most one such fetch per ``min_refetch`` seconds, so a
flood of forged kids cannot turn into a flood of fetches): that is how a
freshly rotated key is found. A key retired at the token service disappears from the cache at
the next fetch, and its tokens are refused from then on. If a fetch fails
(the token service is down), the keys already cached stay in use; with no
key at all the answer is 503 ``keys_unavailable``, never a 401 that would
blame a token that may be valid.

Each key's signature and claims are checked by a
:class:`labsvc.auth.jwt_tokens.TokenVerifier` (PyJWT, on this server's clock).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt
import pandas as pd
from fastapi import Request

from labsvc.core.errors import ConfigurationError, LabsvcError
from labsvc.core.problems import Problem, problem_type
from labsvc.auth.jwt_tokens import TokenRejected, TokenVerifier, WallClock, www_authenticate
from labsvc.auth._keys import KeyRing
from labsvc.auth._tokens import ACCESS_TOKEN_TYPE, DEFAULT_TOKEN_ISSUER, scope_list

__all__ = ["ResourceServer", "KeysUnavailable", "DEFAULT_JWKS_URL", "DENIAL_COLUMNS"]

DEFAULT_JWKS_URL = "http://auth.svc/.well-known/jwks.json"
DENIAL_COLUMNS = ["time", "route", "status", "reason", "client_id"]
_TYPES = {ACCESS_TOKEN_TYPE, "application/" + ACCESS_TOKEN_TYPE}  # RFC 9068 2.1 allows both spellings

JwksSource = str | KeyRing | Callable[[], Awaitable[dict]]


class KeysUnavailable(LabsvcError):
    """The JWKS could not be fetched and no keys are cached: answered 503, not 401 (the token may be fine)."""


class ResourceServer:
    """Verifies access tokens meant for ``audience`` and issued by ``issuer``.

    ``jwks`` is where the keys come from: a URL fetched through the labsvc
    network from inside a request (default ``http://auth.svc/.well-known/jwks.json``),
    a :class:`~labsvc.auth.KeyRing` (the same process, for tests), or an
    async function returning a JWKS dict. ``clock`` (Unix seconds) decides
    ``exp`` and the cache's age; tests pass a :class:`labsvc.FakeClock`.
    """

    def __init__(self, audience: str, *, issuer: str = DEFAULT_TOKEN_ISSUER, jwks: JwksSource = DEFAULT_JWKS_URL,
                 clock: Any = None, jwks_max_age: float = 300.0, min_refetch: float = 5.0, leeway: float = 0.0) -> None:
        if not audience or not isinstance(audience, str):
            raise ConfigurationError(f"audience must name this resource server (the tokens' 'aud'), got {audience!r}")
        if not (isinstance(jwks, (str, KeyRing)) or callable(jwks)):
            raise ConfigurationError("jwks must be a URL, a labsvc.auth.KeyRing or an async function returning a JWKS")
        self.audience, self.issuer, self.jwks_source = audience, issuer, jwks
        self.clock = clock if clock is not None else WallClock()
        self.jwks_max_age, self.min_refetch, self.leeway = float(jwks_max_age), float(min_refetch), leeway
        self._verifiers: dict[str, TokenVerifier] = {}
        self._fetched_at: float | None = None
        self._forced_at: float | None = None
        self.fetches = 0
        self.fetch_failures = 0
        self._denials: list[tuple] = []
        self.accepted = 0

    # -- keys ------------------------------------------------------------------
    async def _fetch(self, request: Request | None) -> dict:
        source = self.jwks_source
        if isinstance(source, KeyRing):
            return source.jwks()
        if isinstance(source, str):
            if request is None:
                raise ConfigurationError("fetching the JWKS by URL needs the request (to call through the network)")
            from labsvc.core.service import http

            response = await http(request).get(source)
            response.raise_for_status()
            return response.json()
        result = source()
        return await result if inspect.isawaitable(result) else result

    async def refresh_keys(self, request: Request | None = None) -> list[str]:
        """Fetch the JWKS now and keep exactly its keys; returns the kids known afterwards."""
        document = await self._fetch(request)
        self.fetches += 1
        self._fetched_at = self.clock.now()
        keys = jwt.PyJWKSet.from_dict(document).keys
        fresh: dict[str, TokenVerifier] = {}
        for key in keys:
            if key.key_id is None or key.algorithm_name != "RS256":
                continue
            known = self._verifiers.get(key.key_id)
            fresh[key.key_id] = known or TokenVerifier(
                key.key, algorithms=["RS256"], issuer=self.issuer, audience=self.audience,
                require=("exp", "iss", "aud", "sub", "iat", "jti"), clock=self.clock, leeway=self.leeway)
        self._verifiers = fresh
        return list(fresh)

    @property
    def kids(self) -> list[str]:
        """The key ids this server trusts now (from its last JWKS fetch)."""
        return list(self._verifiers)

    async def _verifier(self, kid: str, request: Request | None) -> TokenVerifier | None:
        now = self.clock.now()
        if self._fetched_at is None or now - self._fetched_at >= self.jwks_max_age:
            await self._refresh_or_keep(request)
        elif kid not in self._verifiers and (self._forced_at is None or now - self._forced_at >= self.min_refetch):
            self._forced_at = now  # at most one early fetch per min_refetch seconds
            await self._refresh_or_keep(request)
        return self._verifiers.get(kid)

    async def _refresh_or_keep(self, request: Request | None) -> None:
        try:
            await self.refresh_keys(request)
        except (httpx.HTTPError, LabsvcError, ValueError, KeyError) as exc:
            self.fetch_failures += 1
            if not self._verifiers:
                raise KeysUnavailable(f"the token service's keys could not be fetched from {self.jwks_source!r} "
                                      f"({type(exc).__name__}: {exc}); no token can be verified until they can") from None
            # Keep the keys we have: a token service outage must not turn valid tokens away. Try again in
            # min_refetch seconds, not on every request.
            self._fetched_at = self.clock.now() - self.jwks_max_age + self.min_refetch

    # -- verifying ---------------------------------------------------------------
    async def verify(self, authorization: str | None, request: Request | None = None) -> dict:
        """The claims of the bearer token in ``authorization``, or :class:`TokenRejected`."""
        if not authorization:
            raise TokenRejected("missing_token", "send 'Authorization: Bearer <access token>'")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TokenRejected("malformed", f"the Authorization header must be 'Bearer <token>', got scheme {scheme!r}")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected("malformed", f"the token cannot be decoded: {exc}") from None
        alg = header.get("alg")
        if alg != "RS256":
            raise TokenRejected("alg_not_allowed", f"the token says alg={alg!r}; this service accepts RS256 only")
        if str(header.get("typ", "")).lower() not in _TYPES:
            raise TokenRejected("wrong_type", f"the token's typ is {header.get('typ')!r}, not {ACCESS_TOKEN_TYPE!r}: "
                                              f"it is not an access token (RFC 9068 4)")
        kid = header.get("kid")
        verifier = await self._verifier(kid, request) if isinstance(kid, str) else None
        if verifier is None:
            raise TokenRejected("unknown_key", f"kid={kid!r} is not among the token service's published keys "
                                               f"{self.kids}: never issued, or retired")
        claims = verifier.verify(token)
        if not claims.get("client_id"):
            raise TokenRejected("missing_claim", "the token has no 'client_id' claim, which RFC 9068 requires")
        return claims

    def require(self, *scopes: str) -> Callable[[Request], Awaitable[dict]]:
        """A FastAPI dependency: the request's token must be valid and grant every one of ``scopes``.

        It returns the verified claims; a refusal is a 401 or 403 problem
        document, recorded in :attr:`denials`.
        """
        needed = scope_list(list(scopes))

        async def dependency(request: Request) -> dict:
            route = getattr(request.scope.get("route"), "path", request.url.path)
            try:
                claims = await self.verify(request.headers.get("authorization"), request)
            except KeysUnavailable as exc:
                self._deny(route, 503, "keys_unavailable", None)
                raise Problem(503, "Cannot verify tokens", type=problem_type("keys-unavailable"), detail=str(exc),
                              reason="keys_unavailable", headers={"Retry-After": "1"}) from None
            except TokenRejected as exc:
                self._deny(route, 401, exc.reason, None)
                missing = exc.reason == "missing_token"
                raise Problem(401, "Authentication required" if missing else "Invalid token",
                              type=problem_type("missing-token" if missing else "invalid-token"), detail=exc.detail,
                              reason=exc.reason, headers={"WWW-Authenticate": www_authenticate(exc, realm=self.audience)}
                              ) from None
            granted = set(scope_list(claims.get("scope", "")))
            lacking = [s for s in needed if s not in granted]
            if lacking:
                self._deny(route, 403, "insufficient_scope", claims.get("client_id"))
                scope = " ".join(needed)
                raise Problem(403, "Insufficient scope", type=problem_type("insufficient-scope"),
                              detail=f"{request.method} {route} needs scope {' '.join(lacking)!r}; the token of "
                                     f"{claims.get('client_id')!r} grants {sorted(granted)}",
                              reason="insufficient_scope", required_scope=scope,
                              headers={"WWW-Authenticate": f'Bearer realm="{self.audience}", '
                                                           f'error="insufficient_scope", scope="{scope}"'})
            self.accepted += 1
            request.state.access_token_claims = claims
            return claims

        dependency.scopes = tuple(needed)  # type: ignore[attr-defined]
        return dependency

    def _deny(self, route: str, status: int, reason: str, client_id: str | None) -> None:
        self._denials.append((self.clock.now(), route, status, reason, client_id))

    @property
    def denials(self) -> pd.DataFrame:
        """Every refused request: time, route, status (401/403), reason, client_id."""
        return pd.DataFrame(self._denials, columns=DENIAL_COLUMNS)

    def __repr__(self) -> str:
        return f"ResourceServer(audience={self.audience!r}, issuer={self.issuer!r}, kids={self.kids})"
