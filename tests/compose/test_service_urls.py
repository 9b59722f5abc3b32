"""A service that runs alone finds the others through the service URL map (no labsvc network, no proxy).

Two real uvicorn processes on 127.0.0.1 (``python -m labsvc serve``, as a
learner runs a service alone): ``front`` calls ``http://back.svc`` and
``http://localhost.svc``; the map in its environment says where they are.
The calls keep the caller's trace, timeout and problem documents.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from labsvc.core.client import Outbound
from labsvc.core.errors import ConfigurationError, InstanceDownError, NetworkStateError
from labsvc.core.service import DirectHop, create_service, http, service_url
from labsvc.core import simtime

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TEMPLATE = "LABSVC_SERVICE_URL_TEMPLATE"


# ------------------------------------------------------------------ the map itself
def test_the_template_and_the_per_service_variable():
    env = {TEMPLATE: "http://{name}:8000", "LABSVC_URL_CATALOG_2": "http://127.0.0.1:8012"}
    assert service_url("http://orders.svc/orders/7?full=1", env) == "http://orders:8000/orders/7?full=1"
    assert service_url("http://catalog-2.svc/products", env) == "http://127.0.0.1:8012/products"
    assert service_url("http://catalog.svc", env) == "http://catalog:8000/"
    assert service_url("http://10.1.2.3:8000/health", env) == "http://10.1.2.3:8000/health"  # not a .svc name


def test_a_map_that_cannot_work_says_what_to_set():
    with pytest.raises(NetworkStateError, match=r"LABSVC_SERVICE_URL_TEMPLATE.*LABSVC_URL_ORDERS"):
        service_url("http://orders.svc/orders", {})
    with pytest.raises(ConfigurationError, match=r"no '\{name\}'"):
        service_url("http://orders.svc/orders", {TEMPLATE: "http://orders:8000"})
    with pytest.raises(ConfigurationError, match="not an http"):
        service_url("http://orders.svc/orders", {"LABSVC_URL_ORDERS": "orders:8000"})


def test_without_a_map_a_lone_app_is_told_how_to_call_others(monkeypatch):
    for k in list(os.environ):
        if k == TEMPLATE or k.startswith("LABSVC_URL_"):
            monkeypatch.delenv(k)
    from starlette.requests import Request

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "app": create_service("alone")})
    with pytest.raises(NetworkStateError, match="LABSVC_SERVICE_URL_TEMPLATE"):
        http(request)


def test_a_refused_connection_is_an_instance_down_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hop = DirectHop({"LABSVC_URL_GONE": f"http://127.0.0.1:{port}"})
    out = Outbound("GET", "http://gone.svc/x", "gone.svc", "/x", "", [], b"", 1.0, "me", "me", "t" * 32)

    async def main():
        try:
            await hop(out)
        finally:
            await hop.aclose()

    with pytest.raises(InstanceDownError, match="gone.svc at 127.0.0.1"):
        simtime.run(main())


# ------------------------------------------------------------------ two real processes
def _serve(target: str, env: dict[str, str], deadline: float = 60.0) -> tuple[subprocess.Popen, int]:
    """Start ``python -m labsvc serve target`` on a free port; its process and port (bounded wait)."""
    child_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "labsvc", "serve", target], env=child_env, cwd=str(HERE),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    seen, end = [], time.monotonic() + deadline
    try:
        while time.monotonic() < end:
            if not selector.select(timeout=max(0.0, end - time.monotonic())):
                break
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "serving" in line and "http://127.0.0.1:" in line:
                return proc, int(line.rsplit(":", 1)[1])
    finally:
        selector.close()
    proc.kill()
    proc.wait()
    raise AssertionError(f"{target} did not start within {deadline} s: {''.join(seen)[-2000:]}")


@pytest.fixture(scope="module")
def front_url():
    procs = []
    try:
        back, back_port = _serve("aloneapps:back", {})
        procs.append(back)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed_port = s.getsockname()[1]
        front, front_port = _serve("aloneapps:front", {
            "LABSVC_URL_BACK": f"http://127.0.0.1:{back_port}",
            "LABSVC_URL_GONE": f"http://127.0.0.1:{closed_port}",
            # 'localhost' resolves without DNS: the template's {name} path, for real.
            TEMPLATE: f"http://{{name}}:{back_port}",
            "LABSVC_INSTANCE": "front-1",
        })
        procs.append(front)
        yield f"http://127.0.0.1:{front_port}"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.mark.slow
def test_a_lone_service_calls_another_by_name_and_the_trace_goes_on(front_url):
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}
    with httpx.Client(trust_env=False, timeout=10) as client:
        by_variable = client.get(f"{front_url}/chain", headers=headers).json()
        by_template = client.get(f"{front_url}/chain", params={"upstream": "localhost"}, headers=headers).json()
        background = client.get(f"{front_url}/background").json()
    for answer in (by_variable, by_template):
        assert answer["status"] == 200
        assert answer["back"]["traceparent"].split("-")[1] == trace, "the trace id travelled to back"
    assert background["status"] == 200 and background["back"]["traceparent"].startswith("00-")


@pytest.mark.slow
def test_timeouts_and_problem_documents_survive_the_hop(front_url):
    with httpx.Client(trust_env=False, timeout=10) as client:
        t = time.monotonic()
        slow = client.get(f"{front_url}/slow")
        elapsed = time.monotonic() - t
        missing = client.get(f"{front_url}/missing").json()
        gone = client.get(f"{front_url}/gone")
    assert slow.status_code == 504 and "ReadTimeout" in slow.json()["detail"]
    assert elapsed < 2.5, f"the caller's 0.3 s timeout was not applied ({elapsed:.2f} s)"
    assert missing["status"] == 404 and missing["content_type"] == "application/problem+json"
    assert missing["problem"]["status"] == 404
    assert gone.status_code == 503 and gone.headers["content-type"] == "application/problem+json"
    assert gone.json()["detail"].startswith("InstanceDownError: cannot connect to gone.svc")
