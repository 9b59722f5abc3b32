"""Two small services that run alone (no labsvc network): ``front`` calls ``back`` by its .svc URL."""

from __future__ import annotations

import asyncio

import httpx

from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import Request, app_client, create_service, http, instance_name

back = create_service("back")


@back.get("/echo")
async def echo(request: Request) -> dict:
    return {"traceparent": request.headers.get("traceparent", ""), "instance": instance_name(request)}


@back.get("/slow")
async def slow(seconds: float = 3.0) -> dict:
    await asyncio.sleep(min(seconds, 5.0))
    return {"slept": seconds}


front = create_service("front")


@front.get("/chain")
async def chain(request: Request, upstream: str = "back") -> dict:
    r = await http(request).get(f"http://{upstream}.svc/echo")
    return {"status": r.status_code, "back": r.json()}


@front.get("/background")
async def background() -> dict:
    r = await app_client(front).get("http://back.svc/echo")
    return {"status": r.status_code, "back": r.json()}


@front.get("/slow")
async def slow_call(request: Request) -> dict:
    try:
        r = await http(request, timeout=0.3).get("http://back.svc/slow?seconds=3")
    except httpx.TimeoutException as exc:
        raise Problem(504, "Upstream timeout", type=problem_type("upstream-timeout"),
                      detail=f"back did not answer within 0.3 s ({type(exc).__name__})") from None
    return {"status": r.status_code}


@front.get("/missing")
async def missing(request: Request) -> dict:
    r = await http(request).get("http://back.svc/no-such-route")
    return {"status": r.status_code, "content_type": r.headers.get("content-type"), "problem": r.json()}


@front.get("/gone")
async def gone(request: Request) -> dict:
    try:
        await http(request, timeout=2.0).get("http://gone.svc/echo")
    except httpx.ConnectError as exc:
        raise Problem(503, "Dependency unavailable", type=problem_type("dependency-unavailable"),
                      detail=f"{type(exc).__name__}: {exc}") from None
    return {}
