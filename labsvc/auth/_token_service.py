"""The token service: OAuth 2.0 client credentials (RFC 6749 4.4) over HTTP.

A service that calls another one first asks the token service for an access
token, authenticating itself with its client id and secret (HTTP Basic,
RFC 6749 2.3.1):

======  =========================  ==========================================================
method  path                       what it does
======  =========================  ==========================================================
POST    /oauth2/token              ``grant_type=client_credentials`` (form), optional ``scope``
                                   and ``resource`` (RFC 8707; ``audience`` is accepted too)
GET     /.well-known/jwks.json     the public keys (JWKS) resource servers verify tokens with
GET     /keys                      the key ring: kid, state, created, retire_at (admin)
POST    /keys/rotate               a new key signs; ``{"retire_after": s}`` retires the old (admin)
POST    /keys/{kid}/retire         take a verify-only key out of the JWKS now (admin)
======  =========================  ==========================================================

Token errors follow RFC 6749 5.2 (``error`` is ``invalid_request``,
``invalid_client``, ``unauthorized_client``, ``unsupported_grant_type`` or
``invalid_scope``; ``invalid_target`` from RFC 8707) and are also RFC 9457
problem documents: the members ``error`` and ``error_description`` sit
beside ``type``, ``title`` and ``status``. ``invalid_client`` is a 401 with
``WWW-Authenticate: Basic``. The admin routes need the Basic credentials of
a client holding the ``auth:admin`` scope.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request

from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import Problem, problem_type
from labsvc.auth._keys import KeyRing
from labsvc.auth._tokens import DEFAULT_TOKEN_ISSUER, DEFAULT_TOKEN_TTL, AccessTokenIssuer, scope_list

__all__ = ["OAuthClient", "token_service", "basic_auth", "TOKEN_ERRORS", "ADMIN_SCOPE"]

ADMIN_SCOPE = "auth:admin"
#: RFC 6749 5.2 (and RFC 8707 2) error codes -> HTTP status.
TOKEN_ERRORS = {
    "invalid_request": 400,
    "invalid_client": 401,
    "invalid_grant": 400,
    "unauthorized_client": 400,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
    "invalid_target": 400,
}


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass
class OAuthClient:
    """A registered client: its id, its secret, the scopes and audiences it may ask for.

    Only a hash of the secret is kept. ``scopes`` are what the client may be
    granted; asking for others is ``invalid_scope``. ``audiences`` are the
    resource servers it may get tokens for (the first is the default).
    """

    client_id: str
    secret: str = field(repr=False)
    scopes: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.client_id or ":" in self.client_id:
            raise ConfigurationError(f"client_id={self.client_id!r} must be non-empty and without ':' (HTTP Basic)")
        if len(self.secret) < 16:
            raise ConfigurationError(f"client {self.client_id!r}: a client secret needs at least 16 characters")
        if not self.audiences:
            raise ConfigurationError(f"client {self.client_id!r} needs at least one audience it may call")
        self.scopes = tuple(scope_list(list(self.scopes)))
        self.audiences = tuple(self.audiences)
        self._hash = _digest(self.secret)
        self.secret = ""  # keep the hash only

    def authenticates(self, secret: str) -> bool:
        """Whether ``secret`` is this client's (compared in constant time)."""
        return hmac.compare_digest(self._hash, _digest(secret))


def _token_error(error: str, description: str) -> Problem:
    status = TOKEN_ERRORS[error]
    headers = {"Cache-Control": "no-store"}
    if error == "invalid_client":
        headers["WWW-Authenticate"] = 'Basic realm="token"'
    return Problem(status, error.replace("_", " ").capitalize(), type=problem_type(f"oauth-{error.replace('_', '-')}"),
                   detail=description, error=error, error_description=description, headers=headers)


