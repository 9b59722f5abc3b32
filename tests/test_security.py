"""JWT issue and verify follow RFC 8725: pinned algorithm, required claims, a reason for every refusal.

Time-dependent checks run on a FakeClock started at a realistic Unix time,
so nothing sleeps and every boundary is exact.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from labsvc.core.clock import FakeClock
from labsvc.core.errors import ConfigurationError
from labsvc.auth.jwt_tokens import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    REASONS,
    TokenIssuer,
    TokenRejected,
    TokenVerifier,
    hs256_token,
    unsigned_token,
    unverified,
    www_authenticate,
)

T0 = 1_700_000_000
SECRET = "0123456789abcdef0123456789abcdef-hs256"


@pytest.fixture(scope="module")
def rsa_issuer_key():
    # One RSA key for the module: generating keys is the slow part.
    return TokenIssuer("RS256")._signing_key


@pytest.fixture
def clock():
    return FakeClock(start=T0)


@pytest.fixture
def issuer(rsa_issuer_key, clock):
    return TokenIssuer("RS256", private_key=rsa_issuer_key, clock=clock)


def claims_now(clock, **extra):
    return {"iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE, "sub": "mallory", "exp": int(clock.now()) + 600, **extra}


def reason(verifier, token):
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    return info.value.reason


# ----------------------------------------------------------------- a valid token

def test_issued_token_carries_the_standard_claims_and_verifies(issuer, clock):
    token = issuer.issue("alice", claims={"scope": "orders:read"}, ttl="10min")
    header, _ = unverified(token)
    claims = issuer.verifier().verify(token)
    assert header["alg"] == "RS256"
    assert claims["sub"] == "alice" and claims["scope"] == "orders:read"
    assert claims["iss"] == DEFAULT_ISSUER and claims["aud"] == DEFAULT_AUDIENCE
    assert claims["iat"] == T0 and claims["exp"] == T0 + 600


def test_a_verifier_built_from_the_public_pem_alone_accepts_the_token(issuer):
    verifier = TokenVerifier(issuer.public_key_pem, algorithms=["RS256"], clock=issuer.clock)
    assert verifier.verify(issuer.issue("alice"))["sub"] == "alice"


def test_hs256_issuer_and_verifier_share_a_secret(clock):
    issuer = TokenIssuer("HS256", secret=SECRET, clock=clock)
    assert unverified(issuer.issue("bob"))[0]["alg"] == "HS256"
    assert issuer.verifier().verify(issuer.issue("bob"))["sub"] == "bob"
    other = TokenVerifier(SECRET + "-other", algorithms=["HS256"], clock=clock)
    assert reason(other, issuer.issue("bob")) == "bad_signature"


# ----------------------------------------------------------------- the five classic refusals

def test_alg_none_is_refused_because_the_algorithm_is_pinned(issuer, clock):
    token = unsigned_token(claims_now(clock))
    assert unverified(token)[0]["alg"] == "none"
    with pytest.raises(TokenRejected) as info:
        issuer.verifier().verify(token)
    assert info.value.reason == "alg_not_allowed"
    assert "'none'" in info.value.detail and "RS256" in info.value.detail


def test_algorithm_confusion_rs256_public_key_as_hs256_secret_is_refused(issuer, clock):
    public_pem = issuer.public_key_pem
    forged = hs256_token(claims_now(clock, sub="admin"), public_pem)
    # The forgery is a real HMAC over the public key: a verifier that let
    # the header pick HS256 and used its one key as the secret would accept it.
    signing_input, _, signature = forged.rpartition(".")
    expected = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected
    assert unverified(forged)[0]["alg"] == "HS256"
    with pytest.raises(TokenRejected) as info:
        issuer.verifier().verify(forged)
    assert info.value.reason == "alg_not_allowed"
    assert "'HS256'" in info.value.detail


def test_expired_token_is_refused_exactly_at_exp(issuer, clock):
    verifier = issuer.verifier()
    token = issuer.issue("alice", ttl=60)
    clock.advance(59)
    assert verifier.verify(token)["sub"] == "alice"
    clock.advance(1)  # now == exp: PyJWT's rule is exp <= now -> expired
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    assert info.value.reason == "expired"
    assert "expired 0 s ago" in info.value.detail


def test_expiry_is_checked_again_for_a_cached_token(issuer, clock):
    verifier = issuer.verifier()
    token = issuer.issue("alice", ttl=60)
    verifier.verify(token)
    verifier.verify(token)
    assert verifier.counts["cache_hits"] == 1
    clock.advance(3600)
    assert reason(verifier, token) == "expired"


def test_leeway_tolerates_small_clock_skew(issuer, clock):
    token = issuer.issue("alice", ttl=60)
    clock.advance(65)
    assert issuer.verifier(leeway="10s").verify(token)["sub"] == "alice"
    assert reason(issuer.verifier(), token) == "expired"


def test_token_issued_long_ago_is_expired(issuer, clock):
    token = issuer.issue("alice", issued_at=T0 - 3600, ttl="15min")
    with pytest.raises(TokenRejected) as info:
        issuer.verifier().verify(token)
    assert info.value.reason == "expired" and "45 min" in info.value.detail


def test_wrong_audience_is_refused(issuer):
    token = issuer.issue("alice", audience="billing")
    with pytest.raises(TokenRejected) as info:
        issuer.verifier().verify(token)
    assert info.value.reason == "wrong_audience"
    assert "'billing'" in info.value.detail and DEFAULT_AUDIENCE in info.value.detail


def test_missing_exp_is_refused(issuer):
    token = issuer.issue("alice", omit=["exp"])
    assert "exp" not in unverified(token)[1]
    with pytest.raises(TokenRejected) as info:
        issuer.verifier().verify(token)
    assert info.value.reason == "missing_claim" and "'exp'" in info.value.detail


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_missing_iss_or_aud_is_refused(issuer, claim):
    assert reason(issuer.verifier(), issuer.issue("alice", omit=[claim])) == "missing_claim"


# ----------------------------------------------------------------- other refusals

def test_wrong_issuer_is_refused(issuer):
    assert reason(issuer.verifier(), issuer.issue("alice", issuer="https://evil.example")) == "wrong_issuer"


def test_token_signed_by_another_key_is_refused(issuer, clock):
    other = TokenIssuer("RS256", clock=clock)
    assert reason(issuer.verifier(), other.issue("alice")) == "bad_signature"


def test_tampered_payload_is_refused(issuer):
    header, payload, signature = issuer.issue("alice").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert reason(issuer.verifier(), f"{header}.{forged_payload}.{signature}") == "bad_signature"


def test_future_nbf_is_refused(issuer, clock):
    token = issuer.issue("alice", claims={"nbf": T0 + 120})
    assert reason(issuer.verifier(), token) == "not_yet_valid"
    clock.advance(120)
    assert issuer.verifier().verify(token)["sub"] == "alice"


def test_garbage_and_non_numeric_exp_are_malformed(issuer, clock):
    assert reason(issuer.verifier(), "not.a.jwt") == "malformed"
    assert reason(issuer.verifier(), issuer.issue("alice", claims={"exp": "tomorrow"})) == "malformed"


def test_bearer_header_parsing(issuer):
    verifier = issuer.verifier()
    assert verifier.bearer("Bearer " + issuer.issue("alice"))["sub"] == "alice"
    with pytest.raises(TokenRejected) as info:
        verifier.bearer("Basic YWxpY2U6cGFzcw==")
    assert info.value.reason == "malformed"
    with pytest.raises(TokenRejected) as info:
        verifier.bearer(None)
    assert info.value.reason == "missing_token"


def test_explain_gives_one_table_row_and_never_raises(issuer):
    verifier = issuer.verifier()
    assert verifier.explain(issuer.issue("alice")) == {"accepted": True, "reason": "", "detail": "", "sub": "alice"}
    row = verifier.explain(issuer.issue("alice", audience="billing"))
    assert row["accepted"] is False and row["reason"] == "wrong_audience"
    assert verifier.counts["rejected"] == 1


def test_every_reason_is_documented():
    assert {"alg_not_allowed", "bad_signature", "expired", "wrong_audience", "missing_claim"} <= set(REASONS)
    with pytest.raises(ValueError):
        TokenRejected("because", "no such reason")


# ----------------------------------------------------------------- configuration that invites attacks

def test_a_verifier_refuses_to_mix_hs_and_rs(issuer):
    with pytest.raises(ConfigurationError, match="mixes"):
        TokenVerifier(issuer.public_key_pem, algorithms=["RS256", "HS256"])


def test_a_pem_key_cannot_be_an_hmac_secret(issuer):
    with pytest.raises(ConfigurationError, match="never use an RSA key as an HS256 secret"):
        TokenVerifier(issuer.public_key_pem, algorithms=["HS256"])


def test_short_hmac_secrets_and_unknown_algorithms_are_refused():
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        TokenIssuer("HS256", secret="short")
    with pytest.raises(ConfigurationError, match="not supported"):
        TokenVerifier(SECRET, algorithms=["none"])
    with pytest.raises(ConfigurationError, match="a list"):
        TokenVerifier(SECRET, algorithms="HS256")


def test_default_algorithm_follows_the_key(issuer):
    assert TokenVerifier(issuer.public_key_pem).algorithms == ["RS256"]
    assert TokenVerifier(SECRET).algorithms == ["HS256"]


def test_pyjwt_itself_also_refuses_a_pem_as_hmac_key(issuer):
    # Defence in depth: even a verifier that trusted the header would hit this with PyJWT.
    forged = hs256_token({"sub": "admin"}, issuer.public_key_pem)
    with pytest.raises(jwt.InvalidKeyError):
        jwt.decode(forged, issuer.public_key_pem, algorithms=["HS256"])


def test_www_authenticate_follows_rfc_6750():
    assert www_authenticate(None) == 'Bearer realm="labsvc"'
    value = www_authenticate(TokenRejected("expired", 'the token "x" expired'))
    assert value.startswith('Bearer realm="labsvc", error="invalid_token", error_description="')
    assert value.count('"') == 6  # quotes inside the description are removed
