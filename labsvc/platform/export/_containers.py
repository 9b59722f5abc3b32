"""The container side of the export: the image (Dockerfile, requirements) and ``docker-compose.yml``.

One image serves every app; each Compose service picks its app with its
command. What the Compose file gives every service:

- ``LABSVC_SERVICE_URL_TEMPLATE=http://{name}:8000``: ``http://<name>.svc``
  is the Compose service of that name on the project's network;
- ``restart: on-failure``: a service whose process dies is started again
  (a container stopped by hand, ``docker stop`` / ``docker kill``, is not:
  that is Docker's rule for every restart policy);
- a health check on the liveness probe's path, polled inside the container;
- for an app that keeps data (``data``), a named volume at ``/data`` and
  ``LABSVC_DATA_DIR=/data``; the image creates ``/data`` owned by the user
  the services run as (``nobody``), and a fresh named volume takes the
  ownership of the folder it is mounted on, so SQLite can write there;
- for an app whose instances are named (``named_instances``), one service
  per instance (``catalog-1``, ``catalog-2``) answering to the app's name as
  well (a network alias), with ``LABSVC_INSTANCE`` set;
- ``publish``: the app's port on 127.0.0.1 only, at
  ``${LABSVC_GATEWAY_PORT:-<port>}`` so another port can be chosen when the
  default is taken.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from labsvc.platform.export._topology import (
    DATA_DIR, RUN_AS, SERVICE_URL_TEMPLATES, ExportError, command, entries, instance_names, jobs_of, port_of,
)

__all__ = ["IMAGE", "compose_file", "dockerfile", "dockerignore", "requirements", "PUBLISH_VARIABLE"]

IMAGE = "labsvc:latest"
PUBLISH_VARIABLE = "LABSVC_GATEWAY_PORT"


def _job_command(job) -> list[str]:
    module, func = job.target.split(":")
    return ["python", "-c", f"from {module} import {func}; {func}()"]


def _healthcheck(t: dict) -> dict | None:
    live = t["probes"].get("liveness")
    if live is None:
        return None
    url = f"http://127.0.0.1:{port_of(t)}{live.path}"
    return {"test": ["CMD", "python", "-c", f"import urllib.request; urllib.request.urlopen({url!r}, timeout={live.timeout:g})"],
            "interval": f"{live.period:g}s", "timeout": f"{live.timeout:g}s", "retries": live.failure_threshold}


def compose_file(source: Any, *, image: str = IMAGE) -> dict:
    """A ``docker-compose.yml`` (as a dict) for ``source`` (a Platform or a topology; see the module docstring)."""
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    for t in entries(source):
        names = instance_names(t) if t["named_instances"] else [None]
        for instance in names:
            key = instance if instance and t["instances"] > 1 else t["name"]
            env = {"LABSVC_SERVICE_URL_TEMPLATE": SERVICE_URL_TEMPLATES["compose"], **t["env"]}
            svc: dict[str, Any] = {"image": image, "command": command(t), "environment": env, "restart": "on-failure"}
            replicas = 1 if instance else t["instances"]
            svc["deploy"] = {"replicas": replicas, "resources": {"limits": {"memory": t["memory"]}}}
            if instance:
                env["LABSVC_INSTANCE"] = instance
                aliases = sorted({t["name"], instance} - {key})
                if aliases:
                    svc["networks"] = {"default": {"aliases": aliases}}
            if t["data"]:
                volume = f"{key}-data"
                volumes[volume] = {}
                svc["volumes"] = [f"{volume}:{DATA_DIR}"]
                env["LABSVC_DATA_DIR"] = DATA_DIR
            if t["publish"]:
                svc["ports"] = [f"127.0.0.1:${{{PUBLISH_VARIABLE}:-{int(t['publish'])}}}:{port_of(t)}"]
            if t["depends_on"]:
                svc["depends_on"] = list(t["depends_on"])
            health = _healthcheck(t)
            if health is not None:
                svc["healthcheck"] = health
            services[key] = svc
    for job in jobs_of(source):
        # A one-shot service, started only on demand: docker compose --profile jobs run <job>
        services[job.name] = {"image": image, "command": _job_command(job), "restart": "no", "profiles": ["jobs"]}
    known = set(services)
    for name, svc in services.items():
        missing = [d for d in svc.get("depends_on", []) if d not in known]
        if missing:
            raise ExportError(f"docker-compose.yml: {name} depends on {missing}, which the topology does not have")
    # No top-level 'name': the project is named after the export's folder (or `docker compose -p NAME`).
    compose: dict[str, Any] = {"services": services}
    if volumes:
        compose["volumes"] = volumes
    return compose


def requirements(distributions: list[str] | tuple[str, ...]) -> str:
    """``requirements.txt`` for the image: each of ``distributions`` at the version labsvc pins (``name==x.y``)."""
    pins = {}
    for requirement in metadata.requires("labsvc") or []:
        spec = requirement.split(";")[0].strip()
        if "==" in spec and "extra ==" not in requirement:
            name, version = spec.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    lines = []
    for name in distributions:
        key = name.lower().replace("_", "-")
        if key not in pins:
            raise ExportError(f"requirements: {name!r} is not a runtime dependency labsvc pins; pins: {sorted(pins)}")
        lines.append(f"{name}=={pins[key]}")
    return "# What the services import, at labsvc's pins (pyproject.toml); pip resolves the rest.\n" + "\n".join(lines) + "\n"


def dockerfile(*, python: str = "3.11", with_requirements: bool = False, requirements_path: str = "requirements.txt") -> str:
    """One image for every service: labsvc and what it needs in a virtual environment; ``/data`` for volumes.

    ``BASE_IMAGE`` (a build argument) is any image with Python and its venv
    module: ``python:<python>-slim`` by default, or a local one built from
    Debian's packages where no registry is reachable (``docker/base-image.sh``).
    ``WHEELHOUSE`` names a folder of the build context holding every wheel
    needed: then nothing is downloaded (``pip install --no-index``). With
    ``with_requirements``, only the requirements file (what the services
    import; ``REQUIREMENTS``, a path in the build context, defaults to
    ``requirements_path``) is installed, and labsvc itself without its
    dependencies.
    """
    if with_requirements:
        online = 'pip install -r "$REQUIREMENTS" && pip install --no-deps .'
        offline = ('pip install --no-index --find-links "$WHEELHOUSE" -r "$REQUIREMENTS" && '
                   'pip install --no-index --find-links "$WHEELHOUSE" --no-deps labsvc')
    else:
        online = "pip install ."
        offline = 'pip install --no-index --find-links "$WHEELHOUSE" labsvc'
    return f"""\
