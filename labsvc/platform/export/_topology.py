"""What every export is built from: one plain dict per app (see :func:`topology`), and the shared rules.

A topology comes from a :class:`~labsvc.platform.Platform` (its apps and
their manifests) or is written out directly as a list of dicts (the
capstone's export does, :mod:`labsvc.capstone.export`). Keys an entry may
leave out take the defaults in :data:`DEFAULTS`.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from labsvc.core.apps import import_string, is_factory
from labsvc.core.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.platform._controller import App, Platform

__all__ = ["CONTAINER_PORT", "DATA_DIR", "RUN_AS", "SERVICE_URL_TEMPLATES", "ExportError", "DEFAULTS", "topology",
           "entries", "jobs_of", "command", "port_of", "instance_names"]

CONTAINER_PORT = 8000
#: Where a service's data volume is mounted, and the user every container runs as (``nobody``).
DATA_DIR = "/data"
RUN_AS = 65534
#: How ``http://<name>.svc`` resolves on each target (``LABSVC_SERVICE_URL_TEMPLATE``, see
#: :func:`labsvc.core.service.service_url`): the Compose service name on port 8000, the
#: Kubernetes Service (port 80), the Cloud Foundry internal route (port 8080, container networking).
SERVICE_URL_TEMPLATES = {
    "compose": f"http://{{name}}:{CONTAINER_PORT}",
    "kubernetes": "http://{name}",
    "cloudfoundry": "http://{name}.apps.internal:8080",
}

#: Every key of a topology entry, with its default.
DEFAULTS: dict[str, Any] = {
    "factory": False, "command": None, "instances": 1, "memory": "256M", "disk_quota": "1G", "routes": [],
    "env": {}, "version": "v1", "probes": {}, "autoscaling": None,
    # Only in written-out topologies (the capstone's):
    "data": False,             # True: the service keeps a database under DATA_DIR, on a volume of its own
    "named_instances": False,  # True: each instance is named (catalog-1, catalog-2) and reachable by that name
    "publish": None,           # a port on 127.0.0.1 (Compose) where users reach this service
    "depends_on": [],          # services to start first (Compose)
}


class ExportError(ConfigurationError):
    """An export could not be built, or a validator rejected it (the message says which file and field)."""


def _target(app: App) -> tuple[str, bool]:
    # The stable version's spec: a factory, 'module:attr', or an app every instance shares (apps.shared).
    try:
        return import_string(app.spec), is_factory(app.spec)
    except Exception as exc:
        raise ExportError(f"app {app.name!r} cannot be exported: {exc}") from None


def topology(platform: Platform) -> list[dict]:
    """One plain dict per app: name, import target, instances, memory, routes, env, probes, autoscaling."""
    out = []
    for app in platform.apps.values():
        target, factory = _target(app)
        m = app.manifest
        out.append({
            **DEFAULTS,
            "name": app.name, "target": target, "factory": factory, "command": m.command,
            "instances": app.desired, "memory": m.memory,
            "disk_quota": m.disk_quota, "routes": list(m.routes), "env": dict(m.env), "version": app.version,
            "probes": {k: p for k in ("liveness", "readiness", "startup") if (p := m.probe(k)) is not None},
            "autoscaling": None if app.hpa is None else {
                "min": app.hpa.min_replicas, "max": app.hpa.max_replicas, "target": app.hpa.target},
        })
    return out


def entries(source: Any) -> list[dict]:
    """The topology of ``source``: a Platform, or a list of entries (completed with :data:`DEFAULTS`)."""
    if isinstance(source, (list, tuple)):
        out = []
        for k, entry in enumerate(source):
            if not isinstance(entry, dict) or not entry.get("name") or not entry.get("target"):
                raise ExportError(f"topology[{k}]: an entry is a dict with at least 'name' and 'target' "
                                  f"('module:attr'), got {entry!r}")
            unknown = sorted(set(entry) - set(DEFAULTS) - {"name", "target"})
            if unknown:
                raise ExportError(f"topology[{k}] ({entry['name']}): unknown keys {unknown}; "
                                  f"known: {sorted(set(DEFAULTS) | {'name', 'target'})}")
            out.append({**DEFAULTS, "routes": [f"{entry['name']}.svc"], **entry})
        return out
    return topology(source)


def jobs_of(source: Any) -> list:
    """The batch jobs of a Platform (a written-out topology has none)."""
    return list(getattr(source, "jobs", {}).values())


def port_of(t: dict) -> int:
    """The port the app listens on in its container: ``--port N`` of its own command, else 8000."""
    if t.get("command"):
        words = shlex.split(t["command"])
        for k, word in enumerate(words):
            if word == "--port" and k + 1 < len(words) and words[k + 1].isdigit():
                return int(words[k + 1])
            if word.startswith("--port=") and word[7:].isdigit():
                return int(word[7:])
    return CONTAINER_PORT


def command(t: dict) -> list[str]:
    """The container's command: the manifest's own, else uvicorn on every interface of the container."""
    if t.get("command"):
        return shlex.split(t["command"])     # the manifest's own start command wins
    cmd = ["uvicorn", t["target"], "--host", "0.0.0.0", "--port", str(CONTAINER_PORT)]
    return cmd[:2] + ["--factory"] + cmd[2:] if t["factory"] else cmd


def instance_names(t: dict) -> list[str]:
    """``catalog-1``, ``catalog-2``, ...: the names of the app's instances (as the labsvc network names them)."""
    return [f"{t['name']}-{k}" for k in range(1, t["instances"] + 1)]
