"""The inventory as a resource server: forged, stale and misdirected tokens get 401, a short scope 403."""

from __future__ import annotations

import base64
import json

import pytest

from labsvc.auth import AccessTokenIssuer, KeyRing
from labsvc.gateway import Gateway, Route
from labsvc.auth.jwt_tokens import hs256_token, unsigned_token

STOCK = "http://inventory.svc/stock/sku-1"


def tamper(token: str) -> str:
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "stock:read stock:write stock:admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def signer(s, **kw) -> AccessTokenIssuer:
    """Signs with the token service's own active key (so only the named defect differs)."""
    return AccessTokenIssuer(s.auth_app.state.keys, **kw)


async def attack(s, kind: str) -> dict:
    good = await s.token("reporting")
    claims = {"iss": "http://auth.svc", "sub": "x", "aud": "inventory", "exp": s.clock.now() + 60,
              "iat": s.clock.now(), "jti": "1", "client_id": "x", "scope": "stock:read"}
    if kind == "missing":
        return {}
    if kind == "not_bearer":
        return {"authorization": f"Token {good}"}
    if kind == "garbage":
        return {"authorization": "Bearer not.a.jwt"}
    if kind == "alg_none":
        return s.bearer(unsigned_token(claims))
    if kind == "alg_confusion":
        from cryptography.hazmat.primitives import serialization

        pem = s.auth_app.state.keys.active.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return s.bearer(hs256_token(claims, pem))
    if kind == "typ_jwt":
        return s.bearer(signer(s).issue("reporting", audience="inventory", scopes=["stock:read"], header={"typ": "JWT"}))
    if kind == "unknown_kid":
        other = AccessTokenIssuer(KeyRing(clock=s.clock))
        return s.bearer(other.issue("reporting", audience="inventory", scopes=["stock:read"]))
    if kind == "bad_signature":
        return s.bearer(tamper(good))
    if kind == "expired":
        s.clock.advance(301)
        return s.bearer(good)
    if kind == "wrong_audience":
        return s.bearer(signer(s).issue("reporting", audience="config", scopes=["stock:read"]))
    if kind == "wrong_issuer":
        return s.bearer(signer(s, issuer="http://evil.svc").issue("reporting", audience="inventory", scopes=["stock:read"]))
    if kind == "no_client_id":
        return s.bearer(signer(s).issue("reporting", audience="inventory", scopes=["stock:read"],
                                        extra={"client_id": ""}))
    raise AssertionError(kind)


ATTACKS = {
    "missing": "missing_token", "not_bearer": "malformed", "garbage": "malformed", "alg_none": "alg_not_allowed",
    "alg_confusion": "alg_not_allowed", "typ_jwt": "wrong_type", "unknown_kid": "unknown_key",
    "bad_signature": "bad_signature", "expired": "expired", "wrong_audience": "wrong_audience",
    "wrong_issuer": "wrong_issuer", "no_client_id": "missing_claim",
}


@pytest.mark.parametrize("kind", sorted(ATTACKS))
def test_token_attacks_get_401_problem_documents(run_secured, kind):
    async def scenario(s):
        r = await s.client.get(STOCK, headers=await attack(s, kind))
        return r, s.inventory_apps[0].state.resource.denials

    r, denials = run_secured(scenario)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["status"] == 401 and doc["reason"] == ATTACKS[kind] and doc["detail"]
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="inventory"')
    assert ('error="invalid_token"' in challenge) == (kind != "missing")  # RFC 6750 3.1: no error code without a token
    assert denials[["status", "reason"]].values.tolist() == [[401, ATTACKS[kind]]]


def test_a_valid_token_without_the_scope_gets_403_naming_it(run_secured):
    async def scenario(s):
        h = s.bearer(await s.token("reporting"))
        return (await s.client.get(STOCK, headers=h), await s.client.post(STOCK + "/reserve", headers=h),
                s.inventory_apps[0].state.resource.denials)

    ok, denied, denials = run_secured(scenario)
    assert ok.status_code == 200 and ok.json()["caller"] == "reporting"
    assert denied.status_code == 403 and denied.headers["content-type"] == "application/problem+json"
    assert denied.json()["reason"] == "insufficient_scope" and denied.json()["required_scope"] == "stock:write"
    assert denied.headers["www-authenticate"] == 'Bearer realm="inventory", error="insufficient_scope", scope="stock:write"'
    assert denials[["status", "reason", "client_id"]].values.tolist() == [[403, "insufficient_scope", "reporting"]]


def test_an_old_key_verifies_until_it_is_retired_and_not_after(run_secured):
    async def scenario(s):
        ring = s.auth_app.state.keys
        resource = s.inventory_apps[0].state.resource
        old_token = await s.token("reporting")
        old_kid = ring.active_kid
        seen = [(await s.client.get(STOCK, headers=s.bearer(old_token))).status_code]
        new_kid = ring.rotate(retire_after=250)           # a grace shorter than the cache age would be a mistake
        new_token = await s.token("orders", scope="stock:read")
        seen.append((await s.client.get(STOCK, headers=s.bearer(new_token))).status_code)  # unknown kid: one re-fetch
        seen.append((await s.client.get(STOCK, headers=s.bearer(old_token))).status_code)  # still published
        kids_during = list(resource.kids)
        s.clock.advance(240)                                # the old key is still published: accepted
        seen.append((await s.client.get(STOCK, headers=s.bearer(old_token))).status_code)
        s.clock.advance(61)                                 # retired at +250, cache older than 300 s: re-fetched
        late_old = await s.client.get(STOCK, headers=s.bearer(old_token))
        new_token = await s.token("orders", scope="stock:read")
        late_new = await s.client.get(STOCK, headers=s.bearer(new_token))
        return seen, kids_during, old_kid, new_kid, late_old, late_new, list(resource.kids), resource.fetches

    seen, kids_during, old_kid, new_kid, late_old, late_new, kids_after, fetches = run_secured(scenario)
    assert seen == [200, 200, 200, 200]
    assert kids_during == [old_kid, new_kid]
    assert late_old.status_code == 401 and late_old.json()["reason"] == "unknown_key"
    assert old_kid in late_old.json()["detail"] and "retired" in late_old.json()["detail"]
    assert late_new.status_code == 200 and kids_after == [new_kid]
    assert fetches == 3  # at start, for the new kid, after the cache aged


