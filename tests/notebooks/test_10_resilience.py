"""Notebook 10 measures breakers, failover, retry storms and fan-out tails, and its solutions pass their checks."""

import pytest

pytestmark = pytest.mark.slow
# tb: notebooks/10_resilience.ipynb after two passes in one kernel (tests/notebooks/conftest.py)


def subsequence(wanted, seq) -> bool:
    it = iter(seq)
    return all(any(x == w for x in it) for w in wanted)


def test_the_breaker_opens_probes_and_closes(tb):
    transitions = tb.value("with_breaker.transitions")
    states = [transitions[0][0], *(to for _, to in transitions)]
    assert subsequence(["CLOSED", "OPEN", "HALF_OPEN", "CLOSED"], states) and states[-1] == "CLOSED"
    assert tb.value("without_breaker.transitions") == []


def test_the_breaker_fails_fast_and_spares_reviews(tb):
    rows = {(r["breaker"], r["phase"]): r for r in tb.value("phases.to_dict('records')")}
    on, off = rows[("with breaker", "during")], rows[("without breaker", "during")]
    assert on["degraded"] == off["degraded"] == 1.0
    assert on["p50_ms"] < 20 and off["p50_ms"] >= 100
    assert on["calls_to_reviews"] < off["calls_to_reviews"] / 2


def test_the_refused_call_is_drawn_from_the_breaker_events(tb):
    assert tb.value("breaker_trace.participants") == ["users", "web", "reviews"]
    lines = [line.strip() for line in tb.value("breaker_trace.mermaid").splitlines()]
    assert lines[-3] == "users->>web: GET /products/{product_id}"
    assert lines[-2] == "web-xreviews: call not permitted: circuit OPEN"
    assert lines[-1].startswith("web-->>users: 200 · ")
    # The call log alone has only the user's hop for this request: the refused call never left web.
    assert tb.value("int((with_breaker.calls['trace_id'] == refused).sum())") == 1
    assert "not permitted" not in tb.value("sequence_diagram(with_breaker, trace=refused).mermaid")


def test_breakers_and_a_retry_route_around_the_dead_instance(tb):
    rows = {r["strategy"]: r for r in tb.value("failover_summary(failover).to_dict('records')")}
    assert rows["round robin"]["errors"] >= 25
    assert rows["breakers"]["errors"] <= 8
    assert rows["breakers + retry"]["errors"] == 0


def test_the_order_of_the_stack_changes_what_reviews_sees(tb):
    rows = {r["retry"]: r for r in tb.value("order_matters.to_dict('records')")}
    outside, inside = rows["outside the breaker"], rows["inside the breaker"]
    assert outside["pages without reviews"] == inside["pages without reviews"] == 10
    # Outside: every attempt counts, the breaker opens after 4 calls and refuses the retries.
    # Inside: the breaker judges one outcome per page, after 3 attempts each.
    assert (outside["calls reaching reviews"], inside["calls reaching reviews"]) == (4, 12)
    assert (outside["attempts refused by the breaker"], inside["attempts refused by the breaker"]) == (26, 6)


def test_naive_retries_storm_and_a_budget_holds_them(tb):
    per = {(r["policy"], r["layer"]): r["per_request"] for r in tb.value("storm.to_dict('records')")}
    assert per[("naive", "c")] == 27.0 > 10
    assert per[("none", "c")] == 1.0
    assert per[("budget", "c")] <= 1.34
    assert 1.0 < per[("budget + one layer", "c")] <= 1.3


def test_one_user_request_of_the_naive_storm_is_drawn_with_its_retries(tb):
    assert tb.value("storm_trace.participants") == ["users", "a", "b", "c"]
    assert tb.value("storm_trace.hops") == 39
    assert tb.value("int((one_request.calls['callee'] == 'c').sum())") == 27
    lines = [line.strip() for line in tb.value("storm_trace.mermaid").splitlines()]
    assert lines[1].startswith("title 3 traces · 39 hops")
    for line in ("users->>a: GET /work ×3", "a->>b: GET /work (retries 1–2)", "b->>c: GET /work",
                 "c--xb: 503 injected fault · 0 ms", "b-xc: GET /work (retries 1–2) → 503 injected fault · 0 ms"):
        assert line in lines
    assert lines[-1].startswith("a--xusers: 503 · ")


def test_fanout_makes_the_tail_common(tb):
    model = {r["fanout"]: r for r in tb.value("model.to_dict('records')")}
    assert model[1]["p99_ms"] < 5 and model[5]["p99_ms"] >= 45
    assert model[100]["slow_share"] == pytest.approx(model[100]["predicted_slow_share"], abs=0.03)
    measured = {r["fanout"]: r for r in tb.value("measured.to_dict('records')")}
    # Lower bounds and counts only: a busy machine adds latency, it never removes the 50 ms draws.
    assert measured[10]["p99_ms"] >= 45 and measured[10]["p99_ms"] > measured[1]["p99_ms"]
    assert measured[10]["slow_share"] > measured[1]["slow_share"]


