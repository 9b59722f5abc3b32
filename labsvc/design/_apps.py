"""The app each service of a deployed decomposition runs, and factories for it.

:func:`module_app` builds one service's FastAPI app: it hosts the service's
modules at ``POST /modules/{module}`` and walks the call plan from there.
``_Hosted`` turns one registered configuration into zero-argument factories
of those apps, one per service (the registry that hands them out is
``TOPOLOGIES`` in :mod:`labsvc.design.topology`, which re-exports
:func:`module_app`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, Field

from labsvc.design._callplan import CallPlan
from labsvc.design.decomposition import _preview
from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import Request, create_service, http

_PATH = "/modules/{module}"


# -- the service ------------------------------------------------------------------


class ModuleCall(BaseModel):
    """The body of ``POST /modules/{module}``: where the request is in its walk."""

    request: int = Field(0, ge=0, description="request number: seeds the sampled calls")
    depth: int = Field(0, ge=0, description="how many calls below the entry this module is")
    visited: list[str] = Field(default_factory=list, description="modules this request has visited")


def module_app(service: str, plan: CallPlan, owners: Mapping[str, str]):
    """The FastAPI app of one deployed service: hosts the modules ``owners`` gives it.

    ``owners`` maps every module of ``plan`` to the network name of its
    service. ``POST /modules/{module}`` walks the plan from ``module``:
    local callees are function calls, remote callees HTTP calls. The answer
    lists the modules visited and how many calls were local and remote.
    ``GET /modules`` lists the hosted modules.
    """
    hosted = tuple(sorted(m for m, s in owners.items() if s == service))
    if not hosted:
        raise ConfigurationError(f"service {service!r} hosts no module; services are {sorted(set(owners.values()))}")
    missing = set(plan.calls) - set(owners)
    if missing:
        raise ConfigurationError(f"owners does not place {len(missing)} module(s) of the plan: {_preview(missing)}")
    app = create_service(service, title=f"{service} (modules: {', '.join(hosted[:4])}"
                         f"{', ...' if len(hosted) > 4 else ''})",
                         description="A service of a deployed decomposition (labsvc.design.topology).")
    hosted_set = frozenset(hosted)

    @app.get("/modules", summary="The modules this service hosts")
    async def list_modules() -> dict:
        return {"service": service, "modules": list(hosted)}

    @app.post(_PATH, summary="Serve one request that enters (or reaches) a module")
    async def call_module(module: str, request: Request, body: ModuleCall | None = None) -> dict:
        if module not in hosted_set:
            raise Problem(404, "Unknown module", type=problem_type("unknown-module"),
                          detail=f"{service} does not host module {module!r}; it hosts {list(hosted)}")
        call = body or ModuleCall()
        visited = set(call.visited) | {module}
        counts = {"local": 0, "remote": 0}
        client = http(request)

        async def visit(current: str, depth: int) -> None:
            if depth >= plan.max_depth:
                return
            for callee, p in plan.calls[current]:
                if callee in visited or not plan.follows(current, callee, p, call.request):
                    continue
                visited.add(callee)
                if owners[callee] == service:  # same service: a plain function call
                    counts["local"] += 1
                    await visit(callee, depth + 1)
                    continue
                counts["remote"] += 1
                url = f"http://{owners[callee]}.svc/modules/{callee}"
                payload = {"request": call.request, "depth": depth + 1, "visited": sorted(visited)}
                try:
                    r = await client.post(url, json=payload)
                except httpx.HTTPError as exc:
                    raise Problem(503, "Dependency unavailable", type=problem_type("dependency-unavailable"),
                                  detail=f"{current} could not call {callee} at {url}: {type(exc).__name__}")
                if r.status_code >= 400:
                    raise Problem(502, "Dependency failed", type=problem_type("dependency-failed"),
                                  detail=f"{current} called {callee} at {url} and got {r.status_code}")
                visited.update(r.json()["visited"])

        await visit(module, call.depth)
        return {"service": service, "module": module, "visited": sorted(visited),
                "local_calls": counts["local"], "remote_calls": counts["remote"]}

    return app


class _Hosted:
    """The services of one registered topology; attribute access gives app factories."""

    def __init__(self, key: str, config: Mapping[str, Any]) -> None:
        self._key = key
        self._config = config
        self._plan = CallPlan.from_dict(config["plan"])

    def __getattr__(self, service: str):
        if service.startswith("__"):
            raise AttributeError(service)
        owners = self._config["owners"]
        if service not in set(owners.values()):
            raise AttributeError(f"topology {self._key} has no service {service!r}")
        plan = self._plan

        def factory():
            return module_app(service, plan, owners)

        factory.__qualname__ = f"TOPOLOGIES.{self._key}.{service}"
        return factory
