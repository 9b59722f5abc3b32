"""Build the export files from a platform's apps (see :mod:`labsvc.platform.export`)."""

from __future__ import annotations

import json
import os
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..._instances import _is_factory
from ...errors import ConfigurationError
from ...process import import_string
from .._controller import App, Platform, _Same
from .._hpa import DEFAULT_BEHAVIOR

__all__ = [
    "CONTAINER_PORT", "K8S_VERSION", "ExportError", "topology", "kubernetes_manifests", "validate_kubernetes",
    "cloudfoundry_manifest", "validate_cloudfoundry", "compose_file", "validate_compose", "dockerfile", "write_export",
]

CONTAINER_PORT = 8000
K8S_VERSION = "1.33.0"   # kubernetes-validate 1.37.0 ships schemas up to 1.37; 1.33 is the oldest still supported
IMAGE = "labsvc:latest"


class ExportError(ConfigurationError):
    """An export could not be built, or a validator rejected it (the message says which file and field)."""


def _target(app: App) -> tuple[str, bool]:
    spec = app.service.app_spec
    spec = spec.app if isinstance(spec, _Same) else spec
    try:
        return import_string(spec), _is_factory(spec)
    except Exception as exc:
        raise ExportError(f"app {app.name!r} cannot be exported: {exc}") from None


def topology(platform: Platform) -> list[dict]:
    """One plain dict per app: name, import target, instances, memory, routes, env, probes, autoscaling."""
    out = []
    for app in platform.apps.values():
        target, factory = _target(app)
        m = app.manifest
        out.append({
            "name": app.name, "target": target, "factory": factory, "command": m.command,
            "instances": app.desired, "memory": m.memory,
            "disk_quota": m.disk_quota, "routes": list(m.routes), "env": dict(m.env), "version": app.version,
            "probes": {k: p for k in ("liveness", "readiness", "startup") if (p := m.probe(k)) is not None},
            "autoscaling": None if app.hpa is None else {
                "min": app.hpa.min_replicas, "max": app.hpa.max_replicas, "target": app.hpa.target},
        })
    return out


def _command(t: dict) -> list[str]:
    if t.get("command"):
        return shlex.split(t["command"])     # the manifest's own start command wins
    cmd = ["uvicorn", t["target"], "--host", "0.0.0.0", "--port", str(CONTAINER_PORT)]
    return cmd[:2] + ["--factory"] + cmd[2:] if t["factory"] else cmd


def _mebibytes(size: str) -> str:
    number = int("".join(c for c in size if c.isdigit()))
    return f"{number * 1024}Mi" if size.upper().startswith(str(number) + "G") else f"{number}Mi"


def _probe(p) -> dict:
    return {"httpGet": {"path": p.path, "port": CONTAINER_PORT}, "periodSeconds": max(1, round(p.period)),
            "timeoutSeconds": max(1, round(p.timeout)), "failureThreshold": p.failure_threshold,
            "successThreshold": p.success_threshold, "initialDelaySeconds": round(p.initial_delay)}


def kubernetes_manifests(platform: Platform, *, image: str = IMAGE) -> list[dict]:
    """Per app: a ConfigMap (env), a Deployment (replicas, rolling update 25 %, probes), a Service, and an HPA."""
    docs: list[dict] = []
    for t in topology(platform):
        name, labels = t["name"], {"app": t["name"]}
        container: dict[str, Any] = {
            "name": name, "image": image, "imagePullPolicy": "IfNotPresent", "command": _command(t),
            "ports": [{"containerPort": CONTAINER_PORT, "name": "http"}],
            "resources": {"limits": {"memory": _mebibytes(t["memory"])}, "requests": {"memory": _mebibytes(t["memory"])}},
        }
        if t["env"]:
            docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-env", "labels": labels},
                         "data": dict(t["env"])})
            container["envFrom"] = [{"configMapRef": {"name": f"{name}-env"}}]
        for kind, p in t["probes"].items():
            container[f"{kind}Probe"] = _probe(p)
        docs.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {**labels, "version": t["version"]}},
            "spec": {
                "replicas": t["instances"], "selector": {"matchLabels": labels},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {"metadata": {"labels": {**labels, "version": t["version"]}},
                             "spec": {"containers": [container]}},
            },
        })
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
                     "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
        if t["autoscaling"]:
            a = t["autoscaling"]
            up, down = DEFAULT_BEHAVIOR.scale_up, DEFAULT_BEHAVIOR.scale_down
            docs.append({
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": a["min"], "maxReplicas": a["max"],
                    # The in-notebook HPA scales on requests per second per instance: a Pods metric
                    # (needs a custom-metrics adapter such as prometheus-adapter on a real cluster).
                    "metrics": [{"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                                                          "target": {"type": "AverageValue",
                                                                     "averageValue": str(a["target"]).rstrip("0").rstrip(".")}}}],
                    "behavior": {
                        "scaleUp": {"stabilizationWindowSeconds": int(up.stabilization_window), "selectPolicy": up.select_policy,
                                    "policies": [{"type": p.kind, "value": p.value, "periodSeconds": int(p.period)} for p in up.policies]},
                        "scaleDown": {"stabilizationWindowSeconds": int(down.stabilization_window), "selectPolicy": down.select_policy,
                                      "policies": [{"type": p.kind, "value": p.value, "periodSeconds": int(p.period)} for p in down.policies]},
                    },
                },
            })
    for job in platform.jobs.values():
        docs.append(_kubernetes_job(job, image))
    return docs


