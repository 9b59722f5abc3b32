"""Notebook 01 measures the trade-offs it claims, and its exercise solutions pass their checks."""

import pytest

pytestmark = pytest.mark.slow
# tb: notebooks/01_monolith_vs_microservices.ipynb after two passes in one kernel (tests/notebooks/conftest.py)


def test_one_checkout_logs_the_same_lines_from_one_process_or_three_services(tb):
    lines = {d: tb.value(f"checkout_logs['{d}'][['instance', 'message']].values.tolist()")
             for d in ("monolith", "microservices")}
    messages = ["stock reserved", "delivery scheduled", "order placed"]
    assert [m for _, m in lines["monolith"]] == [m for _, m in lines["microservices"]] == messages
    assert {i for i, _ in lines["monolith"]} == {"shop-1"}
    assert [i for i, _ in lines["microservices"]] == ["inventory-1", "delivery-1", "orders-1"]


def test_a_checkout_makes_more_hops_as_microservices(tb):
    assert len(tb.value("hops['monolith'].to_dict('records')")) == 2
    assert len(tb.value("hops['microservices'].to_dict('records')")) == 6
    cost = tb.value("cost.to_dict('records')")
    hops = {r["design"]: r["hops per request"] for r in cost}
    assert hops["microservices"] > 2 * hops["monolith"]
    assert all(r["availability"] == 1.0 for r in cost)


def test_a_crashing_module_takes_the_whole_monolith_but_only_degrades_the_services(tb):
    rows = tb.value("crash_table.to_dict('records')")
    mono = {r["feature"]: r["availability"] for r in rows if r["design"] == "monolith"}
    micro = {r["feature"]: r["availability"] for r in rows if r["design"] == "microservices"}
    assert set(mono) == set(micro) == {"browse", "product page", "checkout", "track"}
    assert all(a < 0.8 for a in mono.values())  # down ~1 s + warm-up out of 3 s, every feature
    assert all(a == 1.0 for a in micro.values())
    degraded = tb.ref("{d: r.degraded_pages() for d, r in crash.items()}")
    assert degraded["monolith"] == 0 and degraded["microservices"] > 10


def test_redeploying_one_service_costs_less_downtime_than_the_monolith(tb):
    report = {r["design"]: r["downtime"] for r in tb.value(
        "pd.concat([r.outcome.assign(design=d) for d, r in redeploy.items()]).to_dict('records')")}
    assert report["monolith"] > 2 * report["microservices"]
    lost = tb.value("{d: int((~r.requests['ok']).sum()) for d, r in redeploy.items()}")
    assert lost["monolith"] > lost["microservices"]


def test_solutions_pass_their_checks(tb):
    tb.inject("""
        result = await module_crash_experiment("microservices", "inventory", rate=80, duration="3s", seed=1)
        table = result.availability
        answer1 = set(table.loc[table["availability"] < 0.99, "feature"])
        ok1 = bool(check("01.blast-radius", answer1, result=result))
        wrong1 = bool(check("01.blast-radius", {"browse"}, result=result))
        await micro.start()
        micro.reset_calls()
        await micro.client("users").post("http://web.svc/orders", json={"product_id": 1, "quantity": 1})
        answer2 = int(micro.calls.groupby("trace_id").size().iloc[0])
        ok2 = bool(check("01.hops", answer2, calls=micro.calls))
        await micro.stop()
        lost = {d: int((~r.requests["ok"]).sum()) for d, r in redeploy.items()}
        ok3 = bool(check("01.redeploy", max(lost, key=lost.get), results=redeploy))
    """)
    assert tb.value("sorted(answer1)") == ["checkout", "product page"]
    assert tb.ref("ok1") is True and tb.ref("wrong1") is False
    assert tb.ref("answer2") == 6 and tb.ref("ok2") is True
    assert tb.ref("ok3") is True
