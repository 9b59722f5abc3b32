"""Every capstone experiment is a valid Chaos Toolkit experiment, checked by the real ``chaos validate``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from labsvc.capstone import experiments, probes
from labsvc.chaos import ExperimentError, activities, load_experiment
from labsvc.core.errors import ConfigurationError

CHAOS = Path(sys.executable).with_name("chaos")


@pytest.mark.slow
@pytest.mark.parametrize("name", experiments.NAMES)
def test_chaos_validate_accepts_the_file(name):
    run = subprocess.run([str(CHAOS), "--no-log-file", "validate", str(experiments.path(name))],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "experiment syntax and semantic look valid" in run.stdout + run.stderr


@pytest.mark.slow
def test_chaos_validate_still_rejects_a_broken_file(tmp_path):
    spec = experiments.spec("instance_crash")
    spec["method"][0]["provider"]["arguments"]["targt"] = spec["method"][0]["provider"]["arguments"].pop("target")
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(spec))
    run = subprocess.run([str(CHAOS), "--no-log-file", "validate", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0 and "required argument 'target' is missing" in run.stdout + run.stderr


def test_every_file_tests_the_same_hypothesis_and_names_its_modules():
    hypotheses = {name: experiments.spec(name)["steady-state-hypothesis"] for name in experiments.NAMES}
    first = hypotheses[experiments.NAMES[0]]
    assert all(h == first for h in hypotheses.values()), "one definition of 'steady' for every experiment"
    for name in experiments.NAMES:
        spec = experiments.spec(name)
        for where in ("method", "rollbacks"):
            for activity in spec[where]:
                assert activity["provider"].get("module"), f"{name}: {activity['name']} names no module"
        load_experiment(spec, injected=["system"])  # and our own runner reads it


def test_the_notebook_runner_and_chaos_toolkit_bind_the_same_arguments():
    import inspect

    for name in experiments.NAMES:
        spec = experiments.spec(name)
        activities_ = spec["steady-state-hypothesis"]["probes"] + spec["method"] + spec["rollbacks"]
        for activity in activities_:
            provider = activity["provider"]
            module = __import__(provider["module"], fromlist=[provider["func"]])
            func = getattr(module, provider["func"])
            inspect.signature(func).bind(**provider.get("arguments", {}))  # what chaos validate does


def test_outside_the_runner_the_built_in_faults_say_what_to_use_instead():
    with pytest.raises(ConfigurationError, match="process or http activity"):
        activities.fault(target="payment", down=True)
    with pytest.raises(ConfigurationError, match="labsvc_gateway_url"):
        probes.availability(journey="browse")
    with pytest.raises(ConfigurationError, match="journeys are"):
        probes.sample("http://127.0.0.1:9", "shopping")


def test_a_typo_is_still_refused_by_our_own_reader():
    spec = experiments.spec("payment_down")
    spec["method"][0]["provider"]["arguments"]["dwn"] = True
    with pytest.raises(ExperimentError, match=r"fault\(\) has no parameter 'dwn'"):
        load_experiment(spec)