def _job_command(job) -> list[str]:
    module, func = job.target.split(":")
    return ["python", "-c", f"from {module} import {func}; {func}()"]


def _kubernetes_job(job, image: str) -> dict:
    # restartPolicy Never: each failed attempt is a new pod, counted against backoffLimit.
    spec = {"backoffLimit": job.backoff_limit, "template": {
        "metadata": {"labels": {"job": job.name}},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": job.name, "image": image, "imagePullPolicy": "IfNotPresent", "command": _job_command(job)}]}}}
    if job.schedule is None:
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": job.name}, "spec": spec}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": job.name},
            "spec": {"schedule": job.schedule, "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": spec}}}


def validate_kubernetes(docs: list[dict], version: str = K8S_VERSION) -> list[str]:
    """Validate every manifest offline with ``kubernetes-validate`` (strict: unknown fields fail).

    Returns one line per document (``Deployment/catalog: valid``); raises
    :class:`ExportError` naming the document and the field on the first invalid one.
    """
    import kubernetes_validate

    lines = []
    for doc in docs:
        what = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(top)"
            raise ExportError(f"Kubernetes {version} rejects {what}: at {path}: {exc.message}") from None
        lines.append(f"{what}: valid against Kubernetes {version}")
    return lines


def cloudfoundry_manifest(platform: Platform, *, path: str = ".") -> dict:
    """A Cloud Foundry ``manifest.yml`` (as a dict): one application per app, Python buildpack."""
    apps = []
    for t in topology(platform):
        entry: dict[str, Any] = {
            "name": t["name"], "instances": t["instances"], "memory": t["memory"], "disk_quota": t["disk_quota"],
            "path": path, "buildpacks": ["python_buildpack"],
            # Cloud Foundry gives the app its port in $PORT.
            "command": t["command"] or " ".join(_command(t)).replace(str(CONTAINER_PORT), "$PORT"),
            "routes": [{"route": r} for r in t["routes"]],
        }
        live = t["probes"].get("liveness")
        if live is not None:
            entry.update({"health-check-type": "http", "health-check-http-endpoint": live.path,
                          "health-check-invocation-timeout": max(1, round(live.timeout))})
        else:
            entry["health-check-type"] = "port"
        ready = t["probes"].get("readiness")
        if ready is not None:
            entry.update({"readiness-health-check-type": "http", "readiness-health-check-http-endpoint": ready.path,
                          "readiness-health-check-interval": max(1, round(ready.period))})
        if t["env"]:
            entry["env"] = dict(t["env"])
        apps.append(entry)
    return {"version": 1, "applications": apps}


def _schema(name: str) -> dict:
    return json.loads(resources.files("labsvc.platform.export").joinpath("schemas", name).read_text(encoding="utf-8"))


