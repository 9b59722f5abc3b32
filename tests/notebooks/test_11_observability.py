"""Notebook 11 traces a checkout across six services, compares bucket and exact p95, and pages on its incident."""

import pytest

from labsvc.observability import CHECKOUT_TREE

pytestmark = pytest.mark.slow
# tb: notebooks/11_observability.ipynb after two passes in one kernel (tests/notebooks/conftest.py)


def test_the_checkout_trace_is_one_tree_across_six_services(tb):
    edges = [tuple(e) for e in tb.value("span_tree(spans, trace_id)")]
    assert edges == CHECKOUT_TREE
    assert tb.value("sorted(set(trace_spans(spans, trace_id)['service']))") == [
        "catalog", "delivery", "inventory", "orders", "payment", "users", "web"]
    assert tb.value("set(shop.calls.query('trace_id == @trace_id')['trace_id']) == {trace_id}") is True
    assert tb.value("len(plot_waterfall(spans, trace_id).axes[0].patches)") == 12


def test_bucket_p95_is_within_a_bucket_of_the_exact_one(tb):
    exact, estimate = tb.value("exact"), tb.value("estimate")
    lower, upper = tb.value("lower"), tb.value("upper")
    assert lower < exact <= upper
    assert abs(estimate - exact) <= tb.value("max(u - l for l, u in (bucket_of(estimate, LATENCY_BUCKETS), "
                                             "bucket_of(exact, LATENCY_BUCKETS)))")


def test_the_incident_shows_in_red_and_in_the_error_lines(tb):
    start, end = tb.value("run.incident")
    assert tb.value("int((checkouts['status'] >= 500).sum())") > 0
    times = tb.value("errors['time'].tolist()")
    assert times and min(times) >= start
    assert tb.value("set(errors['trace_id']) <= set(checkouts.query('status >= 500')['trace_id'])") is True
    assert tb.value("failing['fields']['url']") == "http://payment.svc/charges"


def test_the_pages_fire_during_the_incident_and_not_before(tb):
    start, end = tb.value("run.incident")
    firing = tb.value("alerts[alerts['firing']][['slo', 'rule', 'time']].values.tolist()")
    fast_availability = [t for slo, rule, t in firing if slo.startswith("availability") and rule == "page 14.4x"]
    assert fast_availability, "the availability page fired"
    assert all(t > start for _, _, t in firing), "nothing pages before the incident"
    # The 14.4x page stops soon after the end: answers in flight at the end, plus the short window.
    assert max(fast_availability) <= end + 0.6
    assert tb.value("alerts[(alerts['time'] > run.incident[1] + 1.2) & alerts['firing']].empty") is True


def test_solutions_pass_their_checks_and_wrong_answers_are_rejected(tb):
    tb.inject("""
        leaves = leaf_spans(spans, trace_id)
        answer1 = leaves.loc[leaves["duration"].idxmax(), "span_id"]
        ok1 = bool(check("11.slowest-span", answer1, spans=spans, trace_id=trace_id))
        root = trace_spans(spans, trace_id).iloc[0]["span_id"]
        wrong1 = check("11.slowest-span", root, spans=spans, trace_id=trace_id)
        s = run.samples
        last = s[(s["metric"] == "http_server_request_duration_seconds_bucket") & (s["service"] == "orders")
                 & (s["route"] == "/orders") & (s["time"] == s["time"].max())]
        answer2 = histogram_quantile(0.99, last.groupby("le")["value"].sum().to_dict())
        ok2 = bool(check("11.promql-quantile", answer2, samples=run.samples, calls=run.calls))
        hops = run.calls.query("callee == 'orders' and route == '/orders'")["duration"]
        wrong2 = check("11.promql-quantile", exact_quantile(hops, 0.99), samples=run.samples, calls=run.calls)
        budget = 1 - 0.999
        ok3 = bool(check("11.burn-rate", (0.005 / budget, False)))
        wrong3 = check("11.burn-rate", (20.0, True))
    """)
    assert tb.ref("ok1") is True and tb.ref("ok2") is True and tb.ref("ok3") is True
    assert "root span" in tb.value("wrong1.message") and tb.value("wrong1.ok") is False
    assert "exact p99" in tb.value("wrong2.message") and tb.value("wrong2.ok") is False
    assert "5-minute" in tb.value("wrong3.message") and tb.value("wrong3.ok") is False


def test_nothing_is_left_running(tb):
    assert tb.value("[n.name for n in running_networks() if n.name.startswith('nb11')]") == []


def test_unanswered_exercises_say_what_to_do(tb):
    assert "replace the ..." in tb.value("repr(check('11.burn-rate', ...))")
