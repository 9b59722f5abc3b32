"""CrashLoopBackOff, probe verdicts and manifest validation."""

from __future__ import annotations

import pytest

from labsvc.core.clock import FakeClock
from labsvc.platform import AppManifest, CrashLoopBackOff, ManifestError, Probe, ProbeTracker


def test_crashloop_backoff_doubles_from_10_seconds_and_caps_at_300():
    b = CrashLoopBackOff(clock=FakeClock())
    assert [b.next_delay() for _ in range(8)] == [10, 20, 40, 80, 160, 300, 300, 300]


def test_backoff_resets_after_a_healthy_stretch_only():
    clock = FakeClock()
    b = CrashLoopBackOff(clock=clock)
    b.next_delay(), b.next_delay()              # 10, 20
    b.started()
    clock.advance(599)
    assert b.next_delay() == 40                 # ran 599 s: not long enough
    b.started()
    clock.advance(600)
    assert b.next_delay() == 10                 # ran 10 min: starts over


def test_probe_changes_verdict_only_after_the_threshold():
    t = ProbeTracker(Probe.liveness(failure_threshold=3), started_at=0)
    assert t.passing is True
    assert [t.record(i * 10, False) for i in range(3)] == [None, None, False]
    assert t.record(30, True) is True
    r = ProbeTracker(Probe.readiness(), started_at=0)
    assert r.passing is None                    # not ready before the first success
    assert r.record(0, True) is True
    assert not r.due(5) and r.due(10)           # period 10 s


def test_probe_settings_are_checked():
    with pytest.raises(ValueError, match="kind"):
        Probe("sideness")
    with pytest.raises(ValueError, match="success_threshold must be 1"):
        Probe.liveness(success_threshold=2)


def test_manifest_errors_name_the_field():
    with pytest.raises(ManifestError, match="instances"):
        AppManifest.from_dict({"name": "web", "app": "m:a", "instances": -1})
    with pytest.raises(ManifestError, match="health-check-type"):
        AppManifest.from_dict({"name": "web", "app": "m:a", "health-check-type": "tcp"})
    with pytest.raises(ManifestError, match="unknown manifest field.*'instance'"):
        AppManifest.from_dict({"name": "web", "app": "m:a", "instance": 2})
    with pytest.raises(ManifestError, match="memory"):
        AppManifest.from_dict({"name": "web", "app": "m:a", "memory": "lots"})
    with pytest.raises(ManifestError, match="probes.readiness"):
        AppManifest.from_dict({"name": "web", "app": "m:a", "probes": {"readiness": {"period": 0}}})


def test_manifest_reads_cloud_foundry_shape():
    m = AppManifest.from_dict({
        "name": "web", "app": "m:a", "instances": 3, "routes": [{"route": "web.apps.example.com"}],
        "health-check-type": "http", "health-check-http-endpoint": "/health", "env": {"PROFILE": "prod"},
        "probes": {"readiness": {"path": "/ready", "period": 5}},
    })
    assert m.routes == ("web.apps.example.com",)
    assert m.probe("readiness").period == 5
    assert m.probe("liveness") is None          # explicit probes replace the default health check
    assert AppManifest("web", "m:a").probe("liveness").path == "/health"
