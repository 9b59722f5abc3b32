"""Notebook 13 pushes, heals, autoscales, rolls out, restarts a batch job and exports; its solutions pass."""

import pytest

pytestmark = pytest.mark.slow
# tb: notebooks/13_deployment_on_a_platform.ipynb after two passes in one kernel (tests/notebooks/conftest.py)


def test_one_app_scales_while_the_other_is_stopped(tb):
    answers, shop = tb.value("answers"), tb.value("shop")
    assert sorted(set(answers)) == ["web-1", "web-2", "web-3"] and shop == "InstanceDownError"


def test_the_crashed_app_heals_after_its_backoff(tb):
    events = tb.value("heal.events[['time', 'instance', 'reason']].to_dict('records')")
    backoffs = [(e["time"], e["instance"]) for e in events if e["reason"] == "BackOff"]
    restarts = [(e["time"], e["instance"]) for e in events if e["reason"] == "Restarted"]
    assert [i for _, i in backoffs] == [i for _, i in restarts] == ["web-1", "web-2", "web-3", "web-1"]
    assert [round(t) for t, _ in backoffs] == [5, 5, 5, 25]     # the crashes
    # 10 s after the first crash, 20 s after web-1's second in a row (plus the simulated start-up millisecond)
    waits = [back - crash for (crash, _), (back, _) in zip(backoffs, restarts)]
    assert waits == pytest.approx([10, 10, 10, 20], abs=0.01)
    assert tb.value("heal.status['state'].tolist()") == ["Running"] * 3


def test_the_hpa_follows_the_ramp_and_waits_before_scaling_down(tb):
    assert tb.value("desired_replicas(50, 90, 75), desired_replicas(10, 80, 75)") == [60, 10]
    hpa = tb.value("ramp.hpa[['time', 'recommendation', 'desired', 'reason']].to_dict('records')")
    peak = max(r["desired"] for r in hpa)
    assert 4 <= peak <= 8                               # 120 rps at 20 per instance wants about 6
    assert hpa[-1]["desired"] < peak                    # it did come down ...
    reached = next(i for i, r in enumerate(hpa) if r["desired"] == peak)
    first_drop = next(r["time"] for r in hpa[reached:] if r["desired"] < peak)
    last_high = max(r["time"] for r in hpa if r["recommendation"] >= peak)
    assert first_drop - last_high > 300                 # ... but only once the 300 s window held no high advice
    assert "stabilization window" in {r["reason"] for r in hpa}


def test_rolling_and_blue_green_lose_nothing_and_the_canary_rolls_back(tb):
    rows = {r["run"]: r for r in tb.value("rollout_summary(runs).to_dict('records')")}
    assert rows["rolling"]["failed"] == 0 and rows["rolling"]["completed"]
    assert rows["blue-green"]["failed"] == 0 and rows["blue-green"]["completed"]
    assert rows["recreate"]["failed"] > 0
    canary = rows["canary (bad v3)"]
    assert canary["rolled_back"] and not canary["completed"]
    assert 0 < canary["failed"] / canary["requests"] <= 0.15
    assert tb.value("float(runs['canary (bad v3)'].steps['weight'].max())") == pytest.approx(0.1)


def test_without_prestop_the_rolling_update_loses_requests_and_one_retry_saves_only_some(tb):
    rows = {r["run"]: r for r in tb.value("rollout_summary(prestop).to_dict('records')")}
    assert list(rows) == ["no preStop", "no preStop, one retry", "preStop 5 s"]
    none, retry, sleep = rows.values()
    assert all(r["completed"] and r["endpoint_delay"] == 3 for r in rows.values())
    assert none["failed"] > 0                       # SIGTERM came before the endpoints dropped the pod
    assert 0 < retry["failed"] < none["failed"]     # a retry can land on another stopped pod
    assert sleep["failed"] == 0 and sleep["pre_stop"] == 5
    assert none["requests"] == retry["requests"] == sleep["requests"]

def test_the_batch_job_writes_every_item_exactly_once(tb):
    assert tb.value("len(rows)") == 100 and tb.value("int(rows['times'].max())") == 1
    steps = tb.value("job.repository.step_executions[['status', 'position']].values.tolist()")
    assert steps == [["FAILED", 40], ["COMPLETED", 100]]


def test_the_export_is_valid_and_a_broken_one_is_not(tb):
    lines = tb.value("validate_kubernetes(kubernetes_manifests(platform))")
    assert any(line.startswith("HorizontalPodAutoscaler/web") for line in lines)
    assert any(line.startswith("CronJob/invoices") for line in lines)
    assert tb.value("sorted(written)") == ["Dockerfile", "Dockerfile.dockerignore", "docker-compose.yml", "k8s", "manifest.yml"]
    assert tb.value("validate_compose(compose_file(platform))").startswith("docker-compose.yml: valid")
    tb.inject("""
        try:
            validate_kubernetes([deployment]); rejected = False
        except Exception:
            rejected = True
    """)
    assert tb.ref("rejected") is True


def test_the_cloud_foundry_manifest_is_written_and_wrong_ones_are_refused(tb):
    import yaml

    web, shop = yaml.safe_load(tb.value("cf_manifest(pushed)"))["applications"]
    assert web["health-check-type"] == "http" and web["health-check-http-endpoint"] == "/health"
    assert web["routes"] == [{"route": "web.svc"}] and web["instances"] == 2 and web["timeout"] == 60
    assert shop["health-check-type"] == "port" and shop["env"] == {"PROFILE": "demo"}
    tb.inject("""
        refusals = []
        for app in ({"name": "web", "health-check-type": "tcp"}, {"name": "web", "health-check-type": "http"}):
            try:
                validate_cf_manifest({"applications": [app]})
            except ManifestError as exc:
                refusals.append(str(exc))
    """)
    tcp, http = tb.ref("refusals")
    assert "health-check-type='tcp' is not one of" in tcp and "without health-check-http-endpoint" in http


