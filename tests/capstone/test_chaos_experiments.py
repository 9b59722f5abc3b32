"""The capstone's experiments: switching resilience off breaks the steady state, switching it on keeps it."""

import asyncio

import pytest
import yaml

from labsvc.capstone import RESILIENCE_OFF, RESILIENCE_ON, run_chaos, slo_report
from labsvc.capstone import experiments
from labsvc.chaos import ExperimentError, load_experiment
from labsvc.core import simtime

pytestmark = pytest.mark.slow  # ten short experiments under open-loop traffic (about 3 s each)


def test_the_five_experiments_are_there_and_complete(tmp_path):
    assert experiments.NAMES == ("bad_deploy", "instance_crash", "partition", "payment_down", "slow_dependency")
    for name in experiments.NAMES:
        x = experiments.load(name)
        assert len(x.hypothesis) == 5 and x.method and x.rollbacks
        written = experiments.write(name, tmp_path / f"{name}.yaml")
        assert load_experiment(written, injected=["system"]).method == x.method


def test_the_steady_state_hypothesis_is_no_looser_than_the_slos_it_stands_for():
    """Each SLO of SLOS has a probe with the same journey, target (or percentile) and threshold, or a stricter one."""
    from labsvc.capstone import SLOS

    for name in experiments.NAMES:
        probes = experiments.spec(name)["steady-state-hypothesis"]["probes"]
        for slo in SLOS:
            if slo.latency_ms is None:
                found = [p for p in probes if p["provider"]["func"] == "availability"
                         and p["provider"]["arguments"]["journey"] == slo.journey]
                assert found and all(p["tolerance"][0] >= slo.target for p in found), (name, slo.name)
            else:
                found = [p for p in probes if p["provider"]["func"] == "latency_ms"
                         and p["provider"]["arguments"]["journey"] == slo.journey]
                assert found, (name, slo.name)
                for p in found:   # "95 % under 250 ms" is "the 95th percentile at most 250 ms"
                    assert p["provider"]["arguments"]["percentile"] >= slo.target * 100, (name, p["name"])
                    assert p["tolerance"][1] <= slo.latency_ms, (name, p["name"])


def test_the_bad_deploy_is_a_canary_with_a_small_share_of_the_traffic():
    deploy = experiments.spec("bad_deploy")["method"][0]["provider"]["arguments"]
    assert deploy["strategy"] == "canary" and 0 < deploy["share"] <= 0.1


def test_an_edited_file_with_a_mistake_is_refused_naming_the_field(tmp_path):
    path = experiments.write("payment_down", tmp_path / "mine.yaml")
    spec = yaml.safe_load(path.read_text())
    spec["method"][0]["provider"]["arguments"]["dwn"] = spec["method"][0]["provider"]["arguments"].pop("down")
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert info.value.field == "method[0].provider.arguments.dwn"
    assert "fault() has no parameter 'dwn'" in str(info.value)


@pytest.fixture(scope="module")
def reports():
    async def main():
        out = {}
        for name in experiments.NAMES:
            for label, settings in (("on", RESILIENCE_ON), ("off", RESILIENCE_OFF)):
                out[name, label] = await run_chaos(name, settings, seed=1, name=f"cap-test-{name}-{label}")
        return out

    return simtime.run(main())


def explain(report):
    """Every probe of every phase, and the failed requests: what a failing assertion needs to show."""
    probes = ", ".join(f"{ph}/{p}={v:.3g} ({'ok' if m else 'out'})" for ph, p, v, m in
                       zip(report.probes["phase"], report.probes["probe"], report.probes["value"], report.probes["met"]))
    failed = report.traffic[~report.traffic["ok"]]
    return f"{report.verdict}: {probes}; failed requests: {failed[['label', 'sent', 'status', 'error']].to_dict('records')}"


def test_the_canary_took_about_its_share_of_the_catalog_requests(reports):
    traffic = reports["bad_deploy", "off"].traffic   # no retries: every request the canary got failed
    during = traffic[(traffic["label"] == "browse") & ~traffic["ok"]]
    browse = traffic[traffic["label"] == "browse"]
    assert 0 < len(during) < 0.2 * len(browse), explain(reports["bad_deploy", "off"])


@pytest.mark.parametrize("name", experiments.NAMES)
def test_with_resilience_on_the_hypothesis_holds(reports, name):
    report = reports[name, "on"]
    assert report.held, explain(report)
    assert (report.activities["status"] == "succeeded").all()
    assert list(report.phases["phase"]) == ["before", "during", "rollback", "recovery"]
    assert report.probes[report.probes["phase"] == "recovery"]["met"].all(), "the rollbacks restored the system"


@pytest.mark.parametrize("name, probe", [
    ("instance_crash", "browse availability"), ("partition", "browse availability"),
    ("bad_deploy", "browse availability"), ("payment_down", "checkout availability"),
    ("slow_dependency", "browse p95 (ms)"),
])
def test_with_resilience_off_the_same_experiment_deviates_on_the_journey_it_hits(reports, name, probe):
    report = reports[name, "off"]
    assert report.status == "completed" and report.deviated, explain(report)
    during = report.probes[(report.probes["phase"] == "during")].set_index("probe")
    assert not during.loc[probe, "met"]
    recovered = report.probes[report.probes["phase"] == "recovery"]
    assert recovered["met"].all(), "after the rollbacks the system is steady again"


def test_the_slo_report_charges_the_outage_to_the_journey_that_suffered_it(reports):
    table = slo_report({f"{n}/{s}": reports[n, s] for n, s in reports}).set_index(["run", "slo"])
    spent = table["budget_spent"]
    assert spent["payment_down/off", "checkout availability 99.0%"] > 1.0  # the SLO is missed
    assert spent["payment_down/on", "checkout availability 99.0%"] < spent["payment_down/off",
                                                                            "checkout availability 99.0%"]
    assert spent["instance_crash/off", "browse availability 99.0%"] > 1.0
    assert table.loc[("slow_dependency/off", "browse latency < 250 ms 95.0%"), "met"] == False  # noqa: E712
    assert (table.xs("history availability 99.0%", level="slo")["met"]).all()
