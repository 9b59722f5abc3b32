"""Proof that a service starts with no configuration at all.

The guide asks that a microservice start without any setup (its example is
Spring Boot with an embedded server). :func:`start_without_config` runs
``python -m labsvc serve <module:attr>`` as a real process with an **empty
environment** (no variables at all, not even ``PATH`` or ``HOME``), waits
for the line that says where it listens, calls it, and stops it. Every
row of the result is one observation.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time

import httpx
import pandas as pd

from ..errors import ProcessModeError

__all__ = ["start_without_config"]

_SERVING = re.compile(rb"on http://127\.0\.0\.1:(\d+)")


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
                rows.append({"observation": f"GET {path}", "value": f"{r.status_code} {r.text[:70]}"})
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
