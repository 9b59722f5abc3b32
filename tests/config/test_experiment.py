"""A refresh during open-loop load: no request lost, every instance switched (bus), in both modes."""

from __future__ import annotations

import asyncio

import matplotlib
import pytest

from labsvc.config import plot_refresh, refresh_under_load
from labsvc.core.errors import ConfigurationError
from labsvc.core import simtime

matplotlib.use("Agg")
MODES = ["inprocess", pytest.param("process", marks=pytest.mark.slow)]


@pytest.mark.parametrize("mode", MODES)
def test_a_bus_refresh_reaches_every_instance_and_loses_no_request(mode):
    # Processes run on the wall clock: on a busy machine the bus event takes longer to go round, so the same
    # 60 requests are spread over 3 s there (in process, simulated time makes 1 s exact).
    rate, duration, change_at = (60, 1.0, 0.3) if mode == "inprocess" else (20, 3.0, 0.5)
    run = simtime.run(refresh_under_load(method="bus", mode=mode, rate=rate, duration=duration, change_at=change_at,
                                         name=f"exp-bus-{mode}"))
    assert len(run.responses) == 60 and run.failures == 0
    assert run.reached_every_instance
    switches = run.switches().set_index("instance")
    # every instance answered with the old value before the change and the new one after its refresh
    assert (switches["new"] > 0).all() and switches["old"].sum() > 0
    assert (switches["first_new_at"] > run.changed_at).all()
    # nothing answered new before the repository changed
    r = run.responses
    assert not r.loc[r["t"] < run.changed_at, "new"].any()
    phases = run.phases().set_index("phase")
    assert phases["requests"].sum() == 60 and phases["failed"].sum() == 0
    assert list(phases.index) == ["before the change", "around the refresh", "after"]
    assert set(run.final["version"]) == {str(int(run.final["version"].iloc[0]))}


def test_a_refresh_of_one_instance_leaves_the_others_on_the_old_value():
    run = simtime.run(refresh_under_load(method="one", rate=60, duration=0.8, change_at=0.3, name="exp-one"))
    assert run.failures == 0 and not run.reached_every_instance
    assert run.final.set_index("instance")["new"].to_dict() == {"greeting-1": True, "greeting-2": False,
                                                                "greeting-3": False}
    fig = plot_refresh(run)
    assert len(fig.axes) == 1 and "one" in fig.axes[0].get_title()
    share = run.share_new(bins=4)
    assert share["answered"].sum() == len(run.responses) == 48 and share["share_new"].iloc[0] == 0


def test_changing_only_the_repository_changes_nothing_running():
    run = simtime.run(refresh_under_load(method="none", rate=40, duration=0.6, change_at=0.2, name="exp-none"))
    assert run.failures == 0 and not run.responses["new"].any() and not run.final["new"].any()


def test_bad_arguments_are_explained():
    with pytest.raises(ConfigurationError, match="method='push'"):
        simtime.run(refresh_under_load(method="push"))
    with pytest.raises(ConfigurationError, match="inside the load"):
        simtime.run(refresh_under_load(change_at=5, duration=1))
