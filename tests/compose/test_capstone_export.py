"""The capstone's export, checked without Docker: what the Compose file, the manifests and the image promise."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata

import pytest
import yaml

from labsvc.capstone import export
from labsvc.platform.export import (
    compose_file, kubernetes_manifests, validate_cloudfoundry, validate_compose, validate_kubernetes,
)

DATA = {"inventory", "payment", "orders", "history", "delivery"}
SERVICES = {"registry", "broker", "catalog-1", "catalog-2", "inventory", "payment", "orders", "history", "delivery",
            "gateway"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capstone-export")
    files = export.write(folder, image="labsvc:test")
    return {name: path.read_text() for name, path in files.items()}


def test_every_service_of_the_capstone_is_in_the_compose_file_and_it_is_valid(written):
    compose = yaml.safe_load(written["docker-compose.yml"])
    assert set(compose["services"]) == SERVICES
    assert "valid (10 services)" in validate_compose(compose)


def test_every_service_restarts_on_failure_is_health_checked_and_finds_the_others(written):
    for name, svc in yaml.safe_load(written["docker-compose.yml"])["services"].items():
        assert svc["restart"] == "on-failure", name
        assert svc["healthcheck"]["test"][:2] == ["CMD", "python"] and "/health" in svc["healthcheck"]["test"][-1]
        env = svc["environment"]
        assert env["LABSVC_SERVICE_URL_TEMPLATE"] == "http://{name}:8000", name
        assert env["LABSVC_INSTANCE"] == (name if name.startswith("catalog-") else f"{name}-1")
        assert svc["command"][:3] == ["uvicorn", f"labsvc.capstone.services:{name.split('-')[0]}", "--factory"]


def test_each_database_lives_on_a_named_volume_of_its_own(written):
    compose = yaml.safe_load(written["docker-compose.yml"])
    assert set(compose["volumes"]) == {f"{n}-data" for n in DATA}
    for name, svc in compose["services"].items():
        if name in DATA:
            assert svc["volumes"] == [f"{name}-data:/data"] and svc["environment"]["LABSVC_DATA_DIR"] == "/data"
        else:
            assert "volumes" not in svc and "LABSVC_DATA_DIR" not in svc["environment"]


def test_instances_answer_to_their_own_name_and_to_the_service_name(written):
    services = yaml.safe_load(written["docker-compose.yml"])["services"]
    assert services["catalog-1"]["networks"]["default"]["aliases"] == ["catalog"]
    assert services["orders"]["networks"]["default"]["aliases"] == ["orders-1"]
    for name, svc in services.items():
        assert set(svc.get("depends_on", [])) <= SERVICES


def test_only_the_gateway_is_published_and_only_on_127_0_0_1(written):
    services = yaml.safe_load(written["docker-compose.yml"])["services"]
    published = {name: svc["ports"] for name, svc in services.items() if "ports" in svc}
    assert published == {"gateway": ["127.0.0.1:${LABSVC_GATEWAY_PORT:-8080}:8000"]}


def test_the_kubernetes_manifests_validate_strictly_with_the_service_urls_probes_and_drain():
    docs = kubernetes_manifests(export.topology())
    assert all("valid" in line for line in validate_kubernetes(docs))
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for name in export.SERVICES:
        assert by["ConfigMap", f"{name}-env"]["data"]["LABSVC_SERVICE_URL_TEMPLATE"] == "http://{name}"
        deploy = by["Deployment", name]
        pod = deploy["spec"]["template"]["spec"]
        c = pod["containers"][0]
        port = c["ports"][0]["containerPort"]
        assert c["command"][c["command"].index("--port") + 1] == str(port)
        assert c["livenessProbe"]["httpGet"]["port"] == port == c["readinessProbe"]["httpGet"]["port"]
        assert c["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
        assert pod["terminationGracePeriodSeconds"] > int(c["lifecycle"]["preStop"]["exec"]["command"][1])
        env = {e["name"]: e for e in c["env"]}
        assert env["LABSVC_INSTANCE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert env["LABSVC_INSTANCE_URL"]["value"] == f"http://$(POD_IP):{port}"
        if name in DATA:
            assert by["PersistentVolumeClaim", f"{name}-data"]["spec"]["accessModes"] == ["ReadWriteOnce"]
            assert deploy["spec"]["strategy"] == {"type": "Recreate"}
            assert pod["securityContext"]["fsGroup"] == 65534
            assert c["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert by["Deployment", "catalog"]["spec"]["replicas"] == 2


def test_the_cloud_foundry_manifest_validates_with_internal_routes(written):
    cf = yaml.safe_load(written["manifest.yml"])
    assert "valid (9 applications)" in validate_cloudfoundry(cf)
    catalog = next(a for a in cf["applications"] if a["name"] == "catalog")
    assert {"route": "catalog.apps.internal"} in catalog["routes"]
    assert catalog["env"]["LABSVC_SERVICE_URL_TEMPLATE"] == "http://{name}.apps.internal:8080"
    assert "$CF_INSTANCE_INDEX" in catalog["command"] and "--port $PORT" in catalog["command"]


def test_the_image_takes_a_base_image_and_a_wheelhouse_and_owns_its_data_folder(written):
    dockerfile = written["Dockerfile"]
    assert "ARG BASE_IMAGE=python:3.11-slim" in dockerfile
    assert dockerfile.count("FROM ${BASE_IMAGE}") == 2
    assert 'pip install --no-index --find-links "$WHEELHOUSE" -r "$REQUIREMENTS"' in dockerfile
    assert "ARG REQUIREMENTS=" in dockerfile and "!labsvc" in written["Dockerfile.dockerignore"]
    assert "mkdir -p /data && chown 65534:65534 /data" in dockerfile
    assert dockerfile.rstrip().endswith("USER 65534:65534")
    pins = dict(line.split("==") for line in written["requirements.txt"].splitlines() if "==" in line)
    assert pins["fastapi"] == metadata.version("fastapi") and set(pins) == set(export.SERVICE_REQUIREMENTS)


def _closure(names) -> set[str]:
    """The distributions ``names`` need on this Python, theirs included (what pip installs with them)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [n.lower().replace("_", "-") for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(re.sub(r"[-_.]+", "-", requirement.name).lower())
    return seen


@pytest.mark.slow
def test_the_image_installs_every_distribution_a_service_imports():
    code = ("import json, sys, importlib.metadata as md\n"
            "from labsvc.capstone import services\n"
            "for factory in services.FACTORIES.values(): factory()\n"
            "dist = md.packages_distributions()\n"
            "print(json.dumps(sorted({d for m in list(sys.modules) for d in dist.get(m.split('.')[0], [])})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"LABSVC_SERVICE_URL_TEMPLATE": "http://{name}:8000", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    imported = {d.lower().replace("_", "-") for d in json.loads(out.stdout.splitlines()[-1])}
    # httpx imports its optional command-line helpers (pygments) when they happen to be installed; setuptools'
    # own .pth hook (_distutils_hack) is in every Python 3.11 venv, the image's too.
    missing = imported - _closure(export.SERVICE_REQUIREMENTS) - {"labsvc", "pygments", "setuptools"}
    assert not missing, f"add these to labsvc.capstone.export.SERVICE_REQUIREMENTS: {sorted(missing)}"


def test_the_compose_file_of_a_platform_keeps_its_replicas_and_gains_the_url_map():
    compose = compose_file(export.topology())
    assert compose["services"]["catalog-2"]["deploy"]["replicas"] == 1  # one Compose service per named instance
