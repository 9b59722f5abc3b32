"""The order system as the files real platforms run: Docker Compose (run for real), Kubernetes and Cloud Foundry.

:func:`topology` describes the capstone as the notebook runs it by default
(:class:`~labsvc.capstone.OrderSystem` with :data:`~labsvc.capstone.RESILIENCE_ON`),
one entry per service of :mod:`labsvc.capstone.services`; :func:`write`
hands it to :func:`labsvc.platform.export.write_export`, which validates
every file before writing it:

- every service runs ``uvicorn labsvc.capstone.services:<name> --factory``
  from one image, restarts on failure, and is health-checked on ``/health``;
- the five services with a database (inventory, payment, orders, history,
  delivery) keep it on a volume of their own at ``/data``;
- the catalog runs as two instances, ``catalog-1`` and ``catalog-2``; every
  instance is named as on the notebook's network, and catalog, orders and
  history register with the registry under that name;
- only the gateway is published, on 127.0.0.1 (port 8080, or
  ``LABSVC_GATEWAY_PORT``).

``make compose-test`` builds this export, runs it under Docker Compose and
checks it end to end (``docker/compose_test.py``).
"""

from __future__ import annotations

from pathlib import Path

from labsvc.platform import Probe

__all__ = ["SERVICES", "SERVICE_REQUIREMENTS", "GATEWAY_PORT", "topology", "write"]

#: The distributions the services import (the image installs these, at labsvc's pins, and what they need).
SERVICE_REQUIREMENTS = (
    "fastapi", "uvicorn", "httpx", "pandas", "numpy", "matplotlib", "pyjwt", "cryptography", "sqlmodel",
    "sqlalchemy", "opentelemetry-api", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http",
)
GATEWAY_PORT = 8080

#: name: (instances, keeps data, starts after)
SERVICES = {
    "registry": (1, False, ()),
    "broker": (1, False, ()),
    "catalog": (2, False, ("registry",)),
    "inventory": (1, True, ()),
    "payment": (1, True, ()),
    "orders": (1, True, ("registry", "broker", "inventory", "payment")),
    "history": (1, True, ("registry", "broker")),
    "delivery": (1, True, ("broker",)),
    "gateway": (1, False, ("registry",)),
}


def _after(names: tuple[str, ...]) -> list[str]:
    out = []
    for name in names:  # a service with named instances is one Compose service per instance
        count = SERVICES[name][0]
        out += [name] if count == 1 else [f"{name}-{k}" for k in range(1, count + 1)]
    return out


def topology(*, memory: str = "256M") -> list[dict]:
    """The capstone as a written-out export topology (see :func:`labsvc.platform.export.topology`)."""
    probes = {"liveness": Probe.liveness("/health", period=5, timeout=3, failure_threshold=3),
              "readiness": Probe.readiness("/ready", period=5, timeout=3, failure_threshold=3)}
    out = []
    for name, (instances, data, after) in SERVICES.items():
        entry = {"name": name, "target": f"labsvc.capstone.services:{name}", "factory": True,
                 "instances": instances, "memory": memory, "probes": dict(probes), "data": data,
                 "named_instances": True, "depends_on": _after(after),
                 # uvicorn reads its options from UVICORN_* too: no access log line per health check
                 "env": {"UVICORN_ACCESS_LOG": "false"}}
        if name == "gateway":
            entry["publish"] = GATEWAY_PORT
        out.append(entry)
    return out


def write(folder: str | Path, *, image: str = "labsvc:latest") -> dict[str, Path]:
    """Write the capstone's Dockerfile, requirements.txt, docker-compose.yml, k8s/labsvc.yaml and manifest.yml."""
    from labsvc.platform.export import write_export

    return write_export(topology(), folder, image=image, service_requirements=SERVICE_REQUIREMENTS)
