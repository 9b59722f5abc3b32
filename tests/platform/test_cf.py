"""Cloud Foundry's side: the manifest ``cf push`` reads, Diego's crash restarts, what each health-check type sees."""

import math

import pytest
import yaml

from labsvc.platform import (
    CloudFoundryBackOff, CrashLoopBackOff, ManifestError, cf_manifest, health_check_experiment, restart_timeline,
    validate_cf_manifest,
)

WEB = {"name": "web", "app": "labsvc.platform.lab:web_v1", "instances": 2, "memory": "128M",
       "health-check-type": "http", "health-check-http-endpoint": "/health", "timeout": 90, "env": {"PROFILE": "demo"}}


def test_cf_manifest_writes_the_attributes_cf_push_reads():
    doc = yaml.safe_load(cf_manifest([WEB, {"name": "worker", "app": "labsvc.platform.lab:web_v1",
                                            "health-check-type": "process"}]))
    web, worker = doc["applications"]
    assert web == {"name": "web", "instances": 2, "memory": "128M", "routes": [{"route": "web.svc"}],
                   "health-check-type": "http", "health-check-http-endpoint": "/health", "timeout": 90,
                   "env": {"PROFILE": "demo"}}
    assert worker["health-check-type"] == "process" and "health-check-http-endpoint" not in worker
    assert worker["instances"] == 1 and worker["timeout"] == 60


def _app(**changes):
    app = {"name": "web", "instances": 1, "memory": "256M", "health-check-type": "http",
           "health-check-http-endpoint": "/health"}
    app.update(changes)
    return {"applications": [{k: v for k, v in app.items() if v is not None}]}


def test_a_right_manifest_passes():
    assert validate_cf_manifest(_app()) == "valid"
    assert validate_cf_manifest(yaml.safe_dump(_app(**{"health-check-type": "port",
                                                       "health-check-http-endpoint": None}))) == "valid"


@pytest.mark.parametrize("changes, message", [
    ({"health-check-type": "tcp"}, r"health-check-type='tcp' is not one of \['port', 'process', 'http'\]"),
    ({"health-check-http-endpoint": None}, r"'http' without health-check-http-endpoint"),
    ({"health-check-type": "port"}, r"only applies to health-check-type 'http'"),
    ({"health-check-http-endpoint": "health"}, r"must be a path starting with '/'"),
    ({"memory": "512"}, r"memory='512' needs a unit"),
    ({"instances": -1}, r"instances=-1 must be a whole number >= 0"),
    ({"timeout": "60s"}, r"timeout='60s' is a whole number of seconds"),
    ({"routes": ["web.example.com"]}, r"routes is a list like"),
    ({"health_check_type": "http"}, r"unknown attribute\(s\) \['health_check_type'\]"),
    ({"env": {"MY-VAR": "x"}}, r"'MY-VAR' is not a variable name"),
    ({"name": None}, r"'name' is required"),
])
def test_a_wrong_manifest_is_refused_naming_the_app_and_the_field(changes, message):
    with pytest.raises(ManifestError, match=message) as info:
        validate_cf_manifest(_app(**changes))
    assert "applications[0]" in str(info.value)


def test_a_manifest_needs_applications_and_unique_names():
    with pytest.raises(ManifestError, match="non-empty 'applications' list"):
        validate_cf_manifest("applications: []")
    twice = {"applications": _app()["applications"] * 2}
    with pytest.raises(ManifestError, match="each name once"):
        validate_cf_manifest(twice)


def test_cloud_foundry_restarts_three_crashes_at_once_then_waits_30_s_doubling_to_16_minutes():
    # docs.cloudfoundry.org, "The app container lifecycle on the Diego architecture", crash events
    t = restart_timeline(CloudFoundryBackOff, crashes=11)
    assert t["wait"].tolist() == [0, 0, 0, 30, 60, 120, 240, 480, 960, 960, 960]
    assert t["starting_at"].tolist() == [0, 0, 0, 30, 90, 210, 450, 930, 1890, 2850, 3810]
    assert set(t["state"]) == {"RUNNING"}


def test_cloud_foundry_gives_up_after_the_200th_restart():
    t = restart_timeline(CloudFoundryBackOff, crashes=300)
    assert len(t) == 201                                    # the 201st crash is the last row
    assert t.iloc[199]["state"] == "RUNNING" and t.iloc[200]["state"] == "CRASHED (given up)"
    assert math.isnan(t.iloc[200]["starting_at"])
    # 3 immediate restarts, 30+60+...+480 = 930 s, then 192 waits of 960 s
    assert t.iloc[200]["crashed_at"] == 930 + 192 * 960


def test_kubernetes_waits_10_s_doubling_to_5_minutes_and_never_gives_up():
    t = restart_timeline(CrashLoopBackOff, crashes=250, crash_after=5)
    assert t["wait"].tolist()[:7] == [10, 20, 40, 80, 160, 300, 300]
    assert len(t) == 250 and set(t["state"]) == {"RUNNING"}
    assert t.iloc[1]["crashed_at"] == 5 + 10 + 5          # ran 5 s, waited 10 s, ran 5 s


def test_restart_timeline_refuses_nonsense():
    with pytest.raises(ValueError, match="crashes >= 1"):
        restart_timeline(CloudFoundryBackOff, crashes=0)


@pytest.fixture(scope="module")
def health():
    import asyncio

    return asyncio.run(health_check_experiment())


def test_every_health_check_type_sees_the_process_exit(health):
    s = health.summary.set_index(["health_check", "failure"])
    for kind in ("port", "process", "http"):
        assert s.loc[(kind, "process exits"), "detected"] and s.loc[(kind, "process exits"), "restarted"]


def test_only_http_sees_a_hung_or_failing_endpoint_of_a_live_process(health):
    s = health.summary.set_index(["health_check", "failure"])
    for failure in ("endpoint hangs", "endpoint answers 500"):
        assert s.loc[("http", failure), "detected"] and s.loc[("http", failure), "restarted"]
        for kind in ("port", "process"):
            assert not s.loc[(kind, failure), "detected"] and not s.loc[(kind, failure), "restarted"]
    # three failed checks 10 s apart: noticed 20-30 s after the fault, the hang after its 1 s timeouts
    assert 20 <= s.loc[("http", "endpoint answers 500"), "detected_after"] <= 31
    assert 20 <= s.loc[("http", "endpoint hangs"), "detected_after"] <= 33
