"""The runner: the verdict comes from the measurements, and rollbacks always run."""

import asyncio

import pytest

import chaosfns
import labsvc
from labsvc.chaos import Traffic, load_experiment, run_experiment
from labsvc.core import simtime


def py(func, module="chaosfns", **arguments):
    return {"type": "python", "module": module, "func": func, "arguments": arguments}


def experiment(method, rollbacks=(), strategy=None, probes=None):
    x = {"title": "the level stays up",
         "steady-state-hypothesis": {"title": "level is high", "probes": probes or [
             {"type": "probe", "name": "level", "tolerance": [0.9, 1.0], "provider": py("current_level")}]},
         "method": list(method), "rollbacks": list(rollbacks)}
    if strategy:
        x["runtime"] = {"rollbacks": {"strategy": strategy}}
    return x


def act(name, func, **arguments):
    return {"type": "action", "name": name, "provider": py(func, **arguments)}


class NoNetwork:
    started = True


def run(spec, **kw):
    return simtime.run(run_experiment(spec, NoNetwork(), clock=labsvc.FakeClock(), **kw))


@pytest.fixture(autouse=True)
def fresh():
    chaosfns.calls.clear()
    chaosfns.level["now"] = 1.0


def test_a_method_that_keeps_the_level_holds_and_rollbacks_run():
    report = run(experiment([act("record", "record", what="poke")], [act("undo", "record", what="undo")]))
    assert (report.status, report.deviated, report.verdict, report.held) == ("completed", False, "held", True)
    assert list(report.probes["phase"]) == ["before", "during"] and report.probes["met"].all()
    assert chaosfns.calls == ["poke", "undo"]
    assert list(report.activities["phase"]) == ["method", "rollback"]


def test_a_method_that_drops_the_level_deviates_and_the_rollback_restores_it():
    report = run(experiment([act("drop", "set_level", to=0.5)], [act("restore", "set_level", to=1.0)]))
    assert report.verdict == "deviated" and not report.held
    during = report.probes.set_index("phase").loc["during"]
    assert during["value"] == 0.5 and not during["met"]
    assert chaosfns.level["now"] == 1.0


def test_loosening_the_tolerance_turns_the_same_measurement_into_a_pass():
    x = load_experiment(experiment([act("drop", "set_level", to=0.5)], [act("restore", "set_level", to=1.0)]))
    assert run(x).verdict == "deviated"
    assert run(x.with_tolerance("level", [0.4, 1.0])).verdict == "held"


def test_an_activity_that_fails_midway_stops_the_method_and_the_rollbacks_still_run():
    spec = experiment([act("first", "record", what="first"), act("explode", "explode", why="disk full"),
                       act("never", "record", what="never")],
                      [act("undo 1", "explode", why="rollback broke"), act("undo 2", "record", what="undo 2")])
    report = run(spec)
    assert report.status == "aborted" and report.verdict.startswith("aborted")
    assert chaosfns.calls == ["first", "explode", "explode", "undo 2"]  # "never" did not run; both rollbacks tried
    failed = report.activities[report.activities["status"] == "failed"]
    assert list(failed["name"]) == ["explode", "undo 1"]
    assert "RuntimeError: disk full" in failed["error"].iloc[0]
    assert list(report.probes["phase"]) == ["before"]  # no second check of a method that did not finish


@pytest.mark.parametrize("strategy, rolled_back", [("always", True), ("default", False), ("never", False)])
def test_rollback_strategies_after_an_abort(strategy, rolled_back):
    run(experiment([act("explode", "explode")], [act("undo", "record", what="undo")], strategy=strategy))
    assert ("undo" in chaosfns.calls) is rolled_back


@pytest.mark.parametrize("strategy, drop, rolled_back", [("deviated", 0.5, True), ("deviated", 0.95, False),
                                                          ("default", 0.5, True)])
def test_rollback_strategies_after_a_completed_run(strategy, drop, rolled_back):
    run(experiment([act("drop", "set_level", to=drop)], [act("undo", "record", what="undo")], strategy=strategy))
    assert ("undo" in chaosfns.calls) is rolled_back