def test_cloud_foundry_restarts_as_diego_documents_and_gives_up(tb):
    side = tb.value("side.head(10).to_dict('list')")
    assert side["wait CF"] == [0, 0, 0, 30, 60, 120, 240, 480, 960, 960]
    assert side["wait k8s"] == [10, 20, 40, 80, 160, 300, 300, 300, 300, 300]
    assert tb.value("(int(last['crash']), last['state'])") == [201, "CRASHED (given up)"]
    summary = tb.value("loops.summary.set_index('platform')['longest_wait'].to_dict()")
    assert summary == {"Kubernetes": 300.0, "Cloud Foundry": 960.0}


def test_only_the_http_health_check_sees_a_live_but_broken_instance(tb):
    seen = tb.value("hc.summary.pivot(index='failure', columns='health_check', values='detected').to_dict()")
    assert seen["http"] == {"endpoint answers 500": True, "endpoint hangs": True, "process exits": True}
    for kind in ("port", "process"):
        assert seen[kind] == {"endpoint answers 500": False, "endpoint hangs": False, "process exits": True}


def test_the_app_autoscaler_waits_for_its_breach_and_cool_down_where_the_hpa_jumps(tb):
    rows = tb.value("h[h.desired != h.current][['time', 'current', 'desired']].round(0).values.tolist()")
    assert rows == [[135, 1, 3], [315, 3, 2]]
    assert tb.value("int(hpa.desired.max())") == 6
    assert tb.value("int(h.reason.str.startswith('cooling').sum())") == 3


def test_solutions_pass_their_checks(tb):
    tb.inject("""
        ok1 = bool(check("13.hpa-first-sync", min(desired_replicas(8, 45, 20), max(8 * 2, 8 + 4))))
        wrong1 = bool(check("13.hpa-first-sync", 18))
        b = CrashLoopBackOff()
        ok2 = bool(check("13.backoff", [b.next_delay() for _ in range(6)][-1]))
        wrong2 = bool(check("13.backoff", 320))
        canary = runs["canary (bad v3)"]
        ok3 = bool(check("13.canary-share", float((~canary.load["ok"]).mean()), run=canary))
        wrong3 = bool(check("13.canary-share", 0.1, run=canary))
        ok4 = bool(check("13.cf-restart", restart_timeline(CloudFoundryBackOff, crashes=5)["starting_at"].iloc[-1]))
        wrong4 = bool(check("13.cf-restart", 60))
    """)
    assert tb.ref("ok1") is True and tb.ref("wrong1") is False
    assert tb.ref("ok2") is True and tb.ref("wrong2") is False
    assert tb.ref("ok3") is True and tb.ref("wrong3") is False
    assert tb.ref("ok4") is True and tb.ref("wrong4") is False


def test_unanswered_exercises_say_what_to_do(tb):
    assert "replace the ..." in tb.value("repr(check('13.backoff', ...))")



def test_the_prediction_is_judged_against_the_first_scale_down(tb):
    tb.inject("""
        from labsvc.course.predictions import forget
        forget("13.predict-scale-down")
        none_yet = check("13.predict-scale-down", ramp)
        predict("13.predict-scale-down", seconds=8)
        in_minutes = check("13.predict-scale-down", ramp)
        predict("13.predict-scale-down", seconds=195)
        no_window = check("13.predict-scale-down", ramp)
        predict("13.predict-scale-down", seconds=480)
        right = check("13.predict-scale-down", ramp)
        forget("13.predict-scale-down")
    """)
    assert tb.value("none_yet.ok") is False and "no prediction" in tb.value("none_yet.message")
    assert tb.value("in_minutes.ok") is False and "minutes" in tb.value("in_minutes.message")
    assert tb.value("no_window.ok") is False and "300 s" in tb.value("no_window.message")
    assert tb.value("right.ok") is True
    first_down = tb.value("float(ramp.hpa.loc[ramp.hpa.desired < ramp.hpa.current, 'time'].iloc[0])")
    assert 480 <= first_down < 495      # the 300 s window after the last high recommendation (180 s)


def test_the_prestop_exercise_starts_short_and_refuses_a_slow_rollout(tb):
    tb.inject("""
        start = check("13.prestop-lag", await rollout_experiment("rolling", pre_stop=5, endpoint_delay=8, name="nb13-t"))
        solved = check("13.prestop-lag", await rollout_experiment("rolling", pre_stop=10, endpoint_delay=8, name="nb13-t"))
        too_slow = check("13.prestop-lag", await rollout_experiment("rolling", pre_stop=15, endpoint_delay=8, name="nb13-t"))
        other_lag = check("13.prestop-lag", await rollout_experiment("rolling", pre_stop=5, name="nb13-t"))
    """)
    assert tb.value("start.ok") is False and "target 0, missed by" in tb.value("start.message")
    assert tb.value("solved.ok") is True
    assert tb.value("too_slow.ok") is False and "refused" in tb.value("too_slow.message")
    assert tb.value("other_lag.ok") is False and "keep endpoint_delay=8" in tb.value("other_lag.message")

def test_nothing_is_left_running(tb):
    assert tb.value("[n.name for n in running_networks() if n.name.startswith('nb13')]") == []


def test_every_exercise_runs_again_after_run_all(exercise_replay):
    # last in this file: it runs every exercise (placeholder, then solution) in the notebook's kernel after Run All
    assert not exercise_replay, "\n".join(exercise_replay)
