"""Mutual TLS for process mode: a private CA, a certificate per instance, and a client certificate.

With **mutual TLS** both ends of a connection show a certificate signed by a
CA they both trust: the server proves it is ``inventory-1``, and the client
proves it is a member of the network. A connection without a client
certificate is refused during the TLS handshake, before any HTTP is spoken,
which is what a service mesh (Istio, Linkerd) does between sidecars.

:class:`CertificateAuthority` makes everything with ``cryptography`` (ECDSA
P-256 keys, SHA-256 signatures) into a temporary directory that
:meth:`CertificateAuthority.cleanup` removes. ``Network(mode="process",
mtls=True)`` uses one: each uvicorn process serves HTTPS with its own
certificate and requires a client certificate (``ssl_cert_reqs=CERT_REQUIRED``),
the network's client and proxy present the network's client certificate,
and the children present theirs to the proxy.

>>> ca = CertificateAuthority()
>>> cert, key = ca.issue("inventory-1", server=True)
>>> ctx = ca.client_context()              # trusts the CA, presents the client certificate
>>> ca.cleanup()
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertificateAuthority", "probe_tls", "ENV_TLS_CERT", "ENV_TLS_KEY", "ENV_TLS_CA"]

ENV_TLS_CERT = "LABSVC_TLS_CERT"
ENV_TLS_KEY = "LABSVC_TLS_KEY"
ENV_TLS_CA = "LABSVC_TLS_CA"
_VALID = datetime.timedelta(days=1)  # the certificates live as long as a network, not longer


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "labsvc"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class CertificateAuthority:
    """A throw-away CA in a temporary directory; :meth:`issue` signs certificates with it."""

    def __init__(self, name: str = "labsvc network CA") -> None:
        self.directory = tempfile.mkdtemp(prefix="labsvc-tls-")
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + _VALID)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = self._write("ca.pem", self.certificate.public_bytes(serialization.Encoding.PEM))
        self._issued: dict[str, tuple[str, str]] = {}
        self.client_cert, self.client_key = self.issue("labsvc-network", server=False)

    def _write(self, filename: str, data: bytes) -> str:
        path = os.path.join(self.directory, filename)
        with open(path, "wb") as fh:
            fh.write(data)
        os.chmod(path, 0o600)
        return path

    def issue(self, name: str, *, server: bool = True) -> tuple[str, str]:
        """Files ``(certificate, key)`` for ``name``; server certificates are valid for 127.0.0.1 and ``name``.

        Every certificate can also act as a client (a child calls the proxy with it).
        """
        if name in self._issued:
            return self._issued[name]
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if server else [])
        builder = (
            x509.CertificateBuilder().subject_name(_name(name)).issuer_name(self.certificate.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + _VALID)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName(name), x509.DNSName(f"{name}.svc"),
            ]), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        cert_file = self._write(f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM))
        key_file = self._write(f"{name}.key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self._issued[name] = (cert_file, key_file)
        return cert_file, key_file

    def client_context(self, *, with_certificate: bool = True, cert: str | None = None,
                       key: str | None = None) -> ssl.SSLContext:
        """An SSL context that trusts this CA and (by default) presents the network's client certificate."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        if with_certificate:
            ctx.load_cert_chain(cert or self.client_cert, key or self.client_key)
        return ctx

    def server_options(self, name: str) -> dict:
        """Keyword arguments for ``uvicorn.Config``: serve as ``name`` and require a client certificate."""
        cert, key = self.issue(name, server=True)
        return {"ssl_certfile": cert, "ssl_keyfile": key, "ssl_ca_certs": self.ca_file,
                "ssl_cert_reqs": ssl.CERT_REQUIRED}

    def cleanup(self) -> None:
        """Delete the directory with every key and certificate."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def __repr__(self) -> str:
        return f"CertificateAuthority(directory={self.directory!r}, issued={sorted(self._issued)})"


async def probe_tls(url: str, context: ssl.SSLContext) -> int | str:
    """GET ``url`` with ``context``: the HTTP status, or the name of the error that ended the attempt.

    For showing what a server under mutual TLS does with a client that has
    no certificate (the handshake fails: ``ConnectError`` or ``ReadError``).
    """
    import httpx

    try:
        async with httpx.AsyncClient(verify=context, trust_env=False) as client:
            return (await client.get(url, timeout=10.0)).status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__
