"""The recorded ``make compose-test`` runs (datasets/compose_run/) read without Docker, and what they recorded held."""

import json
import shutil

import pytest
from matplotlib.figure import Figure

from labsvc.core.errors import ConfigurationError
from labsvc.platform.compose_run import ComposeRunError, load_compose_run, plot_memory, recorded_runs

RUNS = recorded_runs()


def test_there_are_recordings_and_the_default_is_the_newest():
    assert RUNS, "datasets/compose_run/ holds no compose_run_<stamp>.json"
    newest = load_compose_run()
    assert newest.path == RUNS[-1]
    assert newest.date == max(load_compose_run(p).date for p in RUNS)
    assert load_compose_run(RUNS[0].name).path == RUNS[0]              # a bare name is looked up there
    assert load_compose_run(RUNS[0].parent).path == RUNS[-1]           # a folder: its newest recording


@pytest.mark.parametrize("path", RUNS, ids=[p.stem for p in RUNS])
def test_every_check_of_the_recorded_run_held(path):
    run = load_compose_run(path)
    assert run.held and run.failed == []
    names = " | ".join(run.checks["check"])
    for what in ("kill -9 catalog-1", "kill -9 orders", "no order lost", "docker pause payment", "chaos run",
                 "2 GB budget"):
        assert what in names


@pytest.mark.parametrize("path", RUNS, ids=[p.stem for p in RUNS])
def test_ten_containers_fit_the_2_gb_budget(path):
    run = load_compose_run(path)
    assert run.budget_mib == 2048 and len(run.resources) == 10
    assert run.resources["memory_mib"].sum() == pytest.approx(run.total_mib, abs=0.5)
    assert run.total_mib < 2048
    table = run.resource_table()
    assert table.iloc[-1]["memory_mib"] == pytest.approx(run.total_mib) and table.index[-1] == "total of 10"
    # the five containers with a database import the data layer, and use more memory than any of the others
    keeps = run.resources["keeps_data"]
    assert keeps.sum() == 5
    assert run.resources.loc[keeps, "memory_mib"].min() > run.resources.loc[~keeps, "memory_mib"].max()


@pytest.mark.parametrize("path", RUNS, ids=[p.stem for p in RUNS])
def test_killed_containers_came_back_by_their_policy_and_no_order_was_lost(path):
    crashes = load_compose_run(path).crashes
    assert list(crashes.index) == ["catalog-1", "orders"]
    assert (crashes["restarts"] >= 1).all() and (crashes["back_after_s"] < 30).all()
    assert (crashes["orders_kept"] == crashes["orders_before"]).all() and (crashes["orders_before"] > 0).all()
    assert crashes.loc["catalog-1", ["browse_pct", "checkout_pct", "history_pct"]].tolist() == [100, 100, 100]


@pytest.mark.parametrize("path", RUNS, ids=[p.stem for p in RUNS])
def test_the_paused_payment_ends_as_the_notebook_predicts(path):
    run = load_compose_run(path)
    pause = run.pause_comparison
    final = pause[pause["when"] == "final"]
    assert final["agree"].all(), final
    created = final.set_index("outcome").loc["orders the checkouts created"]
    assert created["compose"] == created["notebook"] == run.checkouts
    assert final.set_index("outcome").loc["money or stock disagrees with the order", "compose"] == 0


def test_the_real_chaos_run_completed_without_deviating():
    chaos = load_compose_run().chaos
    assert chaos["validate"] and chaos["status"] == "completed" and chaos["deviated"] is False


def test_facts_are_short_texts_and_the_memory_plot_is_a_figure():
    run = load_compose_run()
    facts = run.facts()
    assert facts["containers"] == "10" and facts["total_memory"].endswith(" MiB")
    assert facts["date"].endswith(" UTC") and "#" not in facts["machine"]
    assert isinstance(plot_memory(run), Figure)
    html = run.checks_table().to_html()
    assert "white-space: normal" in html and html == run.checks_table().to_html()   # the same on a re-run


# --- clear errors ------------------------------------------------------------------------------------------

def test_a_missing_file_says_where_the_recordings_are(tmp_path):
    with pytest.raises(ComposeRunError, match="no recorded run at .*compose_run_<stamp>.json"):
        load_compose_run(tmp_path / "compose_run_1999-01-01T0000Z.json")
    with pytest.raises(ComposeRunError, match="no recorded run .* in .*needs a Docker engine"):
        load_compose_run(tmp_path)                                       # an empty folder
    assert issubclass(ComposeRunError, ConfigurationError)


def test_a_file_that_is_not_json_is_named_with_the_reason(tmp_path):
    bad = tmp_path / "compose_run_2026-12-07T0000Z.json"
    bad.write_text("{ not json", encoding="utf-8")
    with pytest.raises(ComposeRunError, match=r"compose_run_2026-12-07T0000Z.json.* not JSON \(Expecting"):
        load_compose_run(bad)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ComposeRunError, match="a JSON object was expected, found list"):
        load_compose_run(bad)


def test_a_recording_without_its_keys_says_which_are_missing(tmp_path):
    data = json.loads(RUNS[-1].read_text(encoding="utf-8"))
    path = tmp_path / RUNS[-1].name
    shutil.copy(RUNS[-1], path)
    assert load_compose_run(path).held                                  # a copy elsewhere reads the same
    for key, message in (("checks", r"lacks \['checks'\]"), ("pause", r"lacks \['pause'\]")):
        path.write_text(json.dumps({k: v for k, v in data.items() if k != key}), encoding="utf-8")
        with pytest.raises(ComposeRunError, match=message):
            load_compose_run(path)
    broken = dict(data, resources={"rows": [{"service": "orders"}]})
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ComposeRunError, match="resource rows lack"):
        load_compose_run(path)
