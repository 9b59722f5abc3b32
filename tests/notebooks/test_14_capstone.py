"""Notebook 14 runs the whole system through five chaos experiments, and its solutions pass their checks."""

import pytest

pytestmark = pytest.mark.slow
# tb: notebooks/14_capstone.ipynb after two passes in one kernel (tests/notebooks/conftest.py)


def test_one_checkout_crosses_the_saga_and_reaches_history_and_delivery(tb):
    assert tb.value("order.json()['status']") == "APPROVED"
    assert tb.value("history.json()[0]['status']") == "APPROVED"
    assert tb.value("delivery.json()['status']") == "preparing"
    edges = set(map(tuple, tb.value("tour[['caller', 'callee']].drop_duplicates().values.tolist()")))
    assert {("gateway", "orders"), ("orders", "inventory"), ("orders", "payment"), ("orders", "broker")} <= edges


def test_the_hypothesis_is_one_probe_per_slo_and_the_canary_gets_a_tenth(tb):
    # what cells c10, c15 and c23 say in prose
    probes = tb.value("{p['name']: p['tolerance'] for p in hypothesis['probes']}")
    assert probes == {"browse availability": [0.99, 1.0], "checkout availability": [0.99, 1.0],
                      "history availability": [0.99, 1.0], "browse p95 (ms)": [0, 250],
                      "checkout p95 (ms)": [0, 2000]}
    assert tb.value("sorted((s.journey, s.target, s.latency_ms) for s in SLOS if s.latency_ms)") == [
        ["browse", 0.95, 250], ["checkout", 0.95, 2000]]
    deploy = tb.value("experiments.spec('bad_deploy')['method'][0]['provider']['arguments']")
    assert deploy["strategy"] == "canary" and deploy["share"] == 0.1

def test_with_resilience_on_every_experiment_holds(tb):
    verdicts = tb.value("{name: report.verdict for name, report in on.items()}")
    assert {verdicts[name] for name in ("bad_deploy", "instance_crash", "partition", "payment_down",
                                        "slow_dependency")} == {"held"}


def test_with_resilience_off_the_same_experiments_deviate_and_spend_the_budget(tb):
    assert tb.value("{name: report.verdict for name, report in off.items()}") == {
        "instance_crash": "deviated", "payment_down": "deviated"}
    spent = {(r["run"], r["slo"]): r["budget_spent"] for r in tb.value("budget.to_dict('records')")}
    assert spent[("instance_crash · off", "browse availability 99.0%")] > 1
    assert spent[("payment_down · off", "checkout availability 99.0%")] > 1
    assert spent[("payment_down · on", "checkout availability 99.0%")] == 0


def test_a_rolling_bad_deploy_leaves_nothing_to_retry_on(tb):
    assert tb.value("on['bad_deploy · rolling'].verdict") == "deviated"
    assert tb.value("on['bad_deploy · rolling'].summary()['availability_during']") < 0.8


def test_solutions_pass_their_checks_and_wrong_answers_are_refused(tb):
    tb.inject("""
        settings = RESILIENCE_ON.but(saga_attempts=3, saga_backoff="200ms")
        report = await run_chaos("payment_down", settings, seed=14, name="nb14-ex1")
        ok1 = check("14.payment-settings", settings, report=report)
        few = RESILIENCE_ON.but(saga_attempts=2, saga_backoff="100ms")
        report_few = await run_chaos("payment_down", few, seed=14, name="nb14-ex1-wrong")
        wrong1 = check("14.payment-settings", few, report=report_few)
        mismatch = check("14.payment-settings", few, report=report)
        stricter = experiments.load("slow_dependency").with_tolerance("browse p95 (ms)", [0, 100])
        report2 = await run_chaos(stricter, RESILIENCE_ON, seed=14, name="nb14-ex2")
        ok2 = check("14.tightened", "browse p95 (ms)", report=report2)
        wrong2 = check("14.tightened", "browse availability", report=report2)
        stock = check("14.tightened", "browse p95 (ms)", report=on["slow_dependency"])
        too_strict = experiments.load("slow_dependency").with_tolerance("browse p95 (ms)", [0, 0.001])
        report3 = await run_chaos(too_strict, RESILIENCE_ON, seed=14, name="nb14-ex2-strict")
        nothing_tested = check("14.tightened", "browse p95 (ms)", report=report3)
    """)
    assert tb.value("bool(ok1)") is True, tb.value("ok1.message")
    assert tb.value("bool(wrong1)") is False and "0.10 s of pauses" in tb.value("wrong1.message")
    assert tb.value("bool(mismatch)") is False and "other settings" in tb.value("mismatch.message")
    assert tb.value("bool(ok2)") is True, tb.value("ok2.message")
    assert tb.value("bool(wrong2)") is False and "browse p95 (ms)" in tb.value("wrong2.message")
    assert tb.value("bool(stock)") is False and "stock experiment" in tb.value("stock.message")
    assert tb.value("bool(nothing_tested)") is False and "not steady even before" in tb.value("nothing_tested.message")


