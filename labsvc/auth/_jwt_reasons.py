"""Why a JWT was refused: the reason codes, the exception that carries one, and the 401 header.

:data:`REASONS` names every way a token can be refused; :class:`TokenRejected`
carries one reason and a sentence saying what exactly was wrong, and
:func:`www_authenticate` turns it into the ``WWW-Authenticate`` value of a
401 (RFC 6750). All three are public through :mod:`labsvc.auth.jwt_tokens`
and :mod:`labsvc.auth`.
"""

from __future__ import annotations

from labsvc.core.errors import LabsvcError

__all__ = ["REASONS", "TokenRejected", "www_authenticate"]

#: Why a token was refused: reason code -> what it means.
REASONS: dict[str, str] = {
    "missing_token": "no 'Authorization: Bearer <token>' header",
    "malformed": "not a well-formed JWT (three base64url parts, JSON inside)",
    "alg_not_allowed": "the token's 'alg' is not the one this verifier is pinned to",
    "bad_signature": "the signature does not match the issuer's key",
    "expired": "the 'exp' time has passed",
    "not_yet_valid": "the 'nbf' or 'iat' time is in the future",
    "wrong_audience": "the token is meant for another audience ('aud')",
    "wrong_issuer": "the token comes from another issuer ('iss')",
    "missing_claim": "a required claim ('exp', 'iss' or 'aud') is absent",
    "wrong_type": "the header's 'typ' is not the one required (RFC 9068 access tokens say 'at+jwt')",
    "unknown_key": "the header's 'kid' names no key the issuer publishes (never issued, or retired)",
}


class TokenRejected(LabsvcError):
    """A token was refused; ``reason`` is a key of :data:`REASONS`, ``detail`` says what exactly.

    A gateway turns it into ``401`` with ``WWW-Authenticate: Bearer
    error="invalid_token"`` (see :func:`www_authenticate`).
    """

    status = 401

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}; use one of {sorted(REASONS)}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def www_authenticate(rejection: TokenRejected | None = None, *, realm: str = "labsvc") -> str:
    """The ``WWW-Authenticate`` value for a 401 (RFC 6750, section 3).

    A request without credentials gets no error code (the RFC asks for
    none); a bad token gets ``error="invalid_token"`` and a description.

    >>> www_authenticate(TokenRejected("expired", "the token expired 5 s ago"))
    'Bearer realm="labsvc", error="invalid_token", error_description="the token expired 5 s ago"'
    """
    if rejection is None or rejection.reason == "missing_token":
        return f'Bearer realm="{realm}"'
    # error_description must be printable ASCII without quotes or backslashes (RFC 6750 3).
    text = "".join(c for c in rejection.detail if 0x20 <= ord(c) < 0x7F and c not in '"\\')
    return f'Bearer realm="{realm}", error="invalid_token", error_description="{text}"'
