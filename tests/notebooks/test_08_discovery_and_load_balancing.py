"""Notebook 08 measures stale discovery, self-preservation and balancers, and its solutions pass their checks."""

import pytest

pytestmark = pytest.mark.slow
# tb: notebooks/08_discovery_and_load_balancing.ipynb after two passes in one kernel (tests/notebooks/conftest.py)


def test_instances_register_themselves_and_the_caller_finds_them(tb):
    assert tb.value("sorted(registered['instance'])") == [f"catalog-{k}" for k in range(1, 5)]
    assert tb.value("r.json()['instance']").startswith("catalog-")
    routes = tb.value("sorted(set(zip(lab.net.calls['caller'], lab.net.calls['callee'])))")
    assert ["catalog", "registry"] in routes and ["web", "registry"] in routes and ["web", "catalog"] in routes


def test_a_crash_is_handed_out_longer_than_a_clean_shutdown(tb):
    stale = tb.value("stale.to_dict()")
    leave, crash = stale["clean shutdown"], stale["crash"]
    assert leave["errors"] <= 5 and leave["error_span_registry_s"] <= 40
    assert crash["errors"] > leave["errors"]
    assert 30 < crash["error_span_registry_s"] <= 200  # at most lease + eviction + refresh (180), plus slack
    assert tb.value("list(crash.events.loc[crash.events['source'] != 'web', 'event'])") == ["crash", "evicted"]


def test_self_preservation_saves_a_partition_and_keeps_a_dead_instance(tb):
    p = tb.value("preservation.to_dict()")
    assert p["partition, preserving"]["errors"] == 0
    assert p["partition, evicting"]["errors"] > 10
    assert p["crash, preserving"]["last_error"] > 2.3  # errors until the end of the 2.5 s run
    assert tb.value("int((cut.events['event'] == 'evicted').sum())") == 4
    assert tb.value("int((sp_crash.events['event'] == 'evicted').sum())") == 0
    assert tb.value("bool((sp_crash.events['event'] == 'self_preservation_on').any())")


def test_load_aware_balancers_avoid_the_slow_instance(tb):
    share = tb.value("balancers.slow_share()")
    assert share["round_robin"] == pytest.approx(0.25)
    assert share["least_outstanding"] < 0.15 and share["p2c"] < 0.15
    mean = {r["balancer"]: r["mean_ms"] for r in tb.value("balancers.overall.to_dict('records')")}
    assert mean["least_outstanding"] < mean["round_robin"] and mean["p2c"] < mean["round_robin"]


def test_solutions_pass_their_checks(tb):
    tb.inject("""
        answer1 = (crash_lab.registry.lease_duration + crash_lab.registry.eviction_interval
                   + crash_lab.discovery.refresh_interval)
        ok1 = bool(check("08.stale-bound", answer1, lab=crash_lab))
        wrong1 = bool(check("08.stale-bound", 90, lab=crash_lab))
        registry = ServiceRegistry(FakeClock())
        for k in range(1, 11):
            registry.register("catalog", f"catalog-{k}", f"http://catalog-{k}.svc")
        ok2 = bool(check("08.silent-instances", 1, registry=registry))
        wrong2 = bool(check("08.silent-instances", 2, registry=registry))
        joined = await join_lab.run([(0.7, "join")], duration="1.5s")
        r = joined.requests
        first = r.loc[(r["instance"] == "catalog-5") & r["ok"], "time"].min()
        answer3 = (first - joined.first("join")) * joined.scale
        ok3 = bool(check("08.join-delay", answer3, result=joined))
        wrong3 = bool(check("08.join-delay", answer3 + 20, result=joined))
        await join_lab.stop()
        ewma_table, ewma_overall = await balancer_experiment("ewma", seed=8)
        answer4 = float(ewma_table.loc[ewma_table["instance"] == "catalog-4", "share"].iloc[0])
        ok4 = bool(check("08.ewma-share", answer4, table=ewma_table))
        wrong4 = bool(check("08.ewma-share", 0.25, table=ewma_table))
    """)
    assert tb.ref("answer1") == 180 and tb.ref("ok1") is True and tb.ref("wrong1") is False
    assert tb.ref("ok2") is True and tb.ref("wrong2") is False
    assert 0 <= tb.ref("answer3") <= 40 and tb.ref("ok3") is True and tb.ref("wrong3") is False
    assert tb.ref("answer4") < 0.15 and tb.ref("ok4") is True and tb.ref("wrong4") is False


def test_unanswered_exercises_say_what_to_do(tb):
    assert "replace the ..." in tb.value("repr(check('08.stale-bound', ..., lab=crash_lab))")
