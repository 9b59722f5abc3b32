"""On the wire: an authorised config answer carries the secret in clear over HTTP, and nothing readable over mTLS."""

from __future__ import annotations

import asyncio

import pytest

from labsvc.config.wire import SECRET, WireCapture, eavesdrop, wire_views
from labsvc.core.errors import ConfigurationError


def test_plain_http_shows_the_decrypted_secret_and_the_token_to_anyone_on_the_wire():
    seen = asyncio.run(eavesdrop(tls=False))
    assert (seen.status, seen.received) == (200, SECRET)   # the client asked with config:decrypt
    assert seen.shows(SECRET) and seen.shows(seen.token) and seen.shows("GET /greeting/prod HTTP/1.1")
    assert seen.readable() == f'"db.password":"{SECRET}"'
    assert seen.to_server.startswith(b"GET /greeting/prod HTTP/1.1")


def test_mutual_tls_leaves_the_same_answer_unreadable_on_the_wire():
    seen = asyncio.run(eavesdrop(tls=True))
    assert (seen.status, seen.received) == (200, SECRET)   # the endpoints still see the clear text
    assert len(seen.to_server) > 200 and len(seen.to_client) > 200   # the tap did see the traffic...
    assert not seen.shows(SECRET) and not seen.shows(seen.token) and not seen.shows("GET /greeting")  # ...encrypted
    assert seen.to_server[:1] == b"\x16" and seen.readable().startswith("16 03")   # a TLS handshake record first


def test_the_side_by_side_table_and_bad_arguments():
    table = asyncio.run(wire_views())
    assert table.index.tolist() == ["HTTP", "HTTPS (mutual TLS)"]
    assert table["secret readable on the wire"].tolist() == [True, False]
    assert table["the client received"].tolist() == [SECRET, SECRET]
    with pytest.raises(ConfigurationError, match="tls="):
        asyncio.run(eavesdrop(tls="yes"))  # type: ignore[arg-type]
    capture = WireCapture("HTTP", 200, "", b"", b"\x17\x03\x03", "t")
    assert "unreadable" in capture.readable() and not capture.shows("x")