def test_a_system_that_is_not_steady_before_is_not_disturbed():
    chaosfns.level["now"] = 0.1
    report = run(experiment([act("poke", "record", what="poke")], [act("undo", "record", what="undo")]))
    assert report.status == "failed" and report.verdict == "not steady before the method"
    assert chaosfns.calls == ["undo"]


def test_extras_reach_the_functions_that_ask_for_them():
    shop = []
    spec = experiment([{"type": "action", "name": "deploy", "provider": py("deploy", version="v2")}])
    report = run(spec, extras={"shop": shop})
    assert shop == ["v2"] and report.held
    with pytest.raises(labsvc.ConfigurationError, match="would hide"):
        run(spec, extras={"net": object()})


def test_every_probe_is_evaluated_so_the_report_shows_all_the_evidence():
    probes = [{"type": "probe", "name": "low", "tolerance": [0, 0.5], "provider": py("constant", number=0.9)},
              {"type": "probe", "name": "high", "tolerance": [0.5, 1], "provider": py("constant", number=0.9)},
              {"type": "probe", "name": "judged", "tolerance": {"type": "probe", "provider": py("at_least", minimum=1)},
               "provider": py("constant", number=0.9)}]
    report = run(experiment([act("poke", "record", what="poke")], probes=probes))
    assert report.status == "failed"
    assert dict(zip(report.probes["probe"], report.probes["met"])) == {"low": False, "high": True, "judged": False}


# ------------------------------------------------------- on a real network, under traffic
def catalog_app():
    app = labsvc.create_service("catalog")

    @app.get("/products")
    async def products():
        return [{"id": 1}]

    return app


ERRORS = {"title": "catalog answers users while it throws errors",
          "steady-state-hypothesis": {"title": "users are served", "probes": [
              {"type": "probe", "name": "availability", "tolerance": [0.2, 1.0],
               "provider": {"type": "python", "func": "availability"}},
              {"type": "probe", "name": "catalog answers", "tolerance": [200, 500, 503],
               "provider": {"type": "http", "url": "http://catalog.svc/health"}}]},
          "method": [{"type": "action", "name": "half the answers fail",
                      "provider": {"type": "python", "func": "fault",
                                   "arguments": {"target": "catalog", "error_rate": 0.5}}}],
          "rollbacks": [{"type": "action", "name": "clear faults",
                         "provider": {"type": "python", "func": "clear_faults"}}],
          "configuration": {"labsvc": {"windows": {"before": 0.5, "during": 1.0, "recovery": 0.5}}}}


async def against_the_catalog(spec):
    net = labsvc.Network(seed=3, name="chaos-test")
    net.add("catalog", catalog_app)
    async with net:
        return await run_experiment(spec, net, Traffic("GET http://catalog.svc/products", rate=40))


def test_under_traffic_the_verdict_comes_from_what_users_saw_and_tightening_it_fails():
    loose = simtime.run(against_the_catalog(ERRORS))
    assert loose.verdict == "held"
    by_phase = loose.probes[loose.probes["probe"] == "availability"].set_index("phase")["value"]
    assert by_phase["before"] == 1.0 and by_phase["recovery"] == 1.0
    assert 0.2 < by_phase["during"] < 0.8  # half the answers fail, seeded
    summary = loose.phase_summary().set_index("phase")
    assert summary.loc["during", "requests"] >= 20 and summary.loc["before", "availability"] == 1.0
    assert set(loose.traffic["status"]) <= {200, 500, 503}
    health = loose.probes[loose.probes["probe"] == "catalog answers"]
    assert health["met"].all() and set(health["value"]) <= {200, 500, 503}

    tight = load_experiment(ERRORS).with_tolerance("availability", [0.9, 1.0])
    report = simtime.run(against_the_catalog(tight))
    assert report.verdict == "deviated"
    during = report.probes[(report.probes["probe"] == "availability") & (report.probes["phase"] == "during")]
    assert not during["met"].iloc[0] and during["value"].iloc[0] < 0.9
    fig = report.plot()
    assert "deviated" in fig._suptitle.get_text()
