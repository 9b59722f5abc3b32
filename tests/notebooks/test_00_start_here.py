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



def test_every_exercise_runs_again_after_run_all(exercise_replay):
    # last in this file: it runs every exercise (placeholder, then solution) in the notebook's kernel after Run All
    assert not exercise_replay, "\n".join(exercise_replay)
