"""POST /oauth2/token: the client credentials grant (RFC 6749 4.4), its errors (5.2), RFC 9068 tokens."""

from __future__ import annotations

import jwt
import pytest

from labsvc.auth import ACCESS_TOKEN_CLAIMS, DEMO_SECRETS, basic_auth

FORM = {"content-type": "application/x-www-form-urlencoded"}


def post_token(s, body: bytes, *, auth: str | None = basic_auth("orders", DEMO_SECRETS["orders"]), headers=FORM):
    h = dict(headers)
    if auth is not None:
        h["authorization"] = auth
    return s.client.post("http://auth.svc/oauth2/token", content=body, headers=h)


def test_a_client_gets_an_rfc_9068_access_token(run_secured):
    async def scenario(s):
        r = await post_token(s, b"grant_type=client_credentials&scope=stock%3Aread&resource=inventory")
        return r, s.auth_app.state.keys.active_kid

    r, kid = run_secured(scenario)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["scope"] == "stock:read"
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": kid}
    assert set(ACCESS_TOKEN_CLAIMS) | {"scope"} == set(claims)
    assert claims["sub"] == claims["client_id"] == "orders" and claims["aud"] == "inventory"
    assert claims["iss"] == "http://auth.svc" and claims["exp"] - claims["iat"] == 300


def test_no_scope_asked_grants_the_clients_scopes(run_secured):
    async def scenario(s):
        return await post_token(s, b"grant_type=client_credentials")

    claims = jwt.decode(run_secured(scenario).json()["access_token"], options={"verify_signature": False})
    assert claims["scope"] == "stock:read stock:write"


@pytest.mark.parametrize("body,auth,headers,status,error", [
    (b"grant_type=client_credentials", None, FORM, 401, "invalid_client"),
    (b"grant_type=client_credentials", basic_auth("orders", "not-the-secret-at-all"), FORM, 401, "invalid_client"),
    (b"grant_type=client_credentials", basic_auth("nobody", "whatever-whatever"), FORM, 401, "invalid_client"),
    (b"grant_type=client_credentials", "Basic !!!", FORM, 401, "invalid_client"),
    (b"grant_type=password&username=a&password=b", basic_auth("orders", DEMO_SECRETS["orders"]), FORM, 400,
     "unsupported_grant_type"),
    (b"scope=stock%3Aread", basic_auth("orders", DEMO_SECRETS["orders"]), FORM, 400, "invalid_request"),
    (b"grant_type=client_credentials&scope=stock%3Aadmin", basic_auth("reporting", DEMO_SECRETS["reporting"]), FORM,
     400, "invalid_scope"),
    (b"grant_type=client_credentials&resource=config", basic_auth("reporting", DEMO_SECRETS["reporting"]), FORM,
     400, "invalid_target"),
    (b'{"grant_type": "client_credentials"}', basic_auth("orders", DEMO_SECRETS["orders"]),
     {"content-type": "application/json"}, 400, "invalid_request"),
    (b"grant_type=client_credentials&grant_type=client_credentials", basic_auth("orders", DEMO_SECRETS["orders"]),
     FORM, 400, "invalid_request"),
])
def test_token_errors_follow_rfc_6749_5_2_as_problem_documents(run_secured, body, auth, headers, status, error):
    async def scenario(s):
        return await post_token(s, body, auth=auth, headers=headers)

    r = run_secured(scenario)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["status"] == status and doc["error"] == error and doc["error_description"] == doc["detail"]
    assert r.headers["cache-control"] == "no-store"
    if error == "invalid_client":
        assert r.headers["www-authenticate"].startswith("Basic")


def test_the_key_routes_need_an_admin_client(run_secured):
    async def scenario(s):
        anon = await s.client.post("http://auth.svc/keys/rotate")
        reporting = await s.client.post("http://auth.svc/keys/rotate",
                                        headers={"authorization": basic_auth("reporting", DEMO_SECRETS["reporting"])})
        ops = {"authorization": basic_auth("ops", DEMO_SECRETS["ops"])}
        old = s.auth_app.state.keys.active_kid
        rotated = await s.client.post("http://auth.svc/keys/rotate", headers=ops)
        active_retire = await s.client.post(f"http://auth.svc/keys/{rotated.json()['active']}/retire", headers=ops)
        retire = await s.client.post(f"http://auth.svc/keys/{old}/retire", headers=ops)
        table = await s.client.get("http://auth.svc/keys", headers=ops)
        return anon, reporting, rotated, active_retire, retire, table, old

    anon, reporting, rotated, active_retire, retire, table, old = run_secured(scenario)
    assert anon.status_code == 401 and reporting.status_code == 403
    assert rotated.json()["verify_only"] == old and rotated.json()["active"] != old
    assert active_retire.status_code == 409 and "rotate() first" in active_retire.json()["detail"]
    assert retire.json() == {"retired": old}
    assert [(row["kid"], row["state"]) for row in table.json()] == [(old, "retired"), (rotated.json()["active"], "active")]


def test_token_anatomy_explains_every_part_and_reads_the_same_for_every_token():
    from labsvc.auth import AccessTokenIssuer, KeyRing, token_anatomy
    from labsvc.core.clock import FakeClock

    def anatomy(start: float):
        issuer = AccessTokenIssuer(KeyRing(clock=FakeClock(start=start), key_size=1024))
        return token_anatomy(issuer.issue("orders", audience="inventory", scopes=["stock:read", "stock:write"]))

    first, second = anatomy(1_700_000_000), anatomy(1_800_000_000)
    assert first.equals(second)   # another key, another jti, another time: the same table
    rows = {(r["part"], r["name"]): r["value"] for r in first.to_dict("records")}
    assert rows[("header", "typ")] == "at+jwt" and rows[("header", "alg")] == "RS256"
    assert rows[("header", "kid")] == "16 hex digits, new for every key"
    assert rows[("claims", "jti")] == "32 hex digits, new for every token"
    assert rows[("claims", "exp")] == "iat + 300 s"
    assert (rows[("claims", "aud")], rows[("claims", "scope")]) == ("inventory", "stock:read stock:write")
    assert first["meaning"].str.len().gt(0).all()
