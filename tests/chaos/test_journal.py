"""The runner writes the run as a Chaos Toolkit journal, shaped like the one ``chaos run`` writes."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import chaosfns
import labsvc
from labsvc.chaos import run_experiment
from labsvc.core import simtime

HERE = Path(__file__).resolve().parent
CHAOS = Path(sys.executable).with_name("chaos")


def py(func, **arguments):
    return {"type": "python", "module": "chaosfns", "func": func, "arguments": arguments}


def experiment(drop_to: float) -> dict:
    return {
        "version": "1.0.0", "title": "the level stays up", "description": "a level that the method may drop",
        "steady-state-hypothesis": {"title": "level is high", "probes": [
            {"type": "probe", "name": "level", "tolerance": [0.9, 1.0], "provider": py("current_level")}]},
        "method": [{"type": "action", "name": "set the level", "provider": py("set_level", to=drop_to)}],
        "rollbacks": [{"type": "action", "name": "restore", "provider": py("set_level", to=1.0)}],
        "runtime": {"rollbacks": {"strategy": "always"}},
    }


class NoNetwork:
    started = True


def ours(spec: dict) -> dict:
    chaosfns.level["now"] = 1.0
    report = simtime.run(run_experiment(spec, NoNetwork(), clock=labsvc.FakeClock()))
    return report.journal


def test_the_journal_holds_the_checks_the_activities_and_the_verdict(tmp_path):
    chaosfns.level["now"] = 1.0
    report = simtime.run(run_experiment(experiment(0.5), NoNetwork(), clock=labsvc.FakeClock()))
    j = report.journal
    assert (j["status"], j["deviated"]) == ("completed", True)
    assert j["steady_states"]["before"]["steady_state_met"] is True
    after = j["steady_states"]["after"]
    assert after["steady_state_met"] is False and after["probes"][0]["output"] == 0.5
    assert after["probes"][0]["tolerance_met"] is False
    assert [r["activity"]["name"] for r in j["run"]] == ["set the level"]
    assert [r["status"] for r in j["rollbacks"]] == ["succeeded"]
    assert j["experiment"]["title"] == "the level stays up"
    labsvc_ext = next(e for e in j["extensions"] if e["name"] == "labsvc")
    assert labsvc_ext["verdict"] == "deviated" and labsvc_ext["rollback_strategy"] == "always"
    written = report.write_journal(tmp_path / "journal.json")
    assert json.loads(written.read_text())["deviated"] is True  # plain JSON (no NaN)


def test_a_failing_activity_is_recorded_with_its_exception_and_the_run_aborts():
    spec = experiment(1.0)
    spec["method"].insert(0, {"type": "action", "name": "explode", "provider": py("explode", why="on purpose")})
    j = ours(spec)
    assert j["status"] == "aborted"
    assert j["run"][0]["status"] == "failed" and "on purpose" in j["run"][0]["exception"][0]
    assert j["steady_states"]["after"] is None and j["rollbacks"][0]["status"] == "succeeded"


@pytest.mark.slow
@pytest.mark.parametrize("drop_to", [1.0, 0.5])
def test_the_journal_has_the_shape_and_verdict_of_a_real_chaos_run(tmp_path, drop_to):
    spec = experiment(drop_to)
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(spec))
    journal_path = tmp_path / "journal.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([str(CHAOS), "--no-log-file", "run", str(path), "--journal-path", str(journal_path)],
                         env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert journal_path.exists(), run.stdout + run.stderr
    real = json.loads(journal_path.read_text())
    mine = ours(spec)
    assert set(real) <= set(mine)
    assert (mine["status"], mine["deviated"]) == (real["status"], real["deviated"])
    for phase in ("before", "after"):
        assert set(real["steady_states"][phase]) == set(mine["steady_states"][phase])
        assert mine["steady_states"][phase]["steady_state_met"] == real["steady_states"][phase]["steady_state_met"]
        assert set(real["steady_states"][phase]["probes"][0]) == set(mine["steady_states"][phase]["probes"][0])
    for key in ("run", "rollbacks"):
        assert [set(r) for r in real[key]] == [set(r) for r in mine[key]]
        assert [r["activity"] for r in real[key]] == [r["activity"] for r in mine[key]]
