"""Signing keys with ids, and their rotation: what a token service publishes as JWKS.

A token service signs with one **active** key and publishes the public half
of every key that verifiers may still meet, as a JSON Web Key Set (RFC 7517)
at ``/.well-known/jwks.json``. Each key has a ``kid``; each token names the
``kid`` that signed it, so a verifier knows which key to check it with.

Rotation happens in two steps, so that no valid token is refused:

1. :meth:`KeyRing.rotate` makes a new key the signer; the old one stays in
   the JWKS (state ``"verify-only"``): tokens it signed still verify;
2. :meth:`KeyRing.retire` takes the old key out of the JWKS once every token
   it signed has expired (a grace of at least the token lifetime); after that
   a token signed with it is refused (``unknown_key``).

``rotate(retire_after=...)`` schedules step 2 on the ring's clock.

>>> from labsvc.core.clock import FakeClock
>>> ring = KeyRing(clock=FakeClock(start=1_700_000_000))
>>> first = ring.active_kid
>>> second = ring.rotate(retire_after=900)
>>> [k["kid"] for k in ring.jwks()["keys"]] == [first, second]
True
>>> ring.clock.advance(901)
>>> [k["kid"] for k in ring.jwks()["keys"]] == [second]
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import jwt
import pandas as pd
from cryptography.hazmat.primitives.asymmetric import rsa

from labsvc.core.clock import Clock, parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.core.clock import WallClock

__all__ = ["KeyRing", "SigningKey", "KEY_STATES"]

#: A key's life: it signs, then only verifies, then is gone from the JWKS.
KEY_STATES = ("active", "verify-only", "retired")


@dataclass
class SigningKey:
    """One RSA key pair and where it is in its life (see :data:`KEY_STATES`)."""

    kid: str
    private_key: rsa.RSAPrivateKey
    created: float
    state: str = "active"
    retire_at: float | None = None
    retired: float | None = None

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK (RFC 7517), with ``kid``, ``use`` and ``alg``."""
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk


def _thumbprint_kid(key: rsa.RSAPrivateKey) -> str:
    # An RFC 7638-style thumbprint: the kid is derived from the key, so two keys never share one.
    numbers = key.public_key().public_numbers()
    digest = hashlib.sha256(f"{numbers.e}:{numbers.n}".encode()).hexdigest()
    return digest[:16]


class KeyRing:
    """The token service's keys: one active signer, older ones verify-only until retired.

    ``key_size`` is the RSA modulus in bits (2048 by default; tests may use
    1024 to save time, never in production). Times come from ``clock`` (Unix
    seconds; :class:`labsvc.auth.jwt_tokens.WallClock` by default).
    """

    def __init__(self, *, clock: Clock | None = None, key_size: int = 2048) -> None:
        if isinstance(key_size, bool) or not isinstance(key_size, int) or key_size < 1024:
            raise ConfigurationError(f"key_size={key_size!r} must be an int of at least 1024 bits (2048 is usual)")
        self.clock: Clock = clock if clock is not None else WallClock()
        self.key_size = key_size
        self.keys: list[SigningKey] = []
        self._new_key()

    def _new_key(self) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=self.key_size)
        key = SigningKey(_thumbprint_kid(private), private, self.clock.now())
        self.keys.append(key)
        return key

    def _expire(self) -> None:
        now = self.clock.now()
        for key in self.keys:
            if key.state == "verify-only" and key.retire_at is not None and now >= key.retire_at:
                key.state, key.retired = "retired", now

    @property
    def active(self) -> SigningKey:
        """The key that signs new tokens."""
        return next(k for k in self.keys if k.state == "active")

    @property
    def active_kid(self) -> str:
        return self.active.kid

    def rotate(self, *, retire_after: float | str | None = None) -> str:
        """A new key signs from now on; the old one verifies until retired. Returns the new ``kid``.

        ``retire_after`` (seconds or ``"15min"``) retires the old key that long
        from now; it should be at least the tokens' lifetime. ``None`` keeps it
        until :meth:`retire` is called.
        """
        delay = None if retire_after is None else parse_duration(retire_after, name="retire_after")
        old = self.active
        old.state = "verify-only"
        if delay is not None:
            old.retire_at = self.clock.now() + delay
        return self._new_key().kid

    def retire(self, kid: str) -> None:
        """Take key ``kid`` out of the JWKS now: tokens it signed stop verifying."""
        key = self.get(kid)
        if key.state == "active":
            raise ConfigurationError(
                f"key {kid!r} is the active signer; rotate() first so that another key signs, then retire this one"
            )
        if key.state != "retired":
            key.state, key.retired = "retired", self.clock.now()

    def get(self, kid: str) -> SigningKey:
        """The key called ``kid`` (``ConfigurationError`` naming the known ones if there is none)."""
        for key in self.keys:
            if key.kid == kid:
                return key
        raise ConfigurationError(f"no key with kid {kid!r}; known kids: {[k.kid for k in self.keys]}")

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set: the active key and the verify-only ones, oldest first."""
        self._expire()
        return {"keys": [k.public_jwk() for k in self.keys if k.state != "retired"]}

    def table(self) -> pd.DataFrame:
        """One row per key: kid, state, created, retire_at, retired."""
        self._expire()
        return pd.DataFrame([{"kid": k.kid, "state": k.state, "created": k.created, "retire_at": k.retire_at,
                              "retired": k.retired} for k in self.keys],
                            columns=["kid", "state", "created", "retire_at", "retired"])

    def __repr__(self) -> str:
        self._expire()
        return f"KeyRing(active={self.active_kid!r}, keys={[(k.kid, k.state) for k in self.keys]})"