def _basic(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise _token_error("invalid_client", "authenticate with HTTP Basic: 'Authorization: Basic "
                                             "base64(client_id:client_secret)' (RFC 6749 2.3.1)")
    try:
        client_id, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise _token_error("invalid_client", "the Basic credentials are not base64 of 'client_id:client_secret'") from None
    if not sep:
        raise _token_error("invalid_client", "the Basic credentials have no ':' between client id and secret")
    return client_id, secret


def token_service(clients: Iterable[OAuthClient], *, keys: KeyRing | None = None,
                  issuer: str = DEFAULT_TOKEN_ISSUER, ttl: float | str = DEFAULT_TOKEN_TTL,
                  name: str = "auth") -> FastAPI:
    """A FastAPI token service for ``clients`` signing with ``keys`` (a new :class:`KeyRing` if None).

    ``app.state.keys`` and ``app.state.issuer`` give in-process code (and
    tests) the key ring and the :class:`~labsvc.auth.AccessTokenIssuer`.
    """
    from labsvc.core.service import create_service

    registry = {c.client_id: c for c in clients}
    if not registry:
        raise ConfigurationError("a token service needs at least one OAuthClient")
    ring = keys if keys is not None else KeyRing()
    signer = AccessTokenIssuer(ring, issuer=issuer, ttl=ttl)
    app = create_service(name, title="token service", description="OAuth 2.0 client credentials, JWT access tokens")
    app.state.keys, app.state.issuer, app.state.clients = ring, signer, registry

    def authenticate(request: Request) -> OAuthClient:
        client_id, secret = _basic(request)
        client = registry.get(client_id)
        if client is None or not client.authenticates(secret):
            raise _token_error("invalid_client", f"client {client_id!r} is unknown or its secret is wrong")
        return client

    def admin(request: Request) -> None:
        if ADMIN_SCOPE not in authenticate(request).scopes:
            raise Problem(403, "Forbidden", type=problem_type("not-admin"),
                          detail=f"the key routes need a client holding the {ADMIN_SCOPE!r} scope")

    @app.post("/oauth2/token", tags=["oauth2"], summary="Client credentials grant (RFC 6749 4.4)")
    async def token(request: Request) -> Any:
        from starlette.responses import JSONResponse

        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            raise _token_error("invalid_request", "send the parameters as application/x-www-form-urlencoded (RFC 6749 4.4.2)")
        form = parse_qs((await request.body()).decode("latin-1"), keep_blank_values=True)
        repeated = [k for k, v in form.items() if len(v) > 1]
        if repeated:
            raise _token_error("invalid_request", f"parameters must not repeat: {repeated}")
        params = {k: v[0] for k, v in form.items()}
        client = authenticate(request)
        grant = params.get("grant_type")
        if not grant:
            raise _token_error("invalid_request", "grant_type is missing; use grant_type=client_credentials")
        if grant != "client_credentials":
            raise _token_error("unsupported_grant_type",
                               f"grant_type={grant!r} is not supported here; this service speaks client_credentials only")
        try:
            asked = scope_list(params["scope"]) if "scope" in params else list(client.scopes)
        except ConfigurationError as exc:
            raise _token_error("invalid_scope", str(exc)) from None
        refused = [s for s in asked if s not in client.scopes]
        if refused:
            raise _token_error("invalid_scope", f"client {client.client_id!r} may not have {refused}; "
                                                f"it may ask for {list(client.scopes)}")
        audience = params.get("resource") or params.get("audience") or client.audiences[0]
        if audience not in client.audiences:
            raise _token_error("invalid_target", f"client {client.client_id!r} may not get tokens for {audience!r}; "
                                                 f"its audiences are {list(client.audiences)}")
        access_token = signer.issue(client.client_id, audience=audience, scopes=asked)
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": int(signer.ttl)}
        if asked:
            body["scope"] = " ".join(asked)
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @app.get("/.well-known/jwks.json", tags=["oauth2"], summary="Public keys of the token service (RFC 7517)")
    async def jwks() -> dict:
        return ring.jwks()

    @app.get("/keys", tags=["keys"], summary="The key ring (admin)")
    async def keys_table(request: Request) -> list[dict]:
        admin(request)
        table = ring.table().astype(object)
        return table.where(table.notna(), None).to_dict("records")

    @app.post("/keys/rotate", tags=["keys"], summary="A new key signs; the old one verifies until retired (admin)")
    async def rotate(request: Request) -> dict:
        admin(request)
        body = await request.json() if await request.body() else {}
        retire_after = body.get("retire_after") if isinstance(body, dict) else None
        old = ring.active_kid
        try:
            new = ring.rotate(retire_after=retire_after)
        except (TypeError, ValueError) as exc:
            raise Problem(422, "Invalid argument", type=problem_type("invalid-argument"), detail=str(exc)) from None
        return {"active": new, "verify_only": old}

    @app.post("/keys/{kid}/retire", tags=["keys"], summary="Take a verify-only key out of the JWKS (admin)")
    async def retire(kid: str, request: Request) -> dict:
        admin(request)
        try:
            ring.retire(kid)
        except ConfigurationError as exc:
            raise Problem(409 if "active" in str(exc) else 404, type=problem_type("key-state"), detail=str(exc)) from None
        return {"retired": kid}

    return app


def basic_auth(client_id: str, secret: str) -> str:
    """The ``Authorization`` header value for HTTP Basic client authentication.

    >>> basic_auth("orders", "s3cret")
    'Basic b3JkZXJzOnMzY3JldA=='
    """
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()

