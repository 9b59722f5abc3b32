"""Experiment files are checked before anything runs, and every error names its field."""

import json

import pytest

from labsvc.chaos import ExperimentError, load_experiment


def probe(name="availability", tolerance=(0.99, 1.0), func="availability", **arguments):
    return {"type": "probe", "name": name, "tolerance": list(tolerance) if isinstance(tolerance, tuple) else tolerance,
            "provider": {"type": "python", "func": func, "arguments": arguments}}


def action(name="crash catalog-1", func="crash", **arguments):
    return {"type": "action", "name": name, "provider": {"type": "python", "func": func, "arguments": arguments}}


def experiment(**changes):
    x = {"title": "catalog survives losing an instance",
         "steady-state-hypothesis": {"title": "users are served", "probes": [probe()]},
         "method": [action(target="catalog-1")],
         "rollbacks": [action("start catalog-1", "start_instance", instance="catalog-1")]}
    x.update(changes)
    return x


def error(spec) -> ExperimentError:
    with pytest.raises(ExperimentError) as info:
        load_experiment(spec)
    return info.value


def test_a_good_experiment_loads_with_its_defaults():
    x = load_experiment(experiment())
    assert x.title == "catalog survives losing an instance"
    assert [p.name for p in x.hypothesis] == ["availability"]
    assert x.method[0].provider.describe() == "crash(target='catalog-1')"
    assert x.rollback_strategy == "always"
    assert x.windows == {"before": 1.0, "during": 2.0, "recovery": 0.0}


def test_json_and_yaml_text_and_files_load_the_same(tmp_path):
    spec = experiment(configuration={"labsvc": {"windows": {"before": "500ms", "during": 1}}})
    as_json = tmp_path / "x.json"
    as_json.write_text(json.dumps(spec))
    import yaml
    as_yaml = tmp_path / "x.yaml"
    as_yaml.write_text(yaml.safe_dump(spec))
    loaded = [load_experiment(as_json), load_experiment(str(as_yaml)), load_experiment(yaml.safe_dump(spec))]
    assert {x.windows["before"] for x in loaded} == {0.5}
    assert all(x.method[0].provider.arguments == {"target": "catalog-1"} for x in loaded)


@pytest.mark.parametrize("spec, field, hint", [
    (experiment(title=""), "title", "needs a title"),
    (experiment(metod=[]), "metod", "unknown key"),
    (experiment(controls=[]), "controls", "not supported"),
    (experiment(method=[]), "method", "at least one"),
    (experiment(method=[action(func="crsh", target="x")]), "method[0].provider.func", "not a built-in action"),
    (experiment(method=[action(targt="catalog-1")]), "method[0].provider.arguments.targt", "no parameter 'targt'"),
    (experiment(method=[action()]), "method[0].provider.arguments", "needs 'target'"),
    (experiment(method=[action(net="x", target="y")]), "method[0].provider.arguments.net", "passed by the runner"),
    (experiment(method=[{**action(target="a"), "type": "actoin"}]), "method[0].type", "not allowed"),
    (experiment(method=[{**action(target="a"), "pauses": {"after": -1}}]), "method[0].pauses.after", "negative"),
    (experiment(rollbacks=[probe()]), "rollbacks[0].type", "not allowed"),
    (experiment(**{"steady-state-hypothesis": {"title": "t", "probes": [
        {k: v for k, v in probe().items() if k != "tolerance"}]}}),
     "steady-state-hypothesis.probes[0].tolerance", "needs a tolerance"),
    (experiment(**{"steady-state-hypothesis": {"title": "t", "probes": [probe(tolerance=[1.0, 0.9])]}}),
     "steady-state-hypothesis.probes[0].tolerance", "runs backwards"),
    (experiment(**{"steady-state-hypothesis": {"title": "t", "probes": [
        probe(tolerance={"type": "range", "range": [0.9]})]}}),
     "steady-state-hypothesis.probes[0].tolerance.range", "two numbers"),
    (experiment(**{"steady-state-hypothesis": {"title": "t", "probes": [
        probe(tolerance={"type": "jsonpath", "path": "$.x"})]}}),
     "steady-state-hypothesis.probes[0].tolerance.type", "not supported"),
    (experiment(**{"steady-state-hypothesis": {"title": "t", "probes": [probe(), probe()]}}),
     "steady-state-hypothesis.probes[1].name", "two probes"),
    (experiment(**{"steady-state-hypothesis": {"title": "t", "probes": [
        {"type": "probe", "name": "p", "tolerance": 200, "provider": {"type": "http", "url": "catalog.svc/health"}}]}}),
     "steady-state-hypothesis.probes[0].provider.url", "absolute URL"),
    (experiment(method=[{"type": "action", "name": "a", "provider": {"type": "python", "module": "no.such.module",
                                                                     "func": "f"}}]),
     "method[0].provider.module", "cannot import"),
    (experiment(runtime={"rollbacks": {"strategy": "sometimes"}}), "runtime.rollbacks.strategy", "always"),
    (experiment(configuration={"labsvc": {"windows": {"durring": 1}}}), "configuration.labsvc.windows.durring",
     "unknown window"),
])
def test_a_bad_experiment_is_refused_naming_the_field(spec, field, hint):
    exc = error(spec)
    assert exc.field == field
    assert str(exc).startswith(f"{field}: ") and hint in str(exc)


def test_a_module_function_is_checked_against_its_signature():
    ok = experiment(method=[{"type": "action", "name": "r", "provider": {
        "type": "python", "module": "chaosfns", "func": "record", "arguments": {"what": "x"}}}])
    assert load_experiment(ok).method[0].provider.arguments == {"what": "x"}
    bad = experiment(method=[{"type": "action", "name": "r", "provider": {
        "type": "python", "module": "chaosfns", "func": "record", "arguments": {"whatt": "x"}}}])
    assert "record() has no parameter 'whatt'; it takes what" in str(error(bad))


def test_extras_given_to_the_runner_count_as_filled_in():
    spec = experiment(method=[{"type": "action", "name": "deploy v2", "provider": {
        "type": "python", "module": "chaosfns", "func": "deploy", "arguments": {"version": "v2"}}}])
    with pytest.raises(ExperimentError, match=r"method\[0\].provider.arguments: deploy\(\) needs 'shop'"):
        load_experiment(spec)
    assert load_experiment(spec, injected=["shop"]).method[0].provider.arguments == {"version": "v2"}


def test_with_tolerance_tightens_one_probe_and_keeps_the_rest():
    x = load_experiment(experiment())
    tight = x.with_tolerance("availability", [1.0, 1.0])
    assert tight.hypothesis[0].tolerance == [1.0, 1.0] and x.hypothesis[0].tolerance == [0.99, 1.0]
    assert tight.method == x.method
    with pytest.raises(ExperimentError, match="no probe named 'latency'"):
        x.with_tolerance("latency", [0, 1])


def test_the_chaos_api_changes_only_on_purpose():
    import labsvc.chaos

    assert sorted(labsvc.chaos.__all__) == sorted([
        "load_experiment", "run_experiment", "Traffic", "ChaosReport", "Experiment", "Activity", "Provider",
        "ExperimentError", "ROLLBACK_STRATEGIES", "within_tolerance", "plot_report", "plot_verdicts"])
    # that each resolves and has a docstring: tests/platform/test_exported_names.py
