"""Calling another service's API from a handler, and what its failures become."""

from __future__ import annotations

from typing import Any

import httpx

from labsvc.core.problems import Problem, problem_type

__all__ = ["fetch_json", "problem_of"]


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The problem document in ``response`` (an empty dict if the body is not JSON)."""
    try:
        doc = response.json()
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


async def fetch_json(client: Any, method: str, url: str, *, json: Any = None, timeout: float | None = None) -> Any:
    """Call ``url`` and return its JSON; a failure becomes this service's problem.

    Unreachable or failing (5xx) dependencies give 503 ``dependency-unavailable``:
    the caller is fine, something it needs is not. A 4xx answer keeps its
    status, title and type, so a 404 from the dependency stays a 404.
    """
    kw: dict[str, Any] = {"json": json}
    if timeout is not None:
        kw["timeout"] = timeout
    try:
        r = await client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        raise Problem(503, "Dependency unavailable", type=problem_type("dependency-unavailable"),
                      detail=f"{method} {url} failed: {type(exc).__name__}") from None
    if r.status_code >= 500:
        doc = problem_of(r)
        raise Problem(503, "Dependency unavailable", type=problem_type("dependency-unavailable"),
                      detail=f"{method} {url} answered {r.status_code}: {doc.get('detail', '')}".rstrip(": "),
                      dependency_problem=doc or None)
    if r.status_code >= 400:
        doc = problem_of(r)
        raise Problem(r.status_code, doc.get("title"), type=doc.get("type", "about:blank"),
                      detail=doc.get("detail", f"{method} {url} answered {r.status_code}"))
    return r.json()
