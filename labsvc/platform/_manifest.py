"""An app's manifest: what the platform is asked to run (``cf push`` / a Deployment spec).

A manifest names the app, its code, how many instances, memory and disk,
its routes (each app has its own URL), its health checks, its environment,
how it terminates (``pre_stop`` sleep, ``termination_grace_period``) and,
optionally, its autoscaling. :meth:`AppManifest.from_dict` reads the shape
Cloud Foundry's ``manifest.yml`` uses (``health-check-type``,
``health-check-http-endpoint``, ``health-check-interval``,
``health-check-invocation-timeout``, ``readiness-health-check-*``,
``routes: [{route: ...}]``; ``path`` and ``buildpacks`` concern staging and
are accepted and ignored, so the export's own ``manifest.yml`` pushes back),
plus Kubernetes-style ``probes`` and ``autoscaling``; a wrong field raises
:class:`ManifestError` naming it.

Cloud Foundry's health-check types become probes: ``http`` a GET on the
endpoint, ``port`` a check that the instance accepts a connection,
``process`` none (only a crash counts).

>>> m = AppManifest.from_dict({"name": "catalog", "app": "labsvc.shop:catalog_app", "instances": 2})
>>> m.routes, m.memory
(('catalog.svc',), '256M')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from labsvc.core.errors import ConfigurationError
from labsvc.platform._probes import Probe

__all__ = ["AppManifest", "Autoscaling", "ManifestError", "HEALTH_CHECK_TYPES"]

HEALTH_CHECK_TYPES = ("port", "process", "http")
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$")
_SIZE = re.compile(r"^\d+(M|G|MB|GB)$")
_ROUTE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(/[A-Za-z0-9/_-]*)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYS = {"name", "app", "instances", "memory", "disk_quota", "routes", "health-check-type",
         "health-check-http-endpoint", "health-check-interval", "health-check-invocation-timeout",
         "readiness-health-check-type", "readiness-health-check-http-endpoint", "readiness-health-check-interval",
         "timeout", "env", "command", "probes", "autoscaling", "version", "pre_stop", "termination_grace_period",
         "path", "buildpacks"}
_CF_PROBE_PERIOD = 10.0   # without health-check-interval: Kubernetes' probe period


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
    health_check_interval: float | None = None
    health_check_invocation_timeout: float = 1.0
    readiness_health_check_type: str | None = None
    readiness_health_check_http_endpoint: str = "/ready"
    readiness_health_check_interval: float | None = None
    pre_stop: float = 0.0
    termination_grace_period: float = 30.0

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
        for key in ("health_check_interval", "readiness_health_check_interval"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ManifestError(f"{key.replace('_', '-')}={value!r}: seconds > 0")
        if self.readiness_health_check_type not in (None, *HEALTH_CHECK_TYPES):
            raise ManifestError(f"readiness-health-check-type={self.readiness_health_check_type!r}: use one of "
                                f"{HEALTH_CHECK_TYPES}")
        for key in ("health_check_invocation_timeout", "pre_stop", "termination_grace_period"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ManifestError(f"{key}={value!r}: seconds >= 0")
        if self.pre_stop > self.termination_grace_period:
            raise ManifestError(f"pre_stop={self.pre_stop!r} is longer than termination_grace_period="
                                f"{self.termination_grace_period!r}: the grace period counts from the preStop's start")
        kinds = [p.kind for p in self.probes]
        if len(set(kinds)) != len(kinds):
            raise ManifestError(f"probes: at most one probe of each kind, got {kinds}")

    @property
    def route(self) -> str:
        """The app's own URL on the network (its service URL)."""
        return f"http://{self.name}.svc"

    def probe(self, kind: str) -> Probe | None:
        """The HTTP probe of ``kind``, or ``None`` (what the export writes as a probe or a health check).

        Explicit ``probes`` win; without them an ``http`` health check is the
        liveness probe (and an ``http`` readiness health check the readiness
        probe). :meth:`health_probe` adds the ``port`` check.
        """
        probe = self.health_probe(kind)
        return probe if probe is None or probe.check == "http" or any(p is probe for p in self.probes) else None

    def health_probe(self, kind: str) -> Probe | None:
        """The probe of ``kind`` the platform runs, or ``None``.

        Explicit ``probes`` win. Without them, the Cloud Foundry health check
        is the liveness probe (and ``readiness-health-check-type`` the
        readiness probe): ``http`` a GET on its endpoint, ``port`` a
        connection check, ``process`` no probe.
        """
        for p in self.probes:
            if p.kind == kind:
                return p
        if self.probes:
            return None
        if kind == "liveness":
            return self._cf_probe("liveness", self.health_check_type, self.health_check_http_endpoint,
                                  self.health_check_interval)
        if kind == "readiness" and self.readiness_health_check_type is not None:
            return self._cf_probe("readiness", self.readiness_health_check_type,
                                  self.readiness_health_check_http_endpoint, self.readiness_health_check_interval)
        return None

    def _cf_probe(self, kind: str, check: str, endpoint: str, interval: float | None) -> Probe | None:
        if check == "process":
            return None
        return Probe(kind, endpoint if check == "http" else "/", period=interval or _CF_PROBE_PERIOD,
                     timeout=self.health_check_invocation_timeout or 1.0, check=check)

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
                                                 "command", "version", "pre_stop", "termination_grace_period")
                              if k in data}
        for key in ("health-check-interval", "health-check-invocation-timeout", "readiness-health-check-type",
                    "readiness-health-check-http-endpoint", "readiness-health-check-interval"):
            if key in data:
                kw[key.replace("-", "_")] = data[key]
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
