"""Notebook 00 computes what it says it computes, and its exercise solutions pass their checks."""

import pytest

pytestmark = pytest.mark.slow
# tb: notebooks/00_start_here.ipynb after two passes in one kernel (tests/notebooks/conftest.py)


def test_round_robin_split_the_calls_evenly(tb):
    assert tb.ref("share") == {"catalog-1": 0.5, "catalog-2": 0.5}


def test_the_first_call_is_drawn_as_one_hop_from_notebook_to_catalog(tb):
    assert tb.value("first_call.participants") == ["notebook", "catalog"]
    assert tb.value("[first_call.hops, first_call.arrows]") == [1, 2]
    mermaid = tb.value("first_call.mermaid")
    lines = [line.strip() for line in mermaid.splitlines()]
    assert lines[0] == "sequenceDiagram" and "participant p_notebook as notebook" in lines
    call = lines.index("p_notebook->>catalog: GET /products/{product_id}")
    assert lines[call + 1].startswith("catalog-->>p_notebook: 200 · ") and lines[call + 1].endswith(" ms")


def test_a_few_slow_calls_stay_out_of_p50_and_show_in_p99(tb):
    summary = tb.value("run.summary().to_dict()")
    assert summary["requests"] == 200 and summary["availability"] == 1.0
    slow = tb.ref("slow_calls")
    # about 5 % of the calls took the 40 ms: fewer than half (so p50 stays fast), more than 1 % (so p99 sees them)
    assert 200 * 0.01 < slow < 200 * 0.5
    assert summary["p50_ms"] < 20.0 and summary["p99_ms"] >= 40.0


def test_error_rate_shows_in_availability_and_errors_are_problem_documents(tb):
    summary = tb.value("failed.summary().to_dict()")
    assert summary["requests"] == 100 and 0 < summary["errors"] < 30
    # 100 seeded draws at 10 %: the count lands within three standard deviations of 10
    assert abs(summary["errors"] - 10) <= 3 * (100 * 0.1 * 0.9) ** 0.5
    assert tb.value("failed_response.headers['content-type']") == "application/problem+json"
    assert tb.value("failed_response.json()['status']") == tb.value("failed_response.status_code")


def test_the_scripted_studio_demo_fails_only_on_the_crashed_instance_while_it_is_down(tb):
    actions = tb.value("studio.run_actions()[['action', 'target']].values.tolist()")
    assert actions == [["crash", "catalog-2"], ["restart", "catalog-2"]]
    shares = tb.value("studio.shares().set_index('instance')['errors'].to_dict()")
    assert shares["catalog-1"] == 0 and shares["catalog-2"] > 0
    assert tb.value("int((~demo.df['ok']).sum())") == shares["catalog-2"]
    assert tb.value("float(studio.timeline()['availability'].iloc[-1])") == 1.0


def test_unanswered_exercises_say_what_to_do(tb):
    assert tb.value("bool(check('00.instance-url', ...))") is False


def test_solutions_pass_their_checks(tb):
    tb.inject("await net.start()")
    tb.inject("""
        net.reset_calls()
        net.fault("inventory-1", latency="50ms")
        for _ in range(10):
            await client.get("http://inventory-1.svc/stock/1")
        answer2 = net.calls.query("instance == 'inventory-1'")["duration"].median() * 1000
        net.clear_faults()
        ok2 = bool(check("00.inject-latency", answer2, calls=net.calls))
        net.reset_calls()
        net.fault("catalog", error_rate=0.25)
        await labsvc.open_loop(net, "GET http://catalog.svc/products/1", rate=200, requests=200)
        calls = net.calls.query("callee == 'catalog'")
        answer3 = (calls["status"] >= 500).mean()
        net.clear_faults()
        ok3 = bool(check("00.error-rate", answer3, calls=net.calls))
        wrong3 = bool(check("00.error-rate", 0.5, calls=net.calls))
    """)
    assert tb.value("bool(check('00.instance-url', 'http://catalog-2.svc'))") is True
    assert tb.ref("ok2") is True
    assert tb.ref("ok3") is True
    assert tb.ref("wrong3") is False
    tb.inject("await net.stop()")


def test_the_p99_prediction_is_judged_against_the_measured_run(tb):
    # under Run All the guess is still ...: the check says so, and is never an error
    assert "no prediction was made" in tb.value("repr(check('00.predict-p99', run))")
    measured = tb.value("float(run.summary()['p99_ms'])")
    assert measured >= 40  # the slow band: 40 ms on top of the service's own time
    tb.inject("""
        from labsvc.course.predictions import forget
        predict("00.predict-p99", ms=round(float(run.summary()["p99_ms"])))
        p_right = check("00.predict-p99", run)
        predict("00.predict-p99", ms=1)
        p_median = check("00.predict-p99", run)
        predict("00.predict-p99", ms=round(float(run.summary()["p99_ms"])) / 1000)
        p_seconds = check("00.predict-p99", run)
        predict("00.predict-p99", seconds=0.041)
        p_unit = check("00.predict-p99", run)
        p_object = check("00.predict-p99", run.summary())
        forget("00.predict-p99")   # the replay test below starts from Run All's state
    """)
    assert tb.value("p_right.ok") is True and "you predicted" in tb.value("p_right.message")
    assert tb.value("p_median.ok") is False and f"Off by {round(measured - 1)} ms" in tb.value("p_median.message")
    assert tb.value("p_seconds.ok") is False
    assert "this looks like seconds; the question asks for milliseconds" in tb.value("p_seconds.message").lower()
    assert tb.value("p_unit.ok") is False and "given in seconds" in tb.value("p_unit.message")
    assert tb.value("p_object.ok") is False and "load run of section 4" in tb.value("p_object.message")


def test_the_instances_drill_starts_short_reaches_the_target_with_four_and_refuses_five(tb):
    tb.inject("""
        async def drill_with(n, crash=True):
            drill_n = labsvc.Network(seed=0, name=f"nb00-drill-test-{n}")
            drill_n.add("catalog", catalog_app, instances=n)
            async with drill_n:
                s = Studio(drill_n, "http://catalog.svc/products/1", rate=100, duration="1.5s", window=0.1, pace=None)
                await s.run_load(during=[(0.5, "crash", "catalog-2"), (1.0, "restart", "catalog-2")] if crash else [])
            return s
        drills = {n: await drill_with(n) for n in (2, 4, 5)}
        drill_checks = {n: check("00.instances", s) for n, s in drills.items()}
        drill_no_crash = check("00.instances", await drill_with(2, crash=False))
        drill_availability = {n: float(s.last_run.summary()["availability"]) for n, s in drills.items()}
    """)
    two, four = tb.value("[drill_availability[2], drill_availability[4]]")
    # the notebook's starting value misses the 88 % target; four instances reach it
    assert two < 0.88 <= four
    assert tb.value("drill_checks[2].ok") is False and "short of the 88% target" in tb.value("drill_checks[2].message")
    assert tb.value("drill_checks[4].ok") is True
    # five instances reach it too, but break the stated budget of four
    assert tb.value("drill_checks[5].ok") is False and "refused" in tb.value("drill_checks[5].message")
    assert tb.value("drill_no_crash.ok") is False and "must crash catalog-2" in tb.value("drill_no_crash.message")


def test_every_exercise_runs_again_after_run_all(exercise_replay):
    # last in this file: it runs every exercise (placeholder, then solution) in the notebook's kernel after Run All
    assert not exercise_replay, "\n".join(exercise_replay)
