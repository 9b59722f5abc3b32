"""Build the Kubernetes and Cloud Foundry files, validate every file, write the export (see :mod:`labsvc.platform.export`)."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from labsvc.platform._hpa import DEFAULT_BEHAVIOR
from labsvc.platform.export._containers import IMAGE, _job_command, compose_file, dockerfile, dockerignore, requirements
from labsvc.platform.export._topology import (
    CONTAINER_PORT, DATA_DIR, RUN_AS, SERVICE_URL_TEMPLATES, ExportError, command, entries, jobs_of, port_of,
    topology,
)

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.platform._controller import Platform

__all__ = [
    "CONTAINER_PORT", "K8S_VERSION", "ExportError", "topology", "kubernetes_manifests", "validate_kubernetes",
    "cloudfoundry_manifest", "validate_cloudfoundry", "compose_file", "validate_compose", "dockerfile", "write_export",
]

K8S_VERSION = "1.33.0"   # kubernetes-validate 1.37.0 ships schemas up to 1.37; 1.33 is the oldest still supported
#: Seconds a pod keeps serving after it is told to stop, while its endpoints are removed everywhere.
PRE_STOP_DRAIN = 5


def _mebibytes(size: str) -> str:
    number = int("".join(c for c in size if c.isdigit()))
    return f"{number * 1024}Mi" if size.upper().startswith(str(number) + "G") else f"{number}Mi"


def _probe(p, port: int) -> dict:
    action = {"tcpSocket": {"port": port}} if getattr(p, "check", "http") == "port" else \
        {"httpGet": {"path": p.path, "port": port}}
    return {**action, "periodSeconds": max(1, round(p.period)),
            "timeoutSeconds": max(1, round(p.timeout)), "failureThreshold": p.failure_threshold,
            "successThreshold": p.success_threshold, "initialDelaySeconds": round(p.initial_delay)}


def kubernetes_manifests(source: Platform | list[dict], *, image: str = IMAGE) -> list[dict]:
    """Per app: a ConfigMap (env), a Deployment (replicas, probes, preStop drain), a Service, and an HPA.

    Every container gets ``LABSVC_SERVICE_URL_TEMPLATE=http://{name}`` (the
    Service of that name), probes on the port it listens on, and a ``preStop``
    pause of :data:`PRE_STOP_DRAIN` seconds: the pod keeps serving while
    Kubernetes removes it from the Services' endpoints, then gets SIGTERM. An
    app that keeps data gets a PersistentVolumeClaim mounted at ``/data``
    (and the ``Recreate`` strategy: one pod at a time owns the volume); an app
    with named instances learns its pod's name and address from the downward
    API (``LABSVC_INSTANCE``, ``LABSVC_INSTANCE_URL``), to register them.
    """
    docs: list[dict] = []
    for t in entries(source):
        name, labels, port = t["name"], {"app": t["name"]}, port_of(t)
        env = {"LABSVC_SERVICE_URL_TEMPLATE": SERVICE_URL_TEMPLATES["kubernetes"], **t["env"]}
        container: dict[str, Any] = {
            "name": name, "image": image, "imagePullPolicy": "IfNotPresent", "command": command(t),
            "ports": [{"containerPort": port, "name": "http"}],
            "resources": {"limits": {"memory": _mebibytes(t["memory"])}, "requests": {"memory": _mebibytes(t["memory"])}},
            "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_DRAIN)]}}},
        }
        pod: dict[str, Any] = {"terminationGracePeriodSeconds": PRE_STOP_DRAIN + 25, "containers": [container]}
        if t["named_instances"]:
            container["env"] = [
                {"name": "LABSVC_INSTANCE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "LABSVC_INSTANCE_URL", "value": f"http://$(POD_IP):{port}"},
            ]
        if t["data"]:
            env["LABSVC_DATA_DIR"] = DATA_DIR
            docs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "metadata": {"name": f"{name}-data", "labels": labels},
                         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
            container["volumeMounts"] = [{"name": "data", "mountPath": DATA_DIR}]
            pod["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}}]
            pod["securityContext"] = {"runAsUser": RUN_AS, "runAsGroup": RUN_AS, "fsGroup": RUN_AS}
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-env", "labels": labels},
                     "data": dict(env)})
        container["envFrom"] = [{"configMapRef": {"name": f"{name}-env"}}]
        for kind, p in t["probes"].items():
            container[f"{kind}Probe"] = _probe(p, port)
        strategy = ({"type": "Recreate"} if t["data"] else
                    {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        docs.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {**labels, "version": t["version"]}},
            "spec": {
                "replicas": t["instances"], "selector": {"matchLabels": labels}, "strategy": strategy,
                "template": {"metadata": {"labels": {**labels, "version": t["version"]}}, "spec": pod},
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
    for job in jobs_of(source):
        docs.append(_kubernetes_job(job, image))
    return docs


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


def cloudfoundry_manifest(source: Platform | list[dict], *, path: str = ".") -> dict:
    """A Cloud Foundry ``manifest.yml`` (as a dict): one application per app, Python buildpack.

    Each app also gets the internal route ``<name>.apps.internal`` and
    ``LABSVC_SERVICE_URL_TEMPLATE=http://{name}.apps.internal:8080``, so
    services call each other over container-to-container networking (a
    foundation needs ``cf add-network-policy`` between them). An app with
    named instances is told its name and address from Cloud Foundry's
    ``CF_INSTANCE_INDEX`` (``<index>.<name>.apps.internal``). Cloud Foundry
    has no volumes without a volume service: data lives in the container.
    """
    apps = []
    for t in entries(source):
        cmd = t["command"] or " ".join(command(t)).replace(str(port_of(t)), "$PORT")  # CF gives the port in $PORT
        if t["named_instances"]:
            cmd = (f"LABSVC_INSTANCE={t['name']}-$CF_INSTANCE_INDEX "
                   f"LABSVC_INSTANCE_URL=http://$CF_INSTANCE_INDEX.{t['name']}.apps.internal:$PORT {cmd}")
        entry: dict[str, Any] = {
            "name": t["name"], "instances": t["instances"], "memory": t["memory"], "disk_quota": t["disk_quota"],
            "path": path, "buildpacks": ["python_buildpack"], "command": cmd,
            "routes": [{"route": r} for r in t["routes"]] + [{"route": f"{t['name']}.apps.internal"}],
        }
        live = t["probes"].get("liveness")
        if live is not None and getattr(live, "check", "http") == "http":
            entry.update({"health-check-type": "http", "health-check-http-endpoint": live.path,
                          "health-check-invocation-timeout": max(1, round(live.timeout))})
        else:
            entry["health-check-type"] = "port"           # Cloud Foundry's default: the app accepts connections
        ready = t["probes"].get("readiness")
        if ready is not None and getattr(ready, "check", "http") == "http":
            entry.update({"readiness-health-check-type": "http", "readiness-health-check-http-endpoint": ready.path,
                          "readiness-health-check-interval": max(1, round(ready.period))})
        elif ready is not None:
            entry.update({"readiness-health-check-type": "port",
                          "readiness-health-check-interval": max(1, round(ready.period))})
        entry["env"] = {"LABSVC_SERVICE_URL_TEMPLATE": SERVICE_URL_TEMPLATES["cloudfoundry"], **t["env"]}
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


def write_export(source: Platform | list[dict], folder: str | Path, *, image: str = IMAGE,
                 k8s_version: str = K8S_VERSION, service_requirements: list[str] | tuple[str, ...] | None = None,
                 compose_image: str | None = None) -> dict[str, Path]:
    """Write Dockerfile, docker-compose.yml, k8s/*.yaml and manifest.yml into ``folder`` after validating them.

    ``source`` is a Platform or a written-out topology. With
    ``service_requirements`` (distribution names), the image installs only
    those, at labsvc's pins, from ``requirements.txt`` (written too);
    otherwise it installs labsvc with all its dependencies.
    ``compose_image`` names the image in docker-compose.yml when it differs
    from ``image``.
    """
    folder = Path(folder)
    (folder / "k8s").mkdir(parents=True, exist_ok=True)
    k8s = kubernetes_manifests(source, image=image)
    validate_kubernetes(k8s, k8s_version)
    # Cloud Foundry resolves 'path' from the manifest's folder: point it at the project (the current folder).
    rel = os.path.relpath(Path.cwd(), folder.resolve())
    cf = cloudfoundry_manifest(source, path=str(Path.cwd()) if rel.count("..") > 2 else rel)
    validate_cloudfoundry(cf)
    compose = compose_file(source, image=compose_image or image)
    validate_compose(compose)
    written = {"Dockerfile": folder / "Dockerfile", "docker-compose.yml": folder / "docker-compose.yml",
               "manifest.yml": folder / "manifest.yml", "k8s": folder / "k8s" / "labsvc.yaml"}
    # The build context is the project (the current folder): the requirements file's path in it.
    req_path = os.path.relpath(folder.resolve() / "requirements.txt", Path.cwd())
    if req_path.startswith(".."):
        req_path = "requirements.txt"
    with_requirements = service_requirements is not None
    written["Dockerfile"].write_text(dockerfile(with_requirements=with_requirements, requirements_path=req_path),
                                     encoding="utf-8")
    written["Dockerfile.dockerignore"] = folder / "Dockerfile.dockerignore"
    written["Dockerfile.dockerignore"].write_text(dockerignore(req_path if with_requirements else None),
                                                  encoding="utf-8")
    if with_requirements:
        written["requirements.txt"] = folder / "requirements.txt"
        written["requirements.txt"].write_text(requirements(service_requirements), encoding="utf-8")
    written["docker-compose.yml"].write_text(yaml.safe_dump(compose, sort_keys=False), encoding="utf-8")
    written["manifest.yml"].write_text(yaml.safe_dump(cf, sort_keys=False), encoding="utf-8")
    written["k8s"].write_text(yaml.safe_dump_all(k8s, sort_keys=False), encoding="utf-8")
    return written
