"""JWT access tokens in the RFC 9068 profile, signed with the key ring's active key.

RFC 9068 fixes what an OAuth 2.0 access token in JWT form carries, so any
resource server can check it the same way:

- header ``typ: "at+jwt"`` (so an ID token or another JWT cannot be passed
  off as an access token) and ``kid`` (which key signed it);
- claims ``iss`` (the token service), ``sub`` (for client credentials: the
  client itself), ``aud`` (the resource server it is meant for), ``exp``,
  ``iat``, ``jti`` (a unique id), ``client_id`` and ``scope`` (space
  separated, as in RFC 6749 3.3).

>>> from labsvc.core.clock import FakeClock
>>> from labsvc.auth import KeyRing
>>> issuer = AccessTokenIssuer(KeyRing(clock=FakeClock(start=1_700_000_000)))
>>> token = issuer.issue("orders-svc", audience="inventory", scopes=["stock:read"])
>>> import jwt; jwt.get_unverified_header(token)["typ"]
'at+jwt'
>>> sorted(jwt.decode(token, options={"verify_signature": False}))
['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub']
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import jwt

from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.auth._keys import KeyRing

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AccessTokenIssuer", "ACCESS_TOKEN_TYPE", "ACCESS_TOKEN_CLAIMS", "DEFAULT_TOKEN_ISSUER",
           "DEFAULT_TOKEN_TTL", "scope_list", "token_anatomy", "TOKEN_PARTS"]

ACCESS_TOKEN_TYPE = "at+jwt"
#: The claims RFC 9068 section 2.2 makes required (``scope`` is added when scopes were granted).
ACCESS_TOKEN_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
DEFAULT_TOKEN_ISSUER = "http://auth.svc"
DEFAULT_TOKEN_TTL = 300.0  # seconds: service tokens are short-lived and cheap to renew


def scope_list(scope: str | Iterable[str] | None) -> list[str]:
    """``"a b"`` or ``["a", "b"]`` as a list of scope tokens (RFC 6749 3.3: space separated).

    >>> scope_list("stock:read  stock:write")
    ['stock:read', 'stock:write']
    """
    if scope is None:
        return []
    items = scope.split() if isinstance(scope, str) else list(scope)
    for item in items:
        if not isinstance(item, str) or not item or any(c in item for c in ' "\\') or not item.isprintable():
            raise ConfigurationError(f"scope {item!r} is not a scope token (printable, no spaces, quotes or backslashes)")
    return items


class AccessTokenIssuer:
    """Signs RFC 9068 access tokens with ``keys``' active key (RS256).

    ``issuer`` is the ``iss`` every token carries (the token service's URL)
    and ``ttl`` their lifetime in seconds; times come from the key ring's clock.
    """

    def __init__(self, keys: KeyRing, *, issuer: str = DEFAULT_TOKEN_ISSUER,
                 ttl: float | str = DEFAULT_TOKEN_TTL) -> None:
        if not isinstance(keys, KeyRing):
            raise ConfigurationError(f"keys must be a labsvc.auth.KeyRing, got {type(keys).__name__}")
        self.keys = keys
        self.issuer = issuer
        self.ttl = parse_duration(ttl, name="ttl")
        self.issued = 0

    @property
    def clock(self):
        return self.keys.clock

    def issue(self, client_id: str, *, audience: str, scopes: Iterable[str] = (),
              subject: str | None = None, extra: Mapping[str, Any] | None = None,
              header: Mapping[str, Any] | None = None) -> str:
        """An access token for ``client_id``, meant for ``audience``, granting ``scopes``.

        ``subject`` defaults to the client (client credentials: the client acts
        for itself, RFC 9068 2.2). ``extra`` adds claims and ``header`` changes
        header fields: for building the broken tokens a test wants.
        """
        if not client_id or not isinstance(client_id, str):
            raise ConfigurationError(f"client_id must be a non-empty string, got {client_id!r}")
        if not audience or not isinstance(audience, str):
            raise ConfigurationError(f"audience must name the resource server the token is for, got {audience!r}")
        now = int(self.clock.now())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject or client_id,
            "aud": audience,
            "exp": int(now + self.ttl),
            "iat": now,
            "jti": uuid.UUID(int=secrets.randbits(128), version=4).hex,
            "client_id": client_id,
        }
        granted = scope_list(list(scopes))
        if granted:
            claims["scope"] = " ".join(granted)
        claims.update(extra or {})
        key = self.keys.active
        headers = {"typ": ACCESS_TOKEN_TYPE, "kid": key.kid, **(header or {})}
        self.issued += 1
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)


#: What each part of an RFC 9068 access token says (header and claims).
TOKEN_PARTS = {
    ("header", "alg"): "signature algorithm (RS256: the token service's private RSA key)",
    ("header", "typ"): "at+jwt: an access token, so an ID token cannot pass for one (RFC 9068 2.1)",
    ("header", "kid"): "which of the token service's keys signed it (the key's thumbprint)",
    ("claims", "iss"): "who issued it: the token service",
    ("claims", "sub"): "whom it is about: with client credentials, the client itself",
    ("claims", "client_id"): "the client that asked for it",
    ("claims", "aud"): "the one resource server it is meant for",
    ("claims", "iat"): "when it was issued (Unix seconds)",
    ("claims", "exp"): "when it expires (Unix seconds)",
    ("claims", "jti"): "a unique id for this token",
    ("claims", "scope"): "what it grants, space separated",
}


def token_anatomy(token: str) -> "pd.DataFrame":
    """The header and claims of ``token``, decoded without verification, one row each with what it means.

    For looking only, never for deciding. Values that are new for every token
    (the key's thumbprint, the ``jti``, the times) are shown by their form
    and by how they relate (``exp`` as ``iat + lifetime``), so that the table
    reads the same on every run; every other value is shown as it is.
    """
    import pandas as pd

    from labsvc.auth.jwt_tokens import unverified

    header, claims = unverified(token)
    rows = []
    for part, items in (("header", header), ("claims", claims)):
        for name, value in items.items():
            if name in ("kid", "jti") and isinstance(value, str):
                shown = f"{len(value)} hex digits, new for every {'key' if name == 'kid' else 'token'}"
            elif name == "iat":
                shown = "the time of issue"
            elif name == "exp" and isinstance(claims.get("iat"), (int, float)):
                shown = f"iat + {value - claims['iat']:g} s"
            else:
                shown = value
            rows.append({"part": part, "name": name, "value": shown,
                         "meaning": TOKEN_PARTS.get((part, name), "")})
    return pd.DataFrame(rows, columns=["part", "name", "value", "meaning"])