def test_solutions_pass_their_checks(tb):
    tb.inject("""
        changes = with_breaker.events.query("kind == 'state_transition'")
        answer1 = [changes["from_state"].iloc[0], *changes["to_state"]]
        ok1 = bool(check("10.breaker-states", answer1, events=with_breaker.events))
        wrong1 = bool(check("10.breaker-states", ["CLOSED", "OPEN", "CLOSED"], events=with_breaker.events))
        half_open_solution = half_open_trial(["success", "failure", "success"])
        ok_half_open = bool(check("10.half-open", half_open_solution, prediction="CLOSED"))
        wrong_half_open = bool(check("10.half-open", half_open_solution, prediction="OPEN"))
        naive = await retry_storm("naive", requests=50, seed=10, name="nb10-ex2")
        answer2 = int((naive.calls["callee"] == "c").sum()) / naive.user_requests
        ok2 = bool(check("10.amplification", answer2, result=naive))
        wrong2 = bool(check("10.amplification", 9, result=naive))
        answer3 = 1 - (1 - 0.005) ** 50
        ok3 = bool(check("10.fanout", answer3))
        wrong3 = bool(check("10.fanout", 0.005 * 50 / 2))
    """)
    assert tb.ref("ok1") is True and tb.ref("wrong1") is False
    assert tb.ref("ok_half_open") is True and tb.ref("wrong_half_open") is False
    assert tb.value("[half_open_solution.state, round(half_open_solution.failure_rate)]") == ["CLOSED", 33]
    assert tb.ref("answer2") == 27.0 and tb.ref("ok2") is True and tb.ref("wrong2") is False
    assert tb.ref("ok3") is True and tb.ref("wrong3") is False


def test_nothing_is_left_running(tb):
    assert tb.value("[n.name for n in running_networks() if n.name.startswith('nb10')]") == []


def test_unanswered_exercises_say_what_to_do(tb):
    assert "replace the ..." in tb.value("repr(check('10.fanout', ...))")
    # Exercise 2 as committed: prediction is still ..., and its check cell ran (twice) without raising.
    assert tb.value("prediction is ...") is True
    assert "no prediction was made" in tb.value("repr(check('10.half-open', trial, prediction=prediction))")


def test_the_transitions_table_shows_every_reason_whole(tb):
    table = tb.value("with_breaker.state_changes()[['from_state', 'to_state', 'why']].values.tolist()")
    assert [[f, t] for f, t, _ in table] == tb.value("with_breaker.transitions")
    assert all(len(why) <= 50 for _, _, why in table)  # pandas cuts longer cells with "..."
    assert table[-1][2] == "trial calls: failure rate 0% < 50%"


def test_the_timeout_exercise_starts_too_long_reaches_the_target_and_refuses_a_cut(tb):
    tb.inject("""
        tuned_runs = {t: await breaker_experiment(breaker=False, timeout=t, seed=10, name="nb10-test-timeout")
                      for t in ("100ms", "40ms", "0.5ms")}
        timeout_checks = {t: check("10.timeout", r) for t, r in tuned_runs.items()}
        timeout_breaker = check("10.timeout", with_breaker)
    """)
    during = {t: tb.value(f"float(tuned_runs[{t!r}].phases().set_index('phase').loc['during', 'p99_ms'])")
              for t in ("100ms", "40ms")}
    # section 1's timeout misses the 50 ms target; 40 ms reaches it without cutting a healthy call
    assert during["100ms"] > 50 and tb.value("timeout_checks['100ms'].ok") is False
    assert f"{during['100ms'] - 50:.0f} ms over the 50 ms target" in tb.value("timeout_checks['100ms'].message")
    assert during["40ms"] <= 50 and tb.value("timeout_checks['40ms'].ok") is True
    assert tb.value("float(tuned_runs['40ms'].phases().set_index('phase').loc['before', 'degraded'])") == 0.0
    # a timeout shorter than a healthy answer breaks the stated constraint
    assert tb.value("float(tuned_runs['0.5ms'].phases().set_index('phase').loc['before', 'degraded'])") > 0
    assert tb.value("timeout_checks['0.5ms'].ok") is False and "refused" in tb.value("timeout_checks['0.5ms'].message")
    assert tb.value("timeout_breaker.ok") is False and "keep breaker=False" in tb.value("timeout_breaker.message")


def test_every_exercise_runs_again_after_run_all(exercise_replay):
    # last in this file: it runs every exercise (placeholder, then solution) in the notebook's kernel after Run All
    assert not exercise_replay, "\n".join(exercise_replay)
