"""The exceptions labsvc raises.

Every error says what was wrong and how to fix it. They share one base,
:class:`LabsvcError`, so a notebook can catch all of them at once, and each
also derives from the built-in exception a Python user would expect
(``ValueError`` for a bad argument, ``LookupError`` for an unknown name).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

__all__ = [
    "LabsvcError",
    "ConfigurationError",
    "UnknownServiceError",
    "UnknownInstanceError",
    "DuplicateInstanceError",
    "NetworkStateError",
    "InstanceDownError",
    "PartitionError",
    "ProcessModeError",
    "check_name",
]


class LabsvcError(Exception):
    """Base class of every labsvc error."""


class ConfigurationError(LabsvcError, ValueError):
    """An argument is out of range or malformed (e.g. error rate 1.5)."""


class UnknownServiceError(LabsvcError, LookupError):
    """A name or URL refers to a service the network does not have."""


class UnknownInstanceError(LabsvcError, LookupError):
    """A name refers to an instance the network does not have."""


class DuplicateInstanceError(LabsvcError, ValueError):
    """A service or instance name is already taken on this network."""


class NetworkStateError(LabsvcError, RuntimeError):
    """The network is not in a state that allows this (e.g. not started)."""


class ProcessModeError(LabsvcError, RuntimeError):
    """A service cannot run as a separate process (e.g. not importable)."""


class InstanceDownError(httpx.ConnectError, LabsvcError):
    """The instance refused the connection because it is down.

    It is an ``httpx.ConnectError``, so code that handles connection errors
    from a real network handles this one the same way.
    """


class PartitionError(httpx.ConnectError, LabsvcError):
    """A network partition separates the caller from the callee."""


_NAME = re.compile(r"[A-Za-z0-9_.:-]+")


def check_name(value: Any, what: str, example: str = "orders") -> str:
    """``value`` if it is a usable name (letters, digits, ``- _ . :``), else a ConfigurationError."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ConfigurationError(
            f"{what}={value!r} is not a valid name; use letters, digits, '-', '_', '.' or ':' (e.g. {example!r})"
        )
    return value
