"""The catalog starts with no configuration at all."""

import asyncio
import os
import subprocess
import sys

import pytest

from labsvc import Network
from labsvc.api import CatalogSettings, catalog_backend, start_without_config
from labsvc.core import simtime


def test_in_process_it_needs_no_settings_and_no_environment(monkeypatch, serve):
    for name in CatalogSettings.ENV.values():
        monkeypatch.delenv(name, raising=False)

    async def scenario():
        async with serve(catalog_backend) as net:
            return await net.client("web").get("http://catalog.svc/products", params={"limit": 2})

    r = simtime.run(scenario())
    assert r.status_code == 200 and r.json()["total"] == 10


@pytest.mark.slow
def test_python_m_labsvc_serve_starts_it_with_an_empty_environment():
    table = simtime.run(start_without_config("labsvc.api:catalog_backend")).set_index("observation")["value"]
    assert table["environment variables given"] == "0 (env={})"
    assert table["GET /health"].startswith("200 ")
    assert table["GET /products?limit=3"].startswith('200 {"items":[{"sku":"BEA-001"')
    assert float(table["started and answering after"].split()[0]) < 30


@pytest.mark.slow
def test_the_child_really_gets_no_environment():
    out = subprocess.run([sys.executable, "-c", "import os, labsvc.api; print(len(os.environ))"], env={},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() in {"0", "1"}  # Python may add LC_CTYPE itself


@pytest.mark.slow
def test_process_mode_starts_it_by_import_string():
    async def scenario():
        net = Network(mode="process", name="api-test-zeroconf")
        net.add("catalog", "labsvc.api:catalog_backend")
        async with net:
            return await net.client("web").get("http://catalog.svc/products/BEA-001")

    assert simtime.run(scenario()).json()["price"] == 14.0
    assert "CATALOG_DATABASE" not in os.environ
