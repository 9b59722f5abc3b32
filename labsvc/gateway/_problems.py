"""The answers the gateway makes itself, and which one a failed upstream call becomes.

Every refusal is an RFC 9457 problem document (the table in
:mod:`labsvc.gateway`). :class:`Refused` carries one through the request's
steps to the endpoint, together with its outcome for the metrics
(``rejected`` for 401, ``throttled`` for 429, ``admitted`` for what went
wrong after admission); :func:`upstream_failure` maps an exception raised
while calling a service to 502, 503 or 504, and lets anything else through
(a 500: a bug, not the network).
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.responses import Response

from labsvc.core.errors import LabsvcError, UnknownServiceError
from labsvc.core.problems import problem, problem_response, problem_type
from labsvc.resilience import CallNotPermitted, CallTimeoutError


class NoInstanceAvailable(LabsvcError, LookupError):
    """Discovery knows no UP instance of the service."""


class Refused(Exception):
    """The gateway answers itself (401, 429, 502-504): a problem document and its outcome."""

    def __init__(self, outcome: str, status: int, slug: str, title: str, detail: str,
                 headers: dict | None = None, **ext: Any) -> None:
        self.outcome, self.status, self.slug, self.title, self.detail = outcome, status, slug, title, detail
        self.headers, self.ext = headers, ext

    def response(self, path: str) -> Response:
        return problem_response(self.status, self.title, type=problem_type(self.slug), detail=self.detail,
                                instance=path, headers=self.headers, **self.ext)

    def document(self) -> dict:
        return problem(self.status, self.title, type=problem_type(self.slug), detail=self.detail, **self.ext)


def upstream_failure(exc: Exception, service: str, timeout: float | None) -> Refused:
    """The problem the gateway answers when calling ``service`` raised ``exc`` (re-raised if none fits)."""
    if isinstance(exc, CallNotPermitted):
        headers = None
        if exc.retry_after is not None:
            headers = {"Retry-After": str(max(1, int(-(-exc.retry_after // 1))))}
        return Refused("admitted", 503, "circuit-open", "Circuit open",
                       f"the circuit breaker for {service!r} is {exc.state}: the gateway fails fast "
                       f"instead of calling a service that keeps failing", headers=headers, service=service)
    if isinstance(exc, (CallTimeoutError, httpx.TimeoutException)):
        return Refused("admitted", 504, "upstream-timeout", "Gateway timeout",
                       f"{service!r} did not answer within {timeout:g} s"
                       if timeout is not None else f"{service!r} did not answer in time", service=service)
    if isinstance(exc, NoInstanceAvailable):
        return Refused("admitted", 503, "no-instance", "No instance available", str(exc), service=service)
    if isinstance(exc, httpx.TransportError):
        return Refused("admitted", 502, "bad-gateway", "Bad gateway",
                       f"cannot reach {service!r}: {type(exc).__name__}", service=service)
    if isinstance(exc, UnknownServiceError):
        return Refused("admitted", 502, "bad-gateway", "Bad gateway",
                       f"the network has no service {service!r}; check the route", service=service)
    raise exc
