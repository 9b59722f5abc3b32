"""Notebook 05's experiments: how mature each API is, and a service starting with no configuration.

Defined here:

- :func:`maturity_table`: :func:`~labsvc.api.rest_maturity` of several APIs
  (the example APIs of levels 0-3, the catalog contract, the catalog backend),
  one row each, drawn by :func:`labsvc.api.plots.plot_maturity`;
- :func:`start_without_config`: the guide asks that a microservice start
  without any setup (its example is Spring Boot with an embedded server).
  It runs ``python -m labsvc serve <module:attr>`` as a real process with an
  **empty environment** (no variables at all, not even ``PATH`` or
  ``HOME``), waits for the line that says where it listens, calls it, and
  stops it. Every row of the result is one observation.

The notebook's other runs come from the modules of the piece they check and
are importable from here too: :func:`frontend_test` (the storefront against
the mock, then the backend), :func:`contract_test` (a running API against
the contract), :func:`rest_maturity` (one API's level, with its probe
observations) and :func:`docs_through_proxy` (Swagger UI through
jupyter-server-proxy).
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from typing import Any

import httpx
import pandas as pd

from labsvc.api._contract_test import contract_test
from labsvc.api._frontend import frontend_test
from labsvc.api._maturity import rest_maturity
from labsvc.api._swagger import docs_through_proxy
from labsvc.core.errors import ProcessModeError

__all__ = ["maturity_table", "start_without_config", "frontend_test", "contract_test", "rest_maturity",
           "docs_through_proxy"]

_SERVING = re.compile(rb"on http://127\.0\.0\.1:(\d+)")


def maturity_table(apis: dict[str, Any], *, probe: bool = True) -> pd.DataFrame:
    """:func:`rest_maturity` of each API: one row with the level, each criterion and why it stops there."""
    rows = []
    for label, target in apis.items():
        m = rest_maturity(target, probe=probe, name=label)
        rows.append({"api": label, "level": m.level, **{c: ok for c, ok in m.criteria.items()}, "why": m.why})
    return pd.DataFrame(rows, columns=["api", "level", "resources", "verbs", "status codes", "hypermedia", "why"])


async def start_without_config(
    target: str = "labsvc.api:catalog_backend",
    *,
    paths: tuple[str, ...] = ("/health", "/products?limit=3"),
    timeout: float = 30.0,
) -> pd.DataFrame:
    """Start ``target`` with ``python -m labsvc serve`` and an empty environment; call ``paths``; stop it.

    Returns one row per observation: the environment size, the start-up
    time, each call's status and a glimpse of its body, and how the
    process ended after SIGTERM (0 = the lifespan shut down cleanly).
    """
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "labsvc", "serve", target, "--port", "0",
        env={}, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    rows = [{"observation": "environment variables given", "value": "0 (env={})"}]
    try:
        output = b""
        port = None
        deadline = time.perf_counter() + timeout
        while port is None:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise ProcessModeError(f"{target} did not report its port within {timeout:g} s; output: {output[-500:]!r}")
            line = await asyncio.wait_for(proc.stdout.readline(), remaining)
            if not line:
                raise ProcessModeError(f"{target} exited before serving (code {await proc.wait()}); output: {output[-500:]!r}")
            output += line
            match = _SERVING.search(line)
            if match:
                port = int(match.group(1))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as http:
            first = await http.get(paths[0])
            rows.append({"observation": "started and answering after", "value": f"{time.perf_counter() - t0:.2f} s"})
            rows.append({"observation": "listening on", "value": f"127.0.0.1:{port}"})
            for i, path in enumerate(paths):
                r = first if i == 0 else await http.get(path)
                rows.append({"observation": f"GET {path}", "value": f"{r.status_code} {_glimpse(r.text)}"})
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                code = await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                code = await proc.wait()
            rows.append({"observation": "exit code after SIGTERM", "value": str(code)})
    return pd.DataFrame(rows, columns=["observation", "value"])


def _glimpse(text: str, width: int = 40) -> str:
    """The start of a response body, short enough for a table cell (pandas cuts cells past 50 characters)."""
    return text if len(text) <= width else text[:width - 1] + "…"
