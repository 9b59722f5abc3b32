"""Mutual TLS in process mode: the network's calls go through; a client without a certificate is refused."""

from __future__ import annotations

import asyncio
import os
import ssl

import httpx
import pytest

from labsvc import ConfigurationError, Network
from labsvc.core.tls import CertificateAuthority
from labsvc.core import simtime


def test_the_ca_issues_certificates_that_verify_against_it(tmp_path):
    from cryptography import x509

    ca = CertificateAuthority()
    try:
        cert_file, key_file = ca.issue("inventory-1")
        cert = x509.load_pem_x509_certificate(open(cert_file, "rb").read())
        ca_cert = x509.load_pem_x509_certificate(open(ca.ca_file, "rb").read())
        cert.verify_directly_issued_by(ca_cert)  # raises if the CA did not sign it
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "inventory-1.svc" in sans.get_values_for_type(x509.DNSName)
        assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
        assert ca.server_options("inventory-1")["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    finally:
        ca.cleanup()
    assert not os.path.exists(ca.directory)


def test_mtls_needs_process_mode():
    with pytest.raises(ConfigurationError, match="mode='process'"):
        Network(mtls=True)


@pytest.mark.slow
def test_mutual_tls_between_the_network_and_its_processes():
    async def scenario():
        net = Network(seed=9, mode="process", name="mtls", mtls=True)
        net.add("auth", "labsvc.auth:demo_token_service")
        net.add("inventory", "labsvc.auth:inventory_app")
        net.add("orders", "labsvc.auth:orders_app")
        async with net:
            ca = net.tls
            directory = ca.directory
            port = net.instance("inventory-1").process.port
            order = await net.client("web").post("http://orders.svc/orders/sku-1")  # child -> proxy -> child, all TLS
            with_cert = ca.client_context()
            without_cert = ca.client_context(with_certificate=False)
            async with httpx.AsyncClient(verify=with_cert) as good:
                health = await good.get(f"https://127.0.0.1:{port}/health")
            refused = None
            try:
                async with httpx.AsyncClient(verify=without_cert) as bad:
                    await bad.get(f"https://127.0.0.1:{port}/health")
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                refused = exc
            plain = None
            try:
                async with httpx.AsyncClient() as naive:
                    await naive.get(f"http://127.0.0.1:{port}/health")
            except httpx.HTTPError as exc:
                plain = exc
            calls = net.calls
        return order, health, refused, plain, calls, directory

    order, health, refused, plain, calls, directory = simtime.run(scenario())
    assert order.status_code == 201 and order.json()["reserved"] is True
    # the orders process called auth and inventory through the proxy: both hops recorded
    assert {"auth", "inventory"} <= set(calls["callee"])
    assert health.status_code == 200 and health.json()["service"] == "inventory"
    assert refused is not None, "a client without a certificate got through"
    assert plain is not None, "plain HTTP got an answer from a TLS-only server"
    assert not os.path.exists(directory)  # keys and certificates removed on stop
