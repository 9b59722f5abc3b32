"""{cipher} values: encrypted at rest, served encrypted, decrypted only for a config:decrypt token."""

from __future__ import annotations

import asyncio

import pytest

from labsvc import FakeClock, Network
from labsvc.auth import DEMO_SECRETS, TokenClient, demo_token_service
from labsvc.config import ConfigCipher, demo_config_server, is_cipher
from labsvc.core.errors import ConfigurationError
from labsvc.core import simtime


def test_a_cipher_round_trips_and_refuses_a_foreign_or_altered_value():
    a, b = ConfigCipher(), ConfigCipher()
    stored = a.encrypt("pa55")
    assert is_cipher(stored) and "pa55" not in stored and a.decrypt(stored) == "pa55"
    with pytest.raises(ConfigurationError, match="not encrypted with this server's key"):
        b.decrypt(stored)
    with pytest.raises(ConfigurationError, match="not an encrypted value"):
        a.decrypt("pa55")
    with pytest.raises(ConfigurationError, match="Fernet key"):
        ConfigCipher(b"short")


def test_secrets_are_never_served_in_clear_without_the_decrypt_scope():
    async def scenario():
        clock = FakeClock(start=1_700_000_000)
        net = Network(seed=4, name="cipher-tests")
        net.add("auth", lambda: demo_token_service(clock=clock))
        net.add("config", lambda: demo_config_server(clock=clock))
        async with net:
            c = net.client("tester")
            url = "http://config.svc/greeting/prod"
            anonymous = await c.get(url)
            reader = await TokenClient("config-reader", DEMO_SECRETS["config-reader"], resource="config",
                                       clock=clock).headers(c)
            decrypted = await c.get(url, headers=reader)
            ops = await TokenClient("ops", DEMO_SECRETS["ops"], scope="config:write", resource="config",
                                    clock=clock).headers(c)
            short_scope = await c.get(url, headers=ops)
            forged = await c.get(url, headers={"authorization": "Bearer x.y.z"})
            write_anon = await c.put("http://config.svc/repository/main/greeting", json={"a": 1})
            write_ops = await c.put("http://config.svc/repository/main/greeting", json={"a": 1}, headers=ops)
            return anonymous, decrypted, short_scope, forged, write_anon, write_ops

    anonymous, decrypted, short_scope, forged, write_anon, write_ops = simtime.run(scenario())
    password = lambda r: next(s["source"]["db.password"] for s in r.json()["propertySources"]  # noqa: E731
                              if "db.password" in s["source"])
    assert anonymous.status_code == 200 and is_cipher(password(anonymous))
    assert anonymous.json()["decrypted"] is False and anonymous.json()["encrypted_keys"] == ["db.password"]
    assert decrypted.status_code == 200 and password(decrypted) == "pa55-w0rd" and decrypted.json()["decrypted"]
    assert short_scope.status_code == 403 and short_scope.json()["reason"] == "insufficient_scope"
    assert forged.status_code == 401 and forged.headers["content-type"] == "application/problem+json"
    assert write_anon.status_code == 401 and write_ops.status_code == 200
    assert write_ops.json()["version"] == 6  # five seeded changes on main, then this one