def test_the_old_key_stays_trusted_until_the_cache_ages_even_if_retired_early(run_secured):
    # Why retire_after must be at least the token lifetime plus the resource servers' cache age.
    async def scenario(s):
        ring = s.auth_app.state.keys
        old_token = await s.token("reporting")
        first = await s.client.get(STOCK, headers=s.bearer(old_token))
        old = ring.active_kid
        ring.rotate()
        ring.retire(old)
        cached = await s.client.get(STOCK, headers=s.bearer(old_token))
        s.clock.advance(300)
        refetched = await s.client.get(STOCK, headers=s.bearer(old_token))
        return first.status_code, cached.status_code, refetched.status_code

    assert run_secured(scenario, jwks_max_age=300) == (200, 200, 401)


def test_the_gateway_relays_the_callers_token_and_the_service_decides(run_secured):
    async def scenario(s):
        gw = Gateway([Route("/inventory", "inventory")])
        s.net.add("gateway", gw.app)
        await s.net.start_instance("gateway-1")
        h = s.bearer(await s.token("reporting"))
        return (await s.client.get("http://gateway.svc/inventory/stock/sku-1", headers=h),
                await s.client.post("http://gateway.svc/inventory/stock/sku-1/reserve", headers=h),
                await s.client.get("http://gateway.svc/inventory/stock/sku-1"))

    ok, forbidden, anonymous = run_secured(scenario)
    assert ok.status_code == 200 and ok.json()["caller"] == "reporting"
    assert forbidden.status_code == 403 and forbidden.json()["reason"] == "insufficient_scope"
    assert anonymous.status_code == 401 and anonymous.json()["reason"] == "missing_token"
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="inventory"'


def test_orders_calls_the_inventory_with_its_own_token_and_renews_it_before_expiry(run_secured):
    async def scenario(s):
        orders = s.net.instance("orders-1").app.state.tokens
        first = [await s.client.post("http://orders.svc/orders/sku-2") for _ in range(2)]
        requests_before = orders.requests
        s.clock.advance(280)  # within renew_before (30 s) of the 300 s expiry
        after = await s.client.post("http://orders.svc/orders/sku-2")
        return first, requests_before, after, orders.requests

    first, before, after, requests = run_secured(scenario)
    assert [r.status_code for r in first] == [201, 201] and first[1].json()["left"] == 1
    assert before == 1 and requests == 2
    assert after.status_code == 201 and after.json()["left"] == 0


def test_a_flood_of_unknown_kids_makes_at_most_one_early_fetch_per_min_refetch(run_secured):
    async def scenario(s):
        resource = s.inventory_apps[0].state.resource
        await s.client.get(STOCK, headers=s.bearer(await s.token("reporting")))  # the first fetch
        stranger = AccessTokenIssuer(KeyRing(clock=s.clock))
        forged = s.bearer(stranger.issue("reporting", audience="inventory", scopes=["stock:read"]))
        statuses = [(await s.client.get(STOCK, headers=forged)).status_code for _ in range(5)]
        during = resource.fetches
        s.clock.advance(resource.min_refetch)
        await s.client.get(STOCK, headers=forged)
        return statuses, during, resource.fetches

    statuses, during, after = run_secured(scenario)
    assert statuses == [401] * 5 and during == 2 and after == 3


def test_a_token_service_outage_keeps_the_cached_keys_and_without_any_answers_503(run_secured):
    async def scenario(s):
        resource = s.inventory_apps[0].state.resource
        first = await s.client.get(STOCK, headers=s.bearer(await s.token("reporting")))  # keys fetched at t=0
        s.clock.advance(100)
        token = await s.token("reporting")                                   # issued at t=100
        await s.net.stop_instance("auth-1")
        s.clock.advance(201)               # t=301: the cached keys are past their 300 s, the token is 201 s old
        while_down = await s.client.get(STOCK, headers=s.bearer(token))
        again = await s.client.get(STOCK, headers=s.bearer(token))  # no second fetch within min_refetch
        assert again.status_code == 200 and resource.fetch_failures == 1
        await s.net.add_instance("inventory")  # a new instance starts while auth is down: no keys at all
        blind = await s.client.get("http://inventory-2.svc/stock/sku-1", headers=s.bearer(token))
        return first, while_down, blind, resource.fetch_failures + s.inventory_apps[1].state.resource.fetch_failures

    first, while_down, blind, failures = run_secured(scenario)
    assert first.status_code == 200
    assert while_down.status_code == 200   # the re-fetch failed; the cached keys still verify
    assert blind.status_code == 503 and blind.json()["reason"] == "keys_unavailable"
    assert blind.headers["content-type"] == "application/problem+json" and failures == 2