def test_nothing_is_left_running(tb):
    assert tb.value("[n.name for n in running_networks() if n.name.startswith('nb14')]") == []


def test_unanswered_exercises_say_what_to_do(tb):
    assert "replace the ..." in tb.value("repr(check('14.payment-settings', ...))")


def test_one_failed_checkout_under_chaos_shows_the_refused_charge(tb):
    # the traced rerun is the very run of off["payment_down"]
    assert tb.ref("same_run") is True
    assert tb.value("rerun.verdict") == "deviated"
    assert tb.value("failed_checkout.participants") == ["users", "gateway", "orders", "inventory", "payment"]
    lines = [line.strip() for line in tb.value("failed_checkout.mermaid").splitlines()]
    assert lines[7:11] == [
        "users->>gateway: POST /orders/orders",
        "gateway->>orders: POST /orders",
        "orders->>inventory: POST /reservations",
        "inventory-->>orders: 201 · 1 ms",
    ]
    failed = lines.index("orders-xpayment: POST /charges: refused: instance down")
    # the compensation: refunds refused while payment is down, then one that gets through, then the stock back
    assert lines[failed + 1] == "orders-xpayment: POST /refunds: refused: instance down"
    assert "orders->>payment: POST /refunds (retry 3)" in lines and "payment-->>orders: 200 · 1 ms" in lines
    assert "orders->>inventory: DELETE /reservations/{order_id}" in lines
    assert lines[-1].startswith("gateway-->>users: 201 · ")
    assert not any(line.startswith("orders->>payment: POST /charges") for line in lines)
    trace = tb.value("refused['trace_id'].iloc[0]")
    order = tb.value(f"kept.net.calls.query('trace_id == \"{trace}\" and caller == \"users\"')['status'].tolist()")
    assert order == [201]


def test_the_prediction_is_judged_against_the_measured_crash(tb):
    tb.inject("""
        from labsvc.course.predictions import forget
        forget("14.predict-crash-off")
        none_made = check("14.predict-crash-off", off["instance_crash"])
        predict("14.predict-crash-off", percent=0.5)
        as_share = check("14.predict-crash-off", off["instance_crash"])
        predict("14.predict-crash-off", percent=90)
        too_high = check("14.predict-crash-off", off["instance_crash"])
        predict("14.predict-crash-off", percent=50)
        close = check("14.predict-crash-off", off["instance_crash"])
        wrong_run = check("14.predict-crash-off", on["instance_crash"])
        forget("14.predict-crash-off")
    """)
    served = tb.value("off['instance_crash'].probes.query(\"phase == 'during' and probe == 'browse availability'\")"
                      "['value'].iloc[0]")
    assert 0.4 < served < 0.6          # every other page went to the dead instance
    assert tb.value("bool(none_made)") is False and "no prediction was made" in tb.value("none_made.message")
    assert tb.value("bool(as_share)") is False and "asks for a percentage" in tb.value("as_share.message")
    assert tb.value("bool(too_high)") is False and f"gave {round(served * 100, 1)}" in tb.value("too_high.message")
    assert tb.value("bool(close)") is True, tb.value("close.message")
    assert tb.value("bool(wrong_run)") is False and "other settings" in tb.value("wrong_run.message")


