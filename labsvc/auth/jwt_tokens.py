"""JSON Web Tokens: issue them, verify them, and know why one was refused.

A gateway that authenticates users checks a **JWT** (RFC 7519) on every
request: a signed set of claims saying who the user is (``sub``), who issued
the token (``iss``), whom it is for (``aud``) and until when it is valid
(``exp``). Verification is done by PyJWT; this module adds the rules of
RFC 8725 (JWT best current practices) that PyJWT leaves to its caller:

- the **algorithm is pinned** by the verifier (``algorithms=["RS256"]``),
  never read from the token's header, and one key is used with one family
  of algorithms only (an RSA public key is never an HMAC secret);
- ``exp``, ``iss`` and ``aud`` are **required** and checked;
- every refusal has a **reason** (:data:`REASONS`) that a gateway can put in
  its 401 problem document.

>>> from labsvc.core.clock import FakeClock
>>> clock = FakeClock(start=1_700_000_000)          # JWT times are Unix seconds
>>> issuer = TokenIssuer("HS256", secret="a-secret-long-enough-for-hs256-0123", clock=clock)
>>> verifier = issuer.verifier()
>>> token = issuer.issue("alice", ttl="10min")
>>> verifier.verify(token)["sub"]
'alice'
>>> clock.advance(601)
>>> verifier.explain(token)["reason"]
'expired'

PyJWT reads the system clock and cannot be given another one, so the time
claims (``exp``, ``nbf``, ``iat``) are checked here, with PyJWT's own rules,
against the verifier's injectable clock; everything else (signature,
algorithm, audience, issuer, required claims) is PyJWT's.

:func:`unsigned_token` and :func:`hs256_token` build the two classic forged
tokens (``alg: none``, and the algorithm-confusion attack), so notebooks and
tests can show that they are refused.

This module holds the issuer, the verifier and :class:`WallClock`; three
private modules hold the rest, and everything public is importable from here:
``_jwt_reasons`` (:data:`REASONS`, :class:`TokenRejected`,
:func:`www_authenticate`), ``_jwt_keys`` (algorithm families, loading and
checking RSA keys and HMAC secrets) and ``_jwt_forge`` (:func:`unverified`,
:func:`unsigned_token`, :func:`hs256_token`).
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from labsvc.auth._jwt_forge import hs256_token, unsigned_token, unverified
from labsvc.auth._jwt_keys import family as _family
from labsvc.auth._jwt_keys import hmac_secret as _hmac_secret
from labsvc.auth._jwt_keys import looks_like_pem as _looks_like_pem
from labsvc.auth._jwt_keys import private_rsa_key as _private_rsa_key
from labsvc.auth._jwt_keys import public_rsa_key as _public_rsa_key
from labsvc.auth._jwt_keys import seconds as _seconds
from labsvc.auth._jwt_reasons import REASONS, TokenRejected, www_authenticate
from labsvc.core.clock import Clock, WallClock  # noqa: F401 - WallClock re-exported (it lived here)
from labsvc.core.errors import ConfigurationError

__all__ = [
    "WallClock",
    "TokenIssuer",
    "TokenVerifier",
    "TokenRejected",
    "REASONS",
    "DEFAULT_ISSUER",
    "DEFAULT_AUDIENCE",
    "DEFAULT_TTL",
    "REQUIRED_CLAIMS",
    "unsigned_token",
    "hs256_token",
    "unverified",
    "www_authenticate",
]

DEFAULT_ISSUER = "https://auth.labsvc"
DEFAULT_AUDIENCE = "labsvc-gateway"
DEFAULT_TTL = 15 * 60.0  # seconds: a short-lived access token
REQUIRED_CLAIMS = ("exp", "iss", "aud")


# ----------------------------------------------------------------- issuing

class TokenIssuer:
    """An authorization server in miniature: it signs access tokens.

    ``TokenIssuer("RS256")`` generates an RSA key pair (with
    ``cryptography``); the gateway only ever needs :attr:`public_key_pem`.
    ``TokenIssuer("HS256", secret=...)`` shares one secret with verifiers
    (one is generated when none is given). Times come from ``clock``
    (Unix seconds; default :class:`WallClock`).

    >>> issuer = TokenIssuer("RS256")                     # generates a 2048-bit key pair
    >>> claims = issuer.verifier().verify(issuer.issue("alice", claims={"scope": "catalog:read"}))
    >>> claims["sub"], claims["aud"], claims["scope"]
    ('alice', 'labsvc-gateway', 'catalog:read')
    """

    def __init__(
        self,
        algorithm: str = "RS256",
        *,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        ttl: float | str = DEFAULT_TTL,
        secret: bytes | str | None = None,
        private_key: rsa.RSAPrivateKey | bytes | str | None = None,
        key_size: int = 2048,
        kid: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.algorithm = algorithm
        self.family = _family(algorithm)
        self.issuer = issuer
        self.audience = audience
        self.ttl = _seconds(ttl, "ttl")
        self.clock: Clock = clock if clock is not None else WallClock()
        self.kid = kid
        self.issued = 0
        if self.family == "HMAC":
            if private_key is not None:
                raise ConfigurationError(f"{algorithm} signs with a shared secret, not a private key; pass secret=")
            self.secret = _hmac_secret(secret if secret is not None else secrets.token_urlsafe(32))
            self._signing_key: Any = self.secret
            self.public_key = None
        else:
            if secret is not None:
                raise ConfigurationError(f"{algorithm} signs with an RSA private key, not a secret; pass private_key=")
            private_key = _private_rsa_key(private_key, key_size)
            self.secret = None
            self._signing_key = private_key
            self.public_key = private_key.public_key()

    @property
    def public_key_pem(self) -> str:
        """The public key, PEM-encoded: what verifiers (and attackers) can read."""
        if self.public_key is None:
            raise ConfigurationError(f"{self.algorithm} has no public key; verifiers share the secret")
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def issue(
        self,
        subject: str,
        *,
        audience: str | list[str] | None = None,
        issuer: str | None = None,
        ttl: float | str | None = None,
        issued_at: float | None = None,
        claims: Mapping[str, Any] | None = None,
        omit: Iterable[str] = (),
    ) -> str:
        """A signed token for ``subject``.

        ``issued_at`` (Unix seconds, default now) and ``ttl`` set ``iat`` and
        ``exp``; ``claims`` adds claims (e.g. ``{"scope": "orders:write"}``);
        ``omit`` leaves standard claims out, to show what a verifier does
        with a token that lacks them (``omit=["exp"]``).
        """
        if not isinstance(subject, str) or not subject:
            raise ConfigurationError(f"subject must be a non-empty string (who the token is about), got {subject!r}")
        now = self.clock.now() if issued_at is None else float(issued_at)
        lifetime = self.ttl if ttl is None else _seconds(ttl, "ttl")
        payload: dict[str, Any] = {
            "iss": self.issuer if issuer is None else issuer,
            "sub": subject,
            "aud": self.audience if audience is None else audience,
            "iat": int(now),
            "exp": int(math.floor(now + lifetime)),
            "jti": uuid.UUID(int=secrets.randbits(128), version=4).hex,
        }
        payload.update(claims or {})
        for name in omit:
            payload.pop(name, None)
        headers = {"kid": self.kid} if self.kid else None
        self.issued += 1
        return jwt.encode(payload, self._signing_key, algorithm=self.algorithm, headers=headers)

    def verifier(self, **kw: Any) -> "TokenVerifier":
        """A :class:`TokenVerifier` that accepts this issuer's tokens (same clock unless given)."""
        key = self.secret if self.family == "HMAC" else self.public_key
        kw.setdefault("algorithms", [self.algorithm])
        kw.setdefault("issuer", self.issuer)
        kw.setdefault("audience", self.audience)
        kw.setdefault("clock", self.clock)
        return TokenVerifier(key, **kw)

    def __repr__(self) -> str:
        return f"TokenIssuer({self.algorithm!r}, issuer={self.issuer!r}, audience={self.audience!r}, ttl={self.ttl:g})"