# One image for every labsvc service; docker-compose.yml / the Deployments choose the app per service.
#   docker build -t labsvc:latest -f Dockerfile <context>
#     --build-arg BASE_IMAGE=...   any image with python3 and its venv module (default python:{python}-slim)
#     --build-arg WHEELHOUSE=...   a folder of the context with every wheel needed: install without an index
#     --build-arg REQUIREMENTS=... the services' requirements file in the context (default {requirements_path})
# The context is the project's root (pyproject.toml, labsvc/); BuildKit reads Dockerfile.dockerignore beside this file.
ARG BASE_IMAGE=python:{python}-slim

FROM ${{BASE_IMAGE}} AS build
ARG WHEELHOUSE=
ARG REQUIREMENTS={requirements_path}
WORKDIR /src
COPY . /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PATH=/opt/labsvc/bin:$PATH
RUN python3 -m venv /opt/labsvc \\
 && if [ -n "$WHEELHOUSE" ]; then {offline}; else {online}; fi

FROM ${{BASE_IMAGE}}
COPY --from=build /opt/labsvc /opt/labsvc
ENV PATH=/opt/labsvc/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# A named volume mounted here starts with this folder's owner: the user the services run as.
RUN mkdir -p {DATA_DIR} && chown {RUN_AS}:{RUN_AS} {DATA_DIR}
WORKDIR /tmp
EXPOSE 8000
USER {RUN_AS}:{RUN_AS}
"""


def dockerignore(requirements_path: str | None = None) -> str:
    """``Dockerfile.dockerignore``: only what the image needs goes into the build context (BuildKit)."""
    keep = ["pyproject.toml", "README.md", "labsvc", "wheels"] + ([requirements_path] if requirements_path else [])
    return ("# Only what the image needs (BuildKit reads this file beside the Dockerfile; the context is the project).\n"
            "**\n" + "".join(f"!{k}\n" for k in keep) + "**/__pycache__\n**/*.pyc\n")
