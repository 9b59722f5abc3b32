"""RFC 9457 problem details: the one shape of every HTTP error in labsvc.

A problem document is a JSON object served as ``application/problem+json``
with the members ``type``, ``title``, ``status``, ``detail`` and ``instance``;
extension members (such as ``errors`` for field problems) may be added.

>>> doc = problem(404, "Order not found", detail="No order with id 42.")
>>> doc["status"], doc["type"]
(404, 'about:blank')
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["PROBLEM_JSON", "problem", "problem_response", "problem_type", "raise_for_problem", "Problem"]

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "urn:labsvc:problem:"


def problem_type(slug: str) -> str:
    """The ``type`` URI for a labsvc problem kind, e.g. ``urn:labsvc:problem:injected-fault``."""
    return _TYPE_BASE + slug


def problem(
    status: int,
    title: str | None = None,
    *,
    detail: str | None = None,
    type: str = "about:blank",
    instance: str | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """Build a problem document as a dict (``title`` defaults to the status phrase)."""
    if not 400 <= int(status) <= 599:
        raise ValueError(f"a problem document describes an error: status must be 4xx or 5xx, got {status}")
    doc: dict[str, Any] = {
        "type": type,
        "title": title or HTTPStatus(int(status)).phrase,
        "status": int(status),
    }
    if detail is not None:
        doc["detail"] = detail
    if instance is not None:
        doc["instance"] = instance
    doc.update(extensions)
    return doc


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem_response(status: int, title: str | None = None, *, headers: dict | None = None, **kw: Any) -> ProblemResponse:
    """A Starlette response carrying a problem document."""
    return ProblemResponse(problem(status, title, **kw), status_code=int(status), headers=headers)


def problem_bytes(status: int, title: str | None = None, **kw: Any) -> bytes:
    """The problem document encoded as JSON bytes (for transports and proxies)."""
    return json.dumps(problem(status, title, **kw)).encode()


class Problem(Exception):
    """Raise inside a labsvc service handler to answer with a problem document.

    >>> raise Problem(404, "Order not found", detail="No order with id 42.")  # doctest: +SKIP
    """

    def __init__(self, status: int, title: str | None = None, *, headers: dict | None = None, **kw: Any) -> None:
        self.document = problem(status, title, **kw)
        self.status = int(status)
        self.headers = headers
        super().__init__(f"{self.status} {self.document['title']}: {self.document.get('detail', '')}")

    def response(self) -> ProblemResponse:
        return ProblemResponse(self.document, status_code=self.status, headers=self.headers)


def raise_for_problem(response, errors=()) -> None:
    """Turn an error response back into the exception it stands for.

    ``errors`` is the table a server gave :func:`labsvc.core.service.install_problem_handlers`
    (rows of exception class, status, slug, title): a problem whose ``type``
    matches a row raises that class with the problem's ``detail``; a
    validation problem raises ``ConfigurationError``; anything else raises
    httpx's ``HTTPStatusError``. Successful responses pass.
    """
    if response.status_code < 400:
        return
    from labsvc.core.errors import ConfigurationError

    doc: dict[str, Any] = {}
    if response.headers.get("content-type", "").startswith(PROBLEM_JSON):
        doc = response.json()
    kind = doc.get("type", "")
    for exc, _status, slug, _title in errors:
        if kind == problem_type(slug):
            raise exc(doc.get("detail", ""))
    if kind == problem_type("validation-error"):
        raise ConfigurationError(doc.get("detail", "invalid request"))
    response.raise_for_status()
