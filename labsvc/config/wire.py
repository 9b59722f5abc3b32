"""What someone on the wire sees of a config server's answer: plain HTTP against mutual TLS.

Spring Cloud Config decrypts ``{cipher}`` values on the server by default
(``spring.cloud.config.server.encrypt.enabled=true``) and sends the clear
text to the client; the course's config server decrypts only for a token
granting ``config:decrypt`` (its own design). Either way an *authorised*
answer carries the secret in clear inside the HTTP body, so the encryption
at rest protects the repository, not the connection: that is TLS's job.

:func:`eavesdrop` shows it with real sockets. It serves the notebook's config
server with uvicorn on 127.0.0.1 (plain HTTP, or HTTPS that requires a client
certificate, with the certificate authority of :mod:`labsvc.core.tls` that
``Network(mode="process", mtls=True)`` uses), puts a **tap** in front of it
(a TCP relay that forwards every byte and keeps a copy, as a compromised
switch or a sniffer on a shared network would), and sends one authorised
request through the tap. :class:`WireCapture` holds what the client received
and what crossed the wire; :func:`wire_views` puts both transports side by side.

The server runs on its own event loop in a thread (real sockets, real time);
what is reported is what the bytes contain, never how long anything took.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from dataclasses import dataclass
from typing import Any

import pandas as pd

from labsvc.core.errors import ConfigurationError

__all__ = ["WireCapture", "eavesdrop", "wire_views", "SECRET_KEY", "SECRET"]

#: The secret of the demo repository, and the key it is stored under.
SECRET_KEY, SECRET = "db.password", "pa55-w0rd"
_PATH = "/greeting/prod"
_STARTUP = 10.0  # real seconds the server and the tap get to start listening


@dataclass(frozen=True)
class WireCapture:
    """One request through the tap: what the client got, and the bytes each way on the wire."""

    transport: str
    status: int
    received: str          # the secret's value as the client received it
    to_server: bytes
    to_client: bytes
    token: str

    def shows(self, text: str) -> bool:
        """Whether ``text`` can be read in the bytes that crossed the wire, either way."""
        needle = text.encode()
        return needle in self.to_server or needle in self.to_client

    def readable(self, key: str = SECRET_KEY) -> str:
        """The ``"key":"value"`` pair an eavesdropper reads in the answer, or how the bytes look if it is not there."""
        found = re.search(rb'"' + re.escape(key.encode()) + rb'":"[^"]*"', self.to_client)
        if found:
            return found.group().decode("utf-8", "replace")  # the JSON text, as it was sent
        head = self.to_server[:3]
        kind = "a TLS handshake record" if head[:1] == b"\x16" else "unreadable bytes"
        return f"{head.hex(' ')} ... ({kind}; the rest encrypted)"

    def row(self) -> dict[str, Any]:
        """One line of :func:`wire_views`."""
        return {"transport": self.transport, "status": self.status, "the client received": self.received,
                "secret readable on the wire": self.shows(SECRET),
                "access token readable on the wire": self.shows(self.token),
                f"request line readable (GET {_PATH})": self.shows(f"GET {_PATH}"),
                "what the eavesdropper reads": self.readable()}


class _Tap:
    """A TCP relay from a local port to ``target``, keeping a copy of the bytes each way."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.to_server = bytearray()
        self.to_client = bytearray()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, copy: bytearray) -> None:
            try:
                while data := await src.read(65536):
                    copy.extend(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, self.to_server), pipe(up_reader, writer, self.to_client))


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


class _Served:
    """The config server under uvicorn and a tap in front of it, on an event loop in a thread of their own."""

    def __init__(self, app: Any, ssl_options: dict) -> None:
        import uvicorn

        self._server_sock, self._tap_sock = _listening_socket(), _listening_socket()
        self.tap = _Tap(self._server_sock.getsockname()[1])
        self.port = self._tap_sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                                     **ssl_options))
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="labsvc-config-wire", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            tap = await asyncio.start_server(self.tap.handle, sock=self._tap_sock)
            serving = asyncio.create_task(self._server.serve(sockets=[self._server_sock]))
            while not self._server.started and not serving.done():
                await asyncio.sleep(0.01)
            self._ready.set()
            await self._stop.wait()
            self._server.should_exit = True
            await serving
            tap.close()
            await tap.wait_closed()

        try:
            asyncio.run(main())
        finally:
            self._ready.set()
            self._server_sock.close()
            self._tap_sock.close()

    def __enter__(self) -> "_Served":
        self._thread.start()
        if not self._ready.wait(_STARTUP) or not self._server.started:
            self.__exit__()
            raise ConfigurationError(f"the config server did not start listening within {_STARTUP:g} s")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=_STARTUP)


async def eavesdrop(*, tls: bool) -> WireCapture:
    """Fetch ``greeting/prod`` with a ``config:decrypt`` token through a tap; with ``tls``, over mutual TLS.

    Builds the notebook's config server (:func:`labsvc.config.demo_repository`,
    a fresh cipher key), a token service key ring it trusts, and, with
    ``tls``, a throw-away certificate authority
    (:class:`labsvc.core.tls.CertificateAuthority`) that issues the server's
    certificate and the client's.
    """
    import httpx

    from labsvc.auth import AccessTokenIssuer, KeyRing, ResourceServer
    from labsvc.config._cipher import ConfigCipher
    from labsvc.config._demo import demo_repository
    from labsvc.config._server import DECRYPT_SCOPE, config_server
    from labsvc.core.tls import CertificateAuthority

    if not isinstance(tls, bool):
        raise ConfigurationError(f"tls={tls!r} must be True (mutual TLS) or False (plain HTTP)")
    ring = KeyRing()
    token = AccessTokenIssuer(ring).issue("config-reader", audience="config", scopes=[DECRYPT_SCOPE])
    cipher = ConfigCipher()
    app = config_server(demo_repository(cipher), cipher=cipher, resource=ResourceServer("config", jwks=ring))
    ca = CertificateAuthority() if tls else None
    try:
        ssl_options = ca.server_options("config-1") if ca is not None else {}
        verify: Any = ca.client_context() if ca is not None else True
        with _Served(app, ssl_options) as served:
            scheme = "https" if tls else "http"
            async with httpx.AsyncClient(verify=verify, trust_env=False) as client:
                response = await client.get(f"{scheme}://127.0.0.1:{served.port}{_PATH}",
                                            headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
        body = response.json()
        received = next((s["source"][SECRET_KEY] for s in body.get("propertySources", [])
                         if SECRET_KEY in s["source"]), "")
        return WireCapture("HTTPS (mutual TLS)" if tls else "HTTP", response.status_code, received,
                           bytes(served.tap.to_server), bytes(served.tap.to_client), token)
    finally:
        if ca is not None:
            ca.cleanup()


async def wire_views() -> pd.DataFrame:
    """The same authorised request over plain HTTP and over mutual TLS: what the client and the wire show."""
    return pd.DataFrame([(await eavesdrop(tls=tls)).row() for tls in (False, True)]).set_index("transport")
