"""stolen_token: a copied access token works until it expires, and a shorter lifetime costs more token requests."""

from __future__ import annotations

import pytest

from labsvc.auth.lab import stolen_token
from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError


def _run(ttl, **kw):
    return simtime.run(stolen_token(ttl=ttl, minutes=kw.pop("minutes", 10), name=f"stolen-{ttl}", **kw))


@pytest.mark.parametrize("ttl", [90, 200])
def test_the_copy_works_until_its_expiry_and_then_is_refused_as_expired(ttl):
    calls = _run(ttl)
    thief = calls[calls["caller"] == "attacker"]
    refused = thief[thief["status"] == 401]
    assert float(refused["t"].min()) == ttl                 # calls every 10 s; exp = iat + ttl
    assert set(refused["reason"]) == {"expired"}
    assert (thief.loc[thief["t"] < ttl, "status"] == 200).all()
    assert (calls.loc[calls["caller"] == "orders", "status"] == 200).all()   # the owner renews in time


def test_the_owner_renews_30_seconds_before_expiry():
    # 10 minutes: a new token every ttl - 30 s, at t = 0, 60, 120, ... (ttl 90) or 0, 170, 340, 510 (ttl 200)
    assert _run(90).attrs["token_requests"] == 10
    assert _run(200).attrs["token_requests"] == 4
    assert _run(90).attrs == {"ttl": 90.0, "minutes": 10.0, "token_requests": 10}


def test_a_run_is_the_same_twice():
    first, second = _run(120), _run(120)
    assert first.equals(second)


@pytest.mark.parametrize("ttl", [30, 0, -5, "300", True, 100_000])
def test_a_lifetime_the_client_cannot_renew_within_is_refused(ttl):
    with pytest.raises(ConfigurationError, match="ttl="):
        simtime.run(stolen_token(ttl=ttl))
