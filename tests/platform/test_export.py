"""The exported manifests are ones the engines accept (validated offline), and broken ones are rejected."""

from __future__ import annotations

import asyncio
import copy
import re

import pytest
import yaml

from labsvc.core.network import Network
from labsvc.platform import Platform
from labsvc.core.clock import FakeClock
from labsvc.platform.export import (
    ExportError, cloudfoundry_manifest, compose_file, kubernetes_manifests, validate_cloudfoundry, validate_compose,
    validate_kubernetes, write_export,
)
from labsvc.core import simtime


@pytest.fixture(scope="module")
def platform():
    async def build():
        net = Network(seed=1, name="export")
        p = Platform(net, clock=FakeClock())
        async with net:
            await p.push({"name": "web", "app": "platapps:web_v1", "instances": 3, "memory": "128M",
                          "env": {"PROFILE": "prod"},
                          "probes": {"liveness": {"path": "/health"}, "readiness": {"path": "/ready", "period": 5}}})
            await p.push({"name": "shop", "app": "platapps:web_v2", "instances": 1, "health-check-type": "port"})
            p.autoscale("web", min_instances=2, max_instances=8, target=50)
            p.add_job("invoices", "platapps:run_job", schedule="0 2 * * *")
            p.add_job("migrate", "platapps:run_job", backoff_limit=2)
        return p
    return simtime.run(build())


def test_kubernetes_manifests_validate_against_a_current_kubernetes(platform):
    docs = kubernetes_manifests(platform)
    kinds = [d["kind"] for d in docs]
    assert kinds.count("Deployment") == 2 and kinds.count("Service") == 2
    assert "ConfigMap" in kinds and "HorizontalPodAutoscaler" in kinds
    lines = validate_kubernetes(docs, "1.33.0")
    assert len(lines) == len(docs) and all("valid" in line for line in lines)
    deploy = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "web")
    c = deploy["spec"]["template"]["spec"]["containers"][0]
    assert deploy["spec"]["replicas"] == 3
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready" and c["readinessProbe"]["periodSeconds"] == 5
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_a_broken_kubernetes_manifest_is_rejected_naming_the_field(platform):
    docs = copy.deepcopy(kubernetes_manifests(platform))
    deploy = next(d for d in docs if d["kind"] == "Deployment")
    deploy["spec"]["replicas"] = "three"
    with pytest.raises(ExportError, match="Deployment/web.*replicas"):
        validate_kubernetes(docs)
    docs = copy.deepcopy(kubernetes_manifests(platform))
    deploy = next(d for d in docs if d["kind"] == "Deployment")
    deploy["spec"]["replicaz"] = 3                        # a typo: strict validation catches unknown fields
    with pytest.raises(ExportError, match="replicaz"):
        validate_kubernetes([deploy])


def test_cloud_foundry_manifest_uses_documented_attributes_and_rejects_unknown_ones(platform):
    cf = cloudfoundry_manifest(platform)
    assert "valid" in validate_cloudfoundry(cf)
    web = cf["applications"][0]
    assert web["health-check-type"] == "http" and web["health-check-http-endpoint"] == "/health"
    assert web["routes"] == [{"route": "web.svc"}, {"route": "web.apps.internal"}] and web["instances"] == 3
    assert web["env"]["LABSVC_SERVICE_URL_TEMPLATE"] == "http://{name}.apps.internal:8080"
    assert cf["applications"][1]["health-check-type"] == "port"
    bad = copy.deepcopy(cf)
    bad["applications"][0]["health_check_type"] = "http"  # underscore: not a CF attribute
    with pytest.raises(ExportError, match="health_check_type"):
        validate_cloudfoundry(bad)
    bad = copy.deepcopy(cf)
    bad["applications"][0]["health-check-type"] = "tcp"
    with pytest.raises(ExportError, match="health-check-type"):
        validate_cloudfoundry(bad)


def test_the_compose_file_validates_against_the_compose_specification(platform):
    compose = compose_file(platform)
    assert validate_compose(compose) == "docker-compose.yml: valid (4 services)"
    assert compose["services"]["web"]["healthcheck"]["retries"] >= 1


@pytest.mark.parametrize("break_it, where", [
    (lambda c: c["services"]["web"].update(imagee="x"), "services.web"),
    (lambda c: c["services"]["web"]["deploy"].update(replicas="three"), "services.web.deploy.replicas"),
    (lambda c: c.update(servics={}), "(top)"),
])
def test_a_broken_compose_file_is_rejected_naming_where(platform, break_it, where):
    compose = copy.deepcopy(compose_file(platform))
    break_it(compose)
    with pytest.raises(ExportError, match=rf"docker-compose.yml: at {re.escape(where)}: "):
        validate_compose(compose)


def test_write_export_writes_every_file(platform, tmp_path):
    written = write_export(platform, tmp_path)
    compose = yaml.safe_load(written["docker-compose.yml"].read_text())
    assert compose["services"]["web"]["deploy"]["replicas"] == 3
    assert compose["services"]["web"]["command"][:3] == ["uvicorn", "platapps:web_v1", "--factory"]
    assert len(list(yaml.safe_load_all(written["k8s"].read_text()))) == len(kubernetes_manifests(platform))
    assert "ARG BASE_IMAGE=python:3.11-slim" in written["Dockerfile"].read_text()
    assert compose_file(platform)["services"]["shop"].get("healthcheck") is None


def test_a_manifest_command_is_exported_as_given():
    async def build():
        net = Network(seed=1, name="export-command")
        p = Platform(net, clock=FakeClock())
        async with net:
            await p.push({"name": "web", "app": "platapps:web_v1", "command": "python -m platapps --port 8000"})
        return p
    p = simtime.run(build())
    assert compose_file(p)["services"]["web"]["command"] == ["python", "-m", "platapps", "--port", "8000"]
    assert cloudfoundry_manifest(p)["applications"][0]["command"] == "python -m platapps --port 8000"


def test_jobs_export_as_a_kubernetes_job_and_cronjob_and_a_compose_profile(platform):
    docs = {d["kind"]: d for d in kubernetes_manifests(platform) if d["kind"] in ("Job", "CronJob")}
    assert docs["CronJob"]["spec"]["schedule"] == "0 2 * * *"
    assert docs["CronJob"]["spec"]["concurrencyPolicy"] == "Forbid"
    job = docs["Job"]["spec"]
    assert job["backoffLimit"] == 2 and job["template"]["spec"]["restartPolicy"] == "Never"
    assert job["template"]["spec"]["containers"][0]["command"] == ["python", "-c", "from platapps import run_job; run_job()"]
    assert all("valid" in line for line in validate_kubernetes(list(docs.values())))
    assert compose_file(platform)["services"]["migrate"]["profiles"] == ["jobs"]
    broken = copy.deepcopy(docs["CronJob"])
    broken["spec"]["jobTemplate"]["spec"]["backoffLimit"] = "two"
    with pytest.raises(ExportError, match="CronJob/invoices.*backoffLimit"):
        validate_kubernetes([broken])


def test_job_specs_are_checked():
    from labsvc.platform import JobSpec

    with pytest.raises(ValueError, match="cron expression"):
        JobSpec("nightly", "m:f", schedule="every night")
    with pytest.raises(ValueError, match="module:function"):
        JobSpec("nightly", "m.f")
