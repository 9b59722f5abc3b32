"""Swagger UI through jupyter-server-proxy: the root_path and URL logic."""

import asyncio
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from labsvc import ConfigurationError, Network
from labsvc.api import (
    ForwardedPrefixMiddleware,
    catalog_backend,
    docs_through_proxy,
    jupyter_base_url,
    proxy_root_path,
    swagger_url,
)
from labsvc.core import simtime

URL = "http://catalog.svc"


def test_root_path_is_base_url_plus_proxy_and_port(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    assert proxy_root_path(8123) == "/proxy/8123"
    assert proxy_root_path(8123, "/user/ann") == "/user/ann/proxy/8123"
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ann/")
    assert jupyter_base_url() == "/user/ann/" and proxy_root_path(8123) == "/user/ann/proxy/8123"
    assert jupyter_base_url("/lab-base") == "/lab-base/"


@pytest.mark.parametrize("port, base", [(0, None), (70000, None), ("8000", None), (8000, "user/ann")])
def test_bad_ports_and_base_urls_are_refused(port, base):
    with pytest.raises(ConfigurationError):
        proxy_root_path(port, base)


def test_swagger_needs_process_mode():
    net = Network(name="api-test-swagger-inprocess")
    net.add("catalog", catalog_backend)
    with pytest.raises(ConfigurationError, match="mode='process'"):
        swagger_url(net, "catalog-1")


@pytest.mark.parametrize("prefix, expected", [
    ("/user/ann/proxy/8123", "/user/ann/proxy/8123/openapi.json"),
    ("/proxy/8123/", "/proxy/8123/openapi.json"),
    ("/proxy/absolute/8123", "/proxy/absolute/8123/openapi.json"),
    ("https://evil.example/proxy/1", "/openapi.json"),  # not a proxy prefix: ignored
    ("/somewhere/else", "/openapi.json"),
])
def test_the_forwarded_prefix_becomes_the_root_path_of_the_docs(serve, prefix, expected):
    async def scenario():
        async with serve(catalog_backend) as net:
            c = net.client("browser")
            docs = await c.get(f"{URL}/docs", headers={"x-forwarded-prefix": prefix})
            product = await c.get(f"{URL}/products/BEA-001", headers={"x-forwarded-prefix": prefix})
            return docs, product, net.calls

    docs, product, calls = simtime.run(scenario())
    assert f"url: '{expected}'" in docs.text
    assert product.status_code == 200
    assert calls["route"].iloc[-1] == "/products/{sku}"  # the middleware keeps the route visible to the network


def test_a_fixed_root_path_wins_over_headers():
    seen = {}

    async def app(scope, receive, send):
        seen["root_path"] = scope["root_path"]

    scope = {"type": "http", "root_path": "", "headers": [(b"x-forwarded-prefix", b"/proxy/1")]}
    simtime.run(ForwardedPrefixMiddleware(app, root_path="/proxy/8000/")(scope, None, None))
    assert seen["root_path"] == "/proxy/8000"


@pytest.mark.slow
def test_swagger_url_and_a_replayed_proxy_in_process_mode(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ann/")

    async def scenario():
        net = Network(mode="process", name="api-test-swagger")
        net.add("catalog", "labsvc.api:catalog_backend")
        async with net:
            port = net.instance("catalog-1").process.port
            return port, swagger_url(net, "catalog-1"), await docs_through_proxy(net, "catalog-1")

    port, url, table = simtime.run(scenario())
    assert url == f"/user/ann/proxy/{port}/docs"
    assert list(table["status"]) == [200, 200]
    assert list(table["browser asks for"]) == [url, f"/user/ann/proxy/{port}/openapi.json"]
    assert table["note"].iloc[-1] == f"OpenAPI 3.1.0; 'Try it out' calls /user/ann/proxy/{port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.slow
def test_through_a_real_jupyter_server_proxy(tmp_path):
    """A Jupyter server with base URL /user/ann/ and jupyter-server-proxy serves the instance's Swagger UI."""
    pytest.importorskip("jupyter_server_proxy")
    token, jport = secrets.token_hex(8), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env |= {"JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERHUB_SERVICE_PREFIX": "/user/ann/"}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", "--ip=127.0.0.1", f"--port={jport}",
         "--ServerApp.base_url=/user/ann/", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
         "--ServerApp.port_retries=0", *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{jport}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{base}/user/ann/api/status?token={token}")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "jupyter server did not start"
            time.sleep(0.2)

        async def scenario():
            net = Network(mode="process", name="api-test-jsp")
            net.add("catalog", "labsvc.api:catalog_backend")
            async with net:
                url = swagger_url(net, "catalog-1", base_url="/user/ann/")
                status, page = await asyncio.to_thread(_get, f"{base}{url}?token={token}")
                spec_url = re.search(r"url: '([^']+)'", page).group(1)
                spec_status, spec = await asyncio.to_thread(_get, f"{base}{spec_url}?token={token}")
                p_status, product = await asyncio.to_thread(
                    _get, f"{base}{url.removesuffix('/docs')}/products/BEA-001?token={token}")
                return url, status, spec_url, spec_status, spec, p_status, product

        url, status, spec_url, spec_status, spec, p_status, product = simtime.run(scenario())
    finally:
        server.terminate()
        server.wait(10)
    assert status == 200 and spec_url == url.removesuffix("/docs") + "/openapi.json"
    assert spec_status == 200 and '"openapi":"3.1.0"' in spec
    assert p_status == 200 and '"sku":"BEA-001"' in product
