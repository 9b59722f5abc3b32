"""JWTs read without checking, and JWTs built by hand: what an attacker can do with a token.

- :func:`unverified` shows a token's header and claims without checking
  anything (for looking, never for deciding);
- :func:`unsigned_token` builds an ``alg: none`` token, an attacker's first try;
- :func:`hs256_token` signs with any bytes as the HMAC secret, which forges the
  algorithm-confusion token (the issuer's public RSA key used as the secret).

Notebooks and tests use them to show that a verifier refuses such tokens;
they are public through :mod:`labsvc.auth.jwt_tokens`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import jwt

from labsvc.auth._jwt_reasons import TokenRejected

__all__ = ["unverified", "unsigned_token", "hs256_token"]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(obj: Any) -> str:
    return _b64url(json.dumps(obj, separators=(",", ":")).encode())


def unverified(token: str) -> tuple[dict, dict]:
    """The header and claims of ``token`` *without* checking anything.

    For looking, never for deciding: anyone can write anything into a JWT
    that is not verified.

    >>> header, claims = unverified(unsigned_token({"sub": "mallory"}))
    >>> header["alg"], claims["sub"]
    ('none', 'mallory')
    """
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenRejected("malformed", f"the token cannot be decoded: {exc}") from None
    return header, claims


def unsigned_token(claims: Mapping[str, Any]) -> str:
    """A token with ``alg: none`` and no signature (an attacker's first try).

    >>> unsigned_token({"sub": "mallory"}).endswith(".")
    True
    """
    return f"{_b64url_json({'alg': 'none', 'typ': 'JWT'})}.{_b64url_json(dict(claims))}."


def hs256_token(claims: Mapping[str, Any], secret: bytes | str) -> str:
    """An HS256 token signed with ``secret``, whatever ``secret`` is.

    PyJWT refuses to use a PEM key as an HMAC secret, so this signs by hand.
    It exists to forge the **algorithm-confusion** token: an attacker takes
    the issuer's *public* RSA key (public by design) as the HMAC secret and
    sets ``alg: HS256``. A verifier that lets the token's header choose the
    algorithm would check that HMAC with the same public key and accept it.
    """
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    signing_input = f"{_b64url_json({'alg': 'HS256', 'typ': 'JWT'})}.{_b64url_json(dict(claims))}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"