# ----------------------------------------------------------------- verifying

class TokenVerifier:
    """Checks tokens the way a gateway must (RFC 8725), and says why it refuses one.

    ``key`` is an RSA public key (object or PEM) for RS/PS algorithms, or
    the shared secret for HS ones. ``algorithms`` is the pinned list (default:
    RS256 for an RSA key, HS256 for a secret); mixing HS with RS/PS is a
    :class:`~labsvc.core.errors.ConfigurationError`, and so is an RSA key used as
    an HMAC secret. ``require`` lists the claims a token must carry.

    ``cache_size`` verified tokens are remembered (keyed by the whole token
    string, so a changed byte is a different token), which spares repeated
    signature checks of the same token, as Envoy's ``jwt_cache_config``
    does; the time claims are checked again on every use.
    """

    def __init__(
        self,
        key: Any,
        *,
        algorithms: Iterable[str] | None = None,
        issuer: str | None = DEFAULT_ISSUER,
        audience: str | None = DEFAULT_AUDIENCE,
        require: Iterable[str] = REQUIRED_CLAIMS,
        leeway: float | str = 0,
        clock: Clock | None = None,
        cache_size: int = 1024,
    ) -> None:
        if algorithms is None:
            is_rsa = isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)) or _looks_like_pem(key)
            algorithms = ["RS256"] if is_rsa else ["HS256"]
        if isinstance(algorithms, str):
            raise ConfigurationError(f"algorithms is a list, e.g. [{algorithms!r}], not a string")
        self.algorithms = list(algorithms)
        if not self.algorithms:
            raise ConfigurationError("algorithms must name at least one algorithm, e.g. ['RS256']")
        families = {_family(a) for a in self.algorithms}
        if len(families) > 1:
            raise ConfigurationError(
                f"algorithms={self.algorithms} mixes {sorted(families)}; one key serves one family only "
                f"(mixing HS and RS is what makes the algorithm-confusion attack possible)"
            )
        self.family = families.pop()
        self.key = _hmac_secret(key) if self.family == "HMAC" else _public_rsa_key(key)
        self.issuer = issuer
        self.audience = audience
        self.require = list(require)
        unknown = set(self.require) - {"exp", "iss", "aud", "sub", "iat", "nbf", "jti"}
        if unknown:
            raise ConfigurationError(f"require={self.require}: {sorted(unknown)} are not registered claims")
        self.leeway = _seconds(leeway, "leeway")
        self.clock: Clock = clock if clock is not None else WallClock()
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigurationError(f"cache_size={cache_size!r} must be an int >= 0 (0 turns the cache off)")
        self.cache_size = cache_size
        self._cache: OrderedDict[str, dict] = OrderedDict()
        self.counts = {"verified": 0, "cache_hits": 0, "rejected": 0}
        # PyJWT checks everything but time, which it cannot read from our clock.
        self._options = {"require": self.require, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "verify_aud": audience is not None, "verify_iss": issuer is not None}

    # -- the checks ----------------------------------------------------------

    def verify(self, token: str | bytes | None) -> dict:
        """The verified claims of ``token``, or :class:`TokenRejected` saying why not."""
        if not token:
            self.counts["rejected"] += 1
            raise TokenRejected("missing_token", "send 'Authorization: Bearer <token>'")
        if isinstance(token, bytes):
            token = token.decode("latin-1")
        claims = self._cache.get(token)
        try:
            if claims is None:
                claims = self._decode(token)
                self._check_times(claims)
                if self.cache_size:
                    self._cache[token] = claims
                    if len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)
            else:
                self._check_times(claims)
                self.counts["cache_hits"] += 1
        except TokenRejected:
            self.counts["rejected"] += 1
            raise
        self.counts["verified"] += 1
        return claims

    def bearer(self, authorization: str | None) -> dict:
        """Verify the token in an ``Authorization`` header value (``"Bearer <token>"``)."""
        if not authorization:
            return self.verify(None)
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self.counts["rejected"] += 1
            raise TokenRejected("malformed", f"the Authorization header must be 'Bearer <token>', got scheme {scheme!r}")
        return self.verify(token.strip())

    def explain(self, token: str | None) -> dict[str, Any]:
        """One row for a table: ``accepted``, ``reason``, ``detail``, ``sub`` (never raises)."""
        try:
            claims = self.verify(token)
        except TokenRejected as exc:
            return {"accepted": False, "reason": exc.reason, "detail": exc.detail, "sub": None}
        return {"accepted": True, "reason": "", "detail": "", "sub": claims.get("sub")}

    def _decode(self, token: str) -> dict:
        try:
            return jwt.decode(token, self.key, algorithms=self.algorithms, audience=self.audience,
                              issuer=self.issuer, options=self._options)
        except jwt.InvalidAlgorithmError:
            alg = _header_alg(token)
            raise TokenRejected(
                "alg_not_allowed",
                f"the token says alg={alg!r} but this gateway only accepts {', '.join(self.algorithms)}: "
                f"a token never chooses how it is verified",
            ) from None
        except jwt.InvalidSignatureError:
            raise TokenRejected(
                "bad_signature", "the signature does not match the issuer's key (altered, forged, or signed by another key)"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            why = " (a token without an expiry is valid forever once stolen)" if exc.claim == "exp" else ""
            raise TokenRejected("missing_claim", f"the token has no {exc.claim!r} claim, which is required{why}") from None
        except jwt.InvalidAudienceError:
            aud = _claim(token, "aud")
            raise TokenRejected(
                "wrong_audience", f"the token is for audience {aud!r}; this gateway accepts only {self.audience!r}"
            ) from None
        except jwt.InvalidIssuerError:
            iss = _claim(token, "iss")
            raise TokenRejected(
                "wrong_issuer", f"the token was issued by {iss!r}; this gateway trusts only {self.issuer!r}"
            ) from None
        except jwt.InvalidKeyError as exc:
            raise TokenRejected("alg_not_allowed", f"the token's algorithm cannot be used with this key: {exc}") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected("malformed", f"the token cannot be decoded: {exc}") from None

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        # PyJWT's rules (api_jwt._validate_exp/_nbf/_iat), on our clock.
        now = self.clock.now()
        for name in ("exp", "nbf", "iat"):
            if name in claims:
                try:
                    int(claims[name])
                except (ValueError, TypeError, OverflowError):
                    raise TokenRejected("malformed", f"the {name!r} claim must be a number of seconds") from None
        if "exp" in claims and int(claims["exp"]) <= now - self.leeway:
            ago = now - int(claims["exp"])
            raise TokenRejected("expired", f"the token expired {_ago(ago)} ago (exp={int(claims['exp'])})")
        for name in ("nbf", "iat"):
            if name in claims and int(claims[name]) > now + self.leeway:
                ahead = int(claims[name]) - now
                raise TokenRejected("not_yet_valid", f"the token's {name!r} is {_ago(ahead)} in the future")

    def clear_cache(self) -> None:
        """Forget the verified tokens (after rotating keys, say)."""
        self._cache.clear()

    def __repr__(self) -> str:
        return (f"TokenVerifier(algorithms={self.algorithms}, issuer={self.issuer!r}, audience={self.audience!r}, "
                f"require={self.require})")


def _ago(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _header_alg(token: str) -> Any:
    try:
        return jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        return None


def _claim(token: str, name: str) -> Any:
    try:
        return jwt.decode(token, options={"verify_signature": False}).get(name)
    except jwt.PyJWTError:
        return None
