"""An app's manifest: what the platform is asked to run (``cf push`` / a Deployment spec).

A manifest names the app, its code, how many instances, memory and disk,
its routes (each app has its own URL), its health checks, its environment
and, optionally, its autoscaling. :meth:`AppManifest.from_dict` reads the
shape Cloud Foundry's ``manifest.yml`` uses (``health-check-type``,
``health-check-http-endpoint``, ``routes: [{route: ...}]``), plus
Kubernetes-style ``probes`` and ``autoscaling``; a wrong field raises
:class:`ManifestError` naming it.

>>> m = AppManifest.from_dict({"name": "catalog", "app": "labsvc.shop:catalog_app", "instances": 2})
>>> m.routes, m.memory
(('catalog.svc',), '256M')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ConfigurationError
from ._probes import Probe

__all__ = ["AppManifest", "Autoscaling", "ManifestError", "HEALTH_CHECK_TYPES"]

HEALTH_CHECK_TYPES = ("port", "process", "http")
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$")
_SIZE = re.compile(r"^\d+(M|G|MB|GB)$")
_ROUTE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(/[A-Za-z0-9/_-]*)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYS = {"name", "app", "instances", "memory", "disk_quota", "routes", "health-check-type",
         "health-check-http-endpoint", "timeout", "env", "command", "probes", "autoscaling", "version"}


class ManifestError(ConfigurationError):
    """A manifest field is missing or wrong; the message names the field."""


@dataclass(frozen=True)
class Autoscaling:
    """An HPA for the app: keep ``metric`` per instance near ``target`` between min and max instances."""

    min_instances: int = 1
    max_instances: int = 10
    target: float = 50.0
    metric: str = "requests_per_second"

    def __post_init__(self) -> None:
        if not (1 <= self.min_instances <= self.max_instances):
            raise ManifestError(f"autoscaling: need 1 <= min_instances <= max_instances, got "
                                f"{self.min_instances} and {self.max_instances}")
        if self.target <= 0:
            raise ManifestError(f"autoscaling.target={self.target!r} must be more than zero")


@dataclass(frozen=True)
class AppManifest:
    """One app as pushed to the platform (see the module docstring)."""

    name: str
    app: Any
    instances: int = 1
    memory: str = "256M"
    disk_quota: str = "1G"
    routes: tuple[str, ...] = ()
    health_check_type: str = "http"
    health_check_http_endpoint: str = "/health"
    timeout: int = 60
    env: Mapping[str, str] = field(default_factory=dict)
    command: str | None = None
    probes: tuple[Probe, ...] = ()
    autoscaling: Autoscaling | None = None
    version: str = "v1"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name) or re.search(r"-\d+$", self.name):
            raise ManifestError(f"name={self.name!r}: use lower-case letters, digits and hyphens, starting with a "
                                f"letter and not ending in '-<number>', e.g. 'catalog'")
        if self.app is None:
            raise ManifestError(f"app: {self.name} needs its code, an app, a factory or 'module:attr'")
        if isinstance(self.instances, bool) or not isinstance(self.instances, int) or self.instances < 0:
            raise ManifestError(f"instances={self.instances!r}: a whole number >= 0")
        for key in ("memory", "disk_quota"):
            value = getattr(self, key)
            if not isinstance(value, str) or not _SIZE.match(value):
                raise ManifestError(f"{key}={value!r}: a size with a unit, e.g. '256M' or '1G'")
        if not self.routes:
            object.__setattr__(self, "routes", (f"{self.name}.svc",))
        object.__setattr__(self, "routes", tuple(self.routes))
        for route in self.routes:
            if not isinstance(route, str) or not _ROUTE.match(route):
                raise ManifestError(f"routes: {route!r} is not a route; use a host name like 'catalog.svc'")
        if self.health_check_type not in HEALTH_CHECK_TYPES:
            raise ManifestError(f"health-check-type={self.health_check_type!r}: use one of {HEALTH_CHECK_TYPES}")
        if not str(self.health_check_http_endpoint).startswith("/"):
            raise ManifestError(f"health-check-http-endpoint={self.health_check_http_endpoint!r} must start with '/'")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int) or self.timeout < 1:
            raise ManifestError(f"timeout={self.timeout!r}: seconds to wait for the app to start, an int >= 1")
        for k, v in dict(self.env).items():
            if not isinstance(k, str) or not _ENV_NAME.match(k):
                raise ManifestError(f"env: {k!r} is not an environment variable name (letters, digits, '_')")
            if not isinstance(v, (str, int, float, bool)):
                raise ManifestError(f"env.{k}: {v!r} must be a string or a number")
        object.__setattr__(self, "env", {k: str(v) for k, v in dict(self.env).items()})
        kinds = [p.kind for p in self.probes]
        if len(set(kinds)) != len(kinds):
            raise ManifestError(f"probes: at most one probe of each kind, got {kinds}")

    @property
    def route(self) -> str:
        """The app's own URL on the network (its service URL)."""
        return f"http://{self.name}.svc"

    def probe(self, kind: str) -> Probe | None:
        """The probe of ``kind``, or ``None``. Without explicit probes an ``http`` health check is a liveness probe."""
        for p in self.probes:
            if p.kind == kind:
                return p
        if kind == "liveness" and not self.probes and self.health_check_type == "http":
            return Probe("liveness", self.health_check_http_endpoint)
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AppManifest":
        """Read a manifest in Cloud Foundry's shape (plus ``app``, ``probes``, ``autoscaling``)."""
        if not isinstance(data, Mapping):
            raise ManifestError(f"a manifest is a mapping like {{'name': 'catalog', 'app': ...}}, got {type(data).__name__}")
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ManifestError(f"unknown manifest field(s) {unknown}; known fields: {sorted(_KEYS)}")
        if "name" not in data:
            raise ManifestError("name: every app needs a name")
        kw: dict[str, Any] = {k: data[k] for k in ("name", "app", "instances", "memory", "disk_quota", "timeout",
                                                 "command", "version") if k in data}
        if "env" in data:
            if not isinstance(data["env"], Mapping):
                raise ManifestError("env: a mapping of variable name to value")
            kw["env"] = dict(data["env"])
        if "routes" in data:
            routes = data["routes"]
            if not isinstance(routes, list) or not all(isinstance(r, Mapping) and set(r) == {"route"} for r in routes):
                raise ManifestError("routes: a list like [{'route': 'catalog.svc'}]")
            kw["routes"] = tuple(r["route"] for r in routes)
        if "health-check-type" in data:
            kw["health_check_type"] = data["health-check-type"]
        if "health-check-http-endpoint" in data:
            kw["health_check_http_endpoint"] = data["health-check-http-endpoint"]
        if "probes" in data:
            probes = []
            for kind, spec in dict(data["probes"]).items():
                try:
                    probes.append(Probe(kind, **dict(spec)))
                except TypeError as exc:
                    raise ManifestError(f"probes.{kind}: {exc}") from None
                except ConfigurationError as exc:
                    raise ManifestError(f"probes.{kind}: {exc}") from None
            kw["probes"] = tuple(probes)
        if "autoscaling" in data:
            try:
                kw["autoscaling"] = Autoscaling(**dict(data["autoscaling"]))
            except TypeError as exc:
                raise ManifestError(f"autoscaling: {exc}") from None
        return cls(**kw)
