"""Notebook 12's security experiments: who may call which route, and what attackers' tokens get.

- :func:`probe_scopes` runs the inventory with a given route -> scopes table and
  calls every route as every demo client: the table of who got 200 and who 403;
- :func:`denied_calls` sends legitimate calls and a catalogue of attacks
  (:data:`ATTACKS`) to the inventory, on a :class:`~labsvc.core.clock.FakeClock` so an
  expired token takes no waiting, and returns one row per call;
- :func:`key_rotation` replays an old and a new token through a key rotation;
- :func:`stolen_token` replays a copied access token until it is refused, while its
  owner keeps calling (the price of a token lifetime, in both directions).

:func:`~labsvc.auth.plots.plot_denials` (in :mod:`labsvc.auth.plots`) draws
what :func:`denied_calls` returns.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import jwt
import pandas as pd
from cryptography.hazmat.primitives import serialization

from labsvc.auth.jwt_tokens import hs256_token, unsigned_token
from labsvc.auth._client import TokenClient
from labsvc.auth._demo import DEMO_SECRETS, INVENTORY_SCOPES, demo_token_service, inventory_app
from labsvc.auth._keys import KeyRing
from labsvc.auth._tokens import AccessTokenIssuer
from labsvc.core.simtime import experiment

__all__ = ["probe_scopes", "denied_calls", "key_rotation", "stolen_token", "ATTACKS", "PROBE_CLIENTS",
           "least_privilege"]

#: The demo clients a probe calls as, and the scopes each asks for.
PROBE_CLIENTS = {"reporting": "stock:read", "orders": "stock:read stock:write", "ops": "stock:admin"}

#: attack -> (what it is, the reason the inventory must give).
ATTACKS: dict[str, tuple[str, str]] = {
    "no token": ("no Authorization header", "missing_token"),
    "garbage": ("'Bearer not.a.jwt'", "malformed"),
    "alg none": ("an unsigned token (alg: none) claiming every scope", "alg_not_allowed"),
    "alg confusion": ("HS256 signed with the public key read from the JWKS", "alg_not_allowed"),
    "tampered scope": ("a real token whose scope claim was edited", "bad_signature"),
    "foreign issuer": ("a well-formed token signed by another token service", "unknown_key"),
    "other audience": ("a real token for the config server replayed at the inventory", "wrong_audience"),
    "expired": ("a real token replayed after its exp", "expired"),
}

_ROUTES = [("GET", "/stock/sku-1", "GET /stock/{sku}"), ("POST", "/stock/sku-1/reserve", "POST /stock/{sku}/reserve"),
           ("DELETE", "/stock/sku-2", "DELETE /stock/{sku}")]


def least_privilege(client: str, route: str) -> bool:
    """Whether ``client`` should be let through ``route`` under :data:`INVENTORY_SCOPES`."""
    granted = set(PROBE_CLIENTS[client].split())
    return set(INVENTORY_SCOPES[route]) <= granted


def _network(name: str, clock: Any, route_scopes: Mapping[str, tuple[str, ...]] | None):
    from labsvc.core.network import Network

    net = Network(seed=12, name=name)
    apps: dict[str, Any] = {}

    def auth():
        apps["auth"] = demo_token_service(clock=clock)
        return apps["auth"]

    net.add("auth", auth)
    net.add("inventory", lambda: inventory_app(route_scopes=route_scopes, clock=clock))
    return net, apps


@experiment
async def probe_scopes(route_scopes: Mapping[str, tuple[str, ...]] | None = None, *,
                       name: str = "nb12-probe") -> pd.DataFrame:
    """Call every inventory route as every client of :data:`PROBE_CLIENTS`, with ``route_scopes`` in force.

    One row per call: client, granted, route, status, reason, and ``should_pass``
    (what :data:`INVENTORY_SCOPES`, least privilege, says). ``df.attrs["route_scopes"]``
    keeps the table that was probed.
    """
    net, _ = _network(name, None, route_scopes)
    rows = []
    async with net:
        c = net.client("probe")
        for client, scope in PROBE_CLIENTS.items():
            headers = await TokenClient(client, DEMO_SECRETS[client], scope=scope, resource="inventory").headers(c)
            for method, path, route in _ROUTES:
                r = await c.request(method, f"http://inventory.svc{path}", headers=headers)
                rows.append({"client": client, "granted": scope, "route": route, "status": r.status_code,
                             "reason": r.json().get("reason", "") if r.status_code >= 400 else "",
                             "should_pass": least_privilege(client, route)})
    df = pd.DataFrame(rows)
    df.attrs["route_scopes"] = {k: tuple(v) for k, v in (route_scopes or INVENTORY_SCOPES).items()}
    return df


def _public_pem(jwks: dict) -> bytes:
    key = jwt.PyJWK(jwks["keys"][-1]).key
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _tamper(token: str) -> str:
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "stock:read stock:write stock:admin"
    return f"{head}.{base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b'=').decode()}.{sig}"


@experiment
async def denied_calls(clock: Any, *, name: str = "nb12-attacks", legitimate: int = 4) -> pd.DataFrame:
    """Legitimate calls, short-scoped calls and :data:`ATTACKS` against the inventory, on ``clock``.

    ``clock`` must be a :class:`~labsvc.core.clock.FakeClock` holding Unix time
    (``FakeClock(start=1_767_225_600)``: a fixed start prints the same on every
    run): the ``expired`` attack advances it past the tokens' lifetime. One row
    per call: kind (``allowed``, ``short scope`` or the attack), what, client,
    route, status, reason.
    """
    net, apps = _network(name, clock, None)
    rows: list[dict[str, Any]] = []
    async with net:
        c = net.client("attacker")

        async def call(kind: str, what: str, client: str, method: str, path: str, headers: dict) -> None:
            r = await c.request(method, f"http://inventory.svc{path}", headers=headers)
            rows.append({"kind": kind, "what": what, "client": client, "route": f"{method} {path}",
                         "status": r.status_code, "reason": r.json().get("reason", "") if r.status_code >= 400 else ""})

        def bearer(token: str) -> dict:
            return {"authorization": f"Bearer {token}"}

        reporting = await TokenClient("reporting", DEMO_SECRETS["reporting"], resource="inventory",
                                      clock=clock).token(c)
        orders = await TokenClient("orders", DEMO_SECRETS["orders"], resource="inventory", clock=clock).token(c)
        for _ in range(legitimate):
            await call("allowed", "reporting reads stock", "reporting", "GET", "/stock/sku-1", bearer(reporting))
            await call("allowed", "orders reserves stock", "orders", "POST", "/stock/sku-1/reserve", bearer(orders))
            await call("short scope", "reporting tries to reserve", "reporting", "POST", "/stock/sku-1/reserve",
                       bearer(reporting))
        await call("short scope", "orders tries to delete", "orders", "DELETE", "/stock/sku-1", bearer(orders))
        claims = {"iss": "http://auth.svc", "sub": "mallory", "aud": "inventory", "exp": int(clock.now()) + 300,
                  "iat": int(clock.now()), "jti": "x", "client_id": "mallory", "scope": "stock:admin"}
        jwks = (await c.get("http://auth.svc/.well-known/jwks.json")).json()  # public, by design
        config_token = await TokenClient("config-reader", DEMO_SECRETS["config-reader"], resource="config",
                                         clock=clock).token(c)
        foreign = AccessTokenIssuer(KeyRing(clock=clock)).issue("mallory", audience="inventory", scopes=["stock:admin"])
        attacks = {
            "no token": {},
            "garbage": bearer("not.a.jwt"),
            "alg none": bearer(unsigned_token(claims)),
            "alg confusion": bearer(hs256_token(claims, _public_pem(jwks))),
            "tampered scope": bearer(_tamper(reporting)),
            "foreign issuer": bearer(foreign),
            "other audience": bearer(config_token),
        }
        for kind, headers in attacks.items():
            await call(kind, ATTACKS[kind][0], "mallory", "DELETE", "/stock/sku-1", headers)
        clock.advance(apps["auth"].state.issuer.ttl + 1)
        await call("expired", ATTACKS["expired"][0], "reporting", "GET", "/stock/sku-1", bearer(reporting))
    return pd.DataFrame(rows)


@experiment
async def key_rotation(clock: Any, *, grace: float = 240.0, name: str = "nb12-rotation") -> pd.DataFrame:
    """Rotate the token service's key on ``clock`` (a FakeClock) and replay an old and a new token at each step.

    Steps: before the rotation; just after it (new key signs, old verifies);
    ``grace`` s later, just before the old key is retired; then past the
    retirement and past the inventory's JWKS cache age (300 s), when the old
    key is gone. One row per (step, token): t (s since the first step), step,
    token (old / new), key, status, reason, and the keys the inventory trusts.

    Keys are named by their place in the token service's ring (``key 1`` is
    the first signer, ``key 2`` the one the rotation made): their ``kid``
    values are thumbprints of freshly generated RSA keys, new on every run;
    ``attrs["kids"]`` maps each name to its ``kid``.
    """
    net, apps = _network(name, clock, None)
    rows: list[dict[str, Any]] = []
    async with net:
        c = net.client("rotation")
        ring = apps["auth"].state.keys
        resource = net.instance("inventory-1").app.state.resource
        t0 = clock.now()

        def name(kid: str) -> str:
            return next((f"key {n}" for n, key in enumerate(ring.keys, 1) if key.kid == kid), "unknown key")

        async def fresh() -> str:
            return await TokenClient("reporting", DEMO_SECRETS["reporting"], resource="inventory", clock=clock).token(c)

        async def replay(step: str, tokens: dict[str, str]) -> None:
            for label, token in tokens.items():
                r = await c.get("http://inventory.svc/stock/sku-1", headers={"authorization": f"Bearer {token}"})
                rows.append({"t": clock.now() - t0, "step": step, "token": label,
                             "key": name(jwt.get_unverified_header(token)["kid"]), "status": r.status_code,
                             "reason": r.json().get("reason", "") if r.status_code >= 400 else "",
                             "trusted_keys": ", ".join(name(kid) for kid in resource.kids)})

        old = await fresh()
        await replay("before rotation", {"old": old})
        ring.rotate(retire_after=grace + 10)
        new = await fresh()
        await replay("just rotated", {"old": old, "new": new})
        clock.advance(grace)
        await replay("grace period", {"old": old, "new": new})
        clock.advance(301 - grace)  # the old key is retired and the inventory's cached JWKS is older than 300 s
        new = await fresh()          # (tokens live 300 s: a new one for the new key)
        await replay("retired", {"old": old, "new": new})
        kids = {f"key {n}": key.kid for n, key in enumerate(ring.keys, 1)}
    frame = pd.DataFrame(rows)
    frame.attrs["kids"] = kids
    return frame


@experiment
async def stolen_token(*, ttl: float = 300.0, minutes: float = 30.0, every: float = 10.0, clock: Any = None,
                       name: str = "nb12-stolen") -> pd.DataFrame:
    """An attacker copies ``orders``' first access token and replays it; tokens live ``ttl`` seconds.

    Every ``every`` seconds for ``minutes`` (on ``clock``, a fresh
    :class:`~labsvc.core.clock.FakeClock` at 2026-01-01 by default), ``orders``
    reads stock with its :class:`TokenClient` (which asks for a new token 30 s
    before the old one expires) and the attacker sends the copied token. One row
    per call: t (s since the theft), caller (``orders`` or ``attacker``),
    status, reason. ``attrs``: ``ttl``, ``minutes`` and ``token_requests`` (how
    many tokens ``orders`` asked the token service for).
    """
    from labsvc.core.clock import FakeClock
    from labsvc.core.errors import ConfigurationError
    from labsvc.core.network import Network

    if not (isinstance(ttl, (int, float)) and not isinstance(ttl, bool) and 30 < ttl <= 86_400):
        raise ConfigurationError(f"ttl={ttl!r} must be a number of seconds above 30 (the client renews 30 s before "
                                 f"expiry) and at most a day")
    clock = clock if clock is not None else FakeClock(start=1_767_225_600)
    net = Network(seed=12, name=name)
    net.add("auth", lambda: demo_token_service(clock=clock, ttl=ttl))
    net.add("inventory", lambda: inventory_app(clock=clock))
    rows: list[dict[str, Any]] = []
    async with net:
        c = net.client("orders")
        tokens = TokenClient("orders", DEMO_SECRETS["orders"], scope="stock:read stock:write", resource="inventory",
                             clock=clock)
        t0, stolen = clock.now(), None
        for _ in range(int(minutes * 60 / every)):
            headers = await tokens.headers(c)
            stolen = stolen or dict(headers)  # copied from a log line or a proxy at the first call
            for caller, sent in (("orders", headers), ("attacker", stolen)):
                r = await c.get("http://inventory.svc/stock/sku-1", headers=sent)
                rows.append({"t": clock.now() - t0, "caller": caller, "status": r.status_code,
                             "reason": r.json().get("reason", "") if r.status_code >= 400 else ""})
            clock.advance(every)
    frame = pd.DataFrame(rows, columns=["t", "caller", "status", "reason"])
    frame.attrs.update(ttl=float(ttl), minutes=float(minutes), token_requests=tokens.requests)
    return frame