def test_the_slow_instance_exercise_is_judged_on_the_measured_slo_report(tb):
    tb.inject("""
        start = check("14.slow-slo", slow)   # the cell's own starting values, as Run All left them
        start_policy = slow.resilience
        timeout_only = await run_chaos("slow_dependency", RESILIENCE_OFF.but(timeout="150ms"), seed=14,
                                       name="nb14-ex4-timeout")
        no_retry = check("14.slow-slo", timeout_only)
        too_long = await run_chaos("slow_dependency", RESILIENCE_OFF.but(timeout="300ms", retries=2), seed=14,
                                   name="nb14-ex4-long")
        long_timeout = check("14.slow-slo", too_long)
        solved = await run_chaos("slow_dependency", RESILIENCE_OFF.but(timeout="150ms", retries=2), seed=14,
                                 name="nb14-ex4-solved")
        ok4 = check("14.slow-slo", solved)
        solved_budget = slo_report({"solved": solved}).query("journey == 'browse'")["met"].tolist()
        three = await run_chaos("slow_dependency", RESILIENCE_ON, seed=14, name="nb14-ex4-three")
        too_many = check("14.slow-slo", three)
        millis = check("14.slow-slo", await run_chaos("slow_dependency", RESILIENCE_OFF.but(timeout=150, retries=2),
                                                      seed=14, name="nb14-ex4-ms"))
        other = check("14.slow-slo", off["instance_crash"])
    """)
    assert tb.value("(start_policy.timeout, start_policy.retries)") == [None, 1]
    assert tb.value("bool(start)") is False
    start = tb.value("start.message")
    assert "browse latency < 250 ms 95.0%" in start and "percentage points short" in start and "600 ms" in start
    assert "browse availability" not in start     # nothing failed: the slow pages were only slow
    assert tb.value("bool(no_retry)") is False and "without a retry" in tb.value("no_retry.message")
    assert tb.value("bool(long_timeout)") is False and "300 ms" in tb.value("long_timeout.message")
    assert tb.ref("solved_budget") == [True, True]
    assert tb.value("bool(ok4)") is True, tb.value("ok4.message")
    assert tb.value("bool(too_many)") is False and "at most 2 attempts" in tb.value("too_many.message")
    assert tb.value("bool(millis)") is False and "looks like milliseconds" in tb.value("millis.message")
    assert tb.value("bool(other)") is False and "slow_dependency" in tb.value("other.message")


def test_the_capstone_runs_the_shop_the_course_grew(tb):
    assert tb.value("repr(at('nb14')).splitlines()[0]") == "The shop at the start of notebook 14"
    assert tb.value("sorted(system.net.services)") == ["broker", "catalog", "delivery", "gateway", "history",
                                                       "inventory", "orders", "payment"]
    assert tb.value("system.resilience == RESILIENCE_ON and system.net.instrumentation is not None") is True


def test_a_merge_takes_down_what_shares_the_crashed_unit_and_nothing_else(tb):
    rows = tb.value("merges.reset_index().to_dict('records')")
    by = {r["decomposition"]: r for r in rows}
    assert [by[k]["units"] for k in ("reference", "orders + history", "history + delivery")] == [8, 7, 7]
    assert all(r["checkout"] == 0.0 and r["browse"] == 1.0 for r in rows)
    assert by["reference"]["history"] == 1.0 and by["history + delivery"]["history"] == 1.0
    assert by["orders + history"]["history"] == 0.0
    assert all(r["hops_inside_units"] == 0 for r in rows)  # the answer to exercise 5 is not on screen


def test_the_merge_exercise_is_judged_on_the_measured_table(tb):
    tb.inject("""
        start5 = check("14.merge-safely", trial)   # the cell's own starting merge, as Run All left it
        no_hop = check("14.merge-safely", await compare_decompositions({"yours": [("history", "delivery")]},
                                                                       crash="orders", seed=14, name="nb14-ex5-a"))
        same = check("14.merge-safely", await compare_decompositions({"yours": None}, crash="orders", seed=14,
                                                                     name="nb14-ex5-b"))
        other_crash = check("14.merge-safely", await compare_decompositions(
            {"yours": [("orders", "inventory")]}, crash="payment", seed=14, name="nb14-ex5-c"))
        solved5 = await compare_decompositions({"yours": [("orders", "inventory")]}, crash="orders", seed=14,
                                               name="nb14-ex5-d")
        ok5 = check("14.merge-safely", solved5)
    """)
    assert tb.value("bool(start5)") is False and "took down history 0 %" in tb.value("start5.message")
    assert tb.value("bool(no_hop)") is False and "do not call each other" in tb.value("no_hop.message")
    assert tb.value("bool(same)") is False and "as many as the reference" in tb.value("same.message")
    assert tb.value("bool(other_crash)") is False and "crash='orders'" in tb.value("other_crash.message")
    assert tb.value("bool(ok5)") is True, tb.value("ok5.message")
    assert tb.value("int(solved5['hops_inside_units'].iloc[0])") == 1


def test_every_exercise_runs_again_after_run_all(exercise_replay):
    # last in this file: it runs every exercise (placeholder, then solution) in the notebook's kernel after Run All
    assert not exercise_replay, "\n".join(exercise_replay)
