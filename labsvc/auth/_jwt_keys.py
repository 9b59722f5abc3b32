"""Key material for JWTs: algorithm families, RSA keys and HMAC secrets, loaded and checked.

RFC 8725 asks that one key serve one family of algorithms only; the
algorithm-confusion attack works exactly when an RSA public key doubles as
an HMAC secret. So :func:`family` names the family of an algorithm (and
refuses the ones labsvc does not support), :func:`public_rsa_key` and
:func:`private_rsa_key` load RSA keys from objects or PEM text, and
:func:`hmac_secret` refuses a PEM key or a secret shorter than RFC 7518 3.2
allows. :class:`~labsvc.auth.jwt_tokens.TokenIssuer` and
:class:`~labsvc.auth.jwt_tokens.TokenVerifier` call these; a
:class:`~labsvc.core.errors.ConfigurationError` says what to pass instead.

>>> family("RS256"), family("HS256")
('RSA', 'HMAC')
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError

FAMILIES = {"HS": "HMAC", "RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "EdDSA"}
SUPPORTED = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
MIN_HMAC_BYTES = 32  # RFC 7518 3.2: an HS256 key must be at least as long as the hash


def family(algorithm: str) -> str:
    """The key family of ``algorithm`` (``"HMAC"`` or ``"RSA"``), or a ConfigurationError."""
    if algorithm not in SUPPORTED:
        raise ConfigurationError(f"algorithm {algorithm!r} is not supported here; use one of {', '.join(SUPPORTED)}")
    return FAMILIES[algorithm[:2]]


def seconds(value: Any, name: str) -> float:
    """A duration (``900``, ``"15min"``) in seconds; a bad one is a ConfigurationError naming ``name``."""
    try:
        return parse_duration(value, name=name)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(str(exc)) from None


def looks_like_pem(key: Any) -> bool:
    """Whether ``key`` (str or bytes) is PEM or OpenSSH text rather than a secret."""
    raw = key.encode() if isinstance(key, str) else key
    return isinstance(raw, (bytes, bytearray)) and (b"-----BEGIN" in raw or raw.startswith(b"ssh-rsa"))


def public_rsa_key(key: Any) -> rsa.RSAPublicKey:
    """The RSA public key of ``key``: a key object, or PEM text of a public or private key."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if isinstance(key, (str, bytes)):
        raw = key.encode() if isinstance(key, str) else key
        try:
            loaded = serialization.load_pem_public_key(raw)
        except ValueError:
            try:
                loaded = serialization.load_pem_private_key(raw, password=None).public_key()
            except (ValueError, TypeError):
                raise ConfigurationError("the key is not a PEM-encoded RSA key") from None
        if not isinstance(loaded, rsa.RSAPublicKey):
            raise ConfigurationError(f"the key is a {type(loaded).__name__}, not an RSA key")
        return loaded
    raise ConfigurationError(f"an RSA verifier needs an RSA public key (object or PEM), got {type(key).__name__}")


def private_rsa_key(key: Any, key_size: int) -> rsa.RSAPrivateKey:
    """``key`` as an RSA private key (object or PEM text); a new ``key_size``-bit key when it is None."""
    if key is None:
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    if isinstance(key, (str, bytes)):
        raw = key.encode() if isinstance(key, str) else key
        key = serialization.load_pem_private_key(raw, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(f"private_key must be an RSA private key, got {type(key).__name__}")
    return key


def hmac_secret(secret: Any) -> bytes:
    """``secret`` as bytes, refused when it is a PEM key or shorter than :data:`MIN_HMAC_BYTES`."""
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, (bytes, bytearray)):
        raise ConfigurationError(f"an HMAC secret is bytes or str, got {type(secret).__name__}")
    if looks_like_pem(secret):
        # The algorithm-confusion attack works precisely when a public key
        # doubles as an HMAC secret: refuse to configure it.
        raise ConfigurationError(
            "this HMAC secret is a PEM key; never use an RSA key as an HS256 secret "
            "(anyone holding the public key could then sign tokens). Use RS256 with the public key instead"
        )
    if len(secret) < MIN_HMAC_BYTES:
        raise ConfigurationError(
            f"an HS256 secret needs at least {MIN_HMAC_BYTES} bytes (RFC 7518 3.2); this one has {len(secret)}. "
            f"secrets.token_urlsafe(32) makes a good one"
        )
    return bytes(secret)
