"""What counts as a failure: the exception filters the breaker, retry and fallback share.

An :data:`ExceptionFilter` is an exception class, a tuple of them, or a
predicate ``exc -> bool``, like resilience4j's ``recordExceptions`` /
``ignoreExceptions`` and their predicate forms. Returned values count as
failures through a ``result -> bool`` predicate (resilience4j's
``recordResult``), e.g. :func:`is_server_error`; the value is then carried
by a :class:`ResultRecordedAsFailure`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labsvc.core.errors import ConfigurationError, LabsvcError


class ResultRecordedAsFailure(LabsvcError):
    """Stands for a returned value that ``record_result`` counts as a failure."""

    def __init__(self, name: str, result: Any) -> None:
        self.result = result
        super().__init__(f"circuit breaker {name!r} recorded the result {result!r} as a failure")


def is_server_error(result: Any) -> bool:
    """True for an httpx-style response with status 500 or more.

    Use it as ``record_result`` so a breaker counts 5xx replies as failures
    (httpx returns them; it only raises for transport errors).

    >>> import httpx
    >>> is_server_error(httpx.Response(503)), is_server_error(httpx.Response(404))
    (True, False)
    """
    status = getattr(result, "status_code", None)
    return isinstance(status, int) and status >= 500


ExceptionFilter = type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]


def _matches(spec: ExceptionFilter, exc: BaseException) -> bool:
    if isinstance(spec, type | tuple):
        return isinstance(exc, spec)
    return bool(spec(exc))


def _check_filter(spec: Any, name: str) -> None:
    classes = spec if isinstance(spec, tuple) else (spec,)
    if isinstance(spec, type | tuple):
        if all(isinstance(c, type) and issubclass(c, BaseException) for c in classes):
            return
    elif callable(spec):
        return
    raise ConfigurationError(
        f"{name}={spec!r} must be an exception class, a tuple of them, or a predicate "
        f"exc -> bool; e.g. {name}=(httpx.TransportError,)"
    )