def _first_error(document: dict, schema: str, validator: str, filename: str) -> None:
    """Raise :class:`ExportError` naming ``filename`` and the path of the first schema violation, if any."""
    import jsonschema

    check = getattr(jsonschema, validator)(_schema(schema))
    errors = sorted(check.iter_errors(document), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        path = ".".join(str(p) for p in e.path) or "(top)"
        raise ExportError(f"{filename}: at {path}: {e.message}")


def validate_cloudfoundry(manifest: dict) -> str:
    """Check a ``manifest.yml`` dict against the attributes Cloud Foundry documents; raise :class:`ExportError`."""
    _first_error(manifest, "cloudfoundry-manifest.json", "Draft202012Validator", "manifest.yml")
    return f"manifest.yml: valid ({len(manifest['applications'])} applications)"


def validate_compose(compose: dict) -> str:
    """Check a ``docker-compose.yml`` dict against the Compose Specification's JSON schema; raise :class:`ExportError`.

    The schema (``schemas/compose-spec.json``) is the Compose Specification as
    shipped with docker-compose 1.29.2 (Apache-2.0, Docker Inc.): files valid
    against it are accepted by current Docker Compose too, which reads every
    older specification.
    """
    _first_error(compose, "compose-spec.json", "Draft201909Validator", "docker-compose.yml")
    return f"docker-compose.yml: valid ({len(compose['services'])} services)"


def compose_file(platform: Platform, *, image: str = IMAGE) -> dict:
    """A ``docker-compose.yml`` (as a dict): one service per app, replicas, env and a health check."""
    services = {}
    for t in topology(platform):
        svc: dict[str, Any] = {"image": image, "command": _command(t), "deploy": {"replicas": t["instances"],
                                                                  "resources": {"limits": {"memory": t["memory"]}}}}
        if t["env"]:
            svc["environment"] = dict(t["env"])
        live = t["probes"].get("liveness")
        if live is not None:
            url = f"http://127.0.0.1:{CONTAINER_PORT}{live.path}"
            svc["healthcheck"] = {
                "test": ["CMD", "python", "-c", f"import urllib.request; urllib.request.urlopen({url!r}, timeout={live.timeout:g})"],
                "interval": f"{live.period:g}s", "timeout": f"{live.timeout:g}s", "retries": live.failure_threshold}
        services[t["name"]] = svc
    for job in platform.jobs.values():
        # A one-shot service, started only on demand: docker compose --profile jobs run <job>
        services[job.name] = {"image": image, "command": _job_command(job), "restart": "no", "profiles": ["jobs"]}
    # No top-level 'name': the project is named after the export's folder (or `docker compose -p NAME`).
    return {"services": services}


def dockerfile(*, python: str = "3.11") -> str:
    """One image for every service: the labsvc package installed; each service's command picks its app."""
    return (
        f"# One image for every labsvc service; docker-compose.yml / the Deployments choose the app per service.\n"
        f"FROM python:{python}-slim\n"
        f"WORKDIR /app\n"
        f"COPY . /app\n"
        f"RUN pip install --no-cache-dir .\n"
        f"EXPOSE {CONTAINER_PORT}\n"
        f"USER nobody\n"
    )


def write_export(platform: Platform, folder: str | Path, *, image: str = IMAGE,
                 k8s_version: str = K8S_VERSION) -> dict[str, Path]:
    """Write Dockerfile, docker-compose.yml, k8s/*.yaml and manifest.yml into ``folder`` after validating them."""
    folder = Path(folder)
    (folder / "k8s").mkdir(parents=True, exist_ok=True)
    k8s = kubernetes_manifests(platform, image=image)
    validate_kubernetes(k8s, k8s_version)
    # Cloud Foundry resolves 'path' from the manifest's folder: point it at the project (the current folder).
    rel = os.path.relpath(Path.cwd(), folder.resolve())
    cf = cloudfoundry_manifest(platform, path=str(Path.cwd()) if rel.count("..") > 2 else rel)
    validate_cloudfoundry(cf)
    compose = compose_file(platform, image=image)
    validate_compose(compose)
    written = {"Dockerfile": folder / "Dockerfile", "docker-compose.yml": folder / "docker-compose.yml",
               "manifest.yml": folder / "manifest.yml", "k8s": folder / "k8s" / "labsvc.yaml"}
    written["Dockerfile"].write_text(dockerfile(), encoding="utf-8")
    written["docker-compose.yml"].write_text(yaml.safe_dump(compose, sort_keys=False), encoding="utf-8")
    written["manifest.yml"].write_text(yaml.safe_dump(cf, sort_keys=False), encoding="utf-8")
    written["k8s"].write_text(yaml.safe_dump_all(k8s, sort_keys=False), encoding="utf-8")
    return written
