"""The stage dashboard: its buttons and sliders change the network, its load runs report what happened."""

from __future__ import annotations

import asyncio

import pytest

from labsvc import Network
from labsvc.core.errors import ConfigurationError, UnknownServiceError
from labsvc.course.studio import Studio, plot_timeline, timeline

from .network import netapps
from labsvc.core import simtime


def stage(name: str, mode: str = "inprocess") -> Network:
    net = Network(seed=3, name=name, mode=mode)
    net.add("inventory", netapps.inventory, instances=2)
    net.add("orders", netapps.orders)
    return net


def test_a_scripted_crash_of_a_real_process_is_refused_on_that_instance_only():
    """Process mode runs on the wall clock, so only what holds on a busy machine too is checked here."""

    async def scenario():
        async with stage("studio-script-process", "process") as net:
            studio = Studio(net, "http://inventory.svc/stock/a", rate=100, duration=4.0, window=0.1, timeout=10.0)
            run = await studio.run_load(during=[(0.3, "crash", "inventory-2"), (0.6, "restart", "inventory-2")])
            return studio, run

    studio, run = simtime.run(scenario())
    acts = studio.run_actions()
    assert list(acts["action"]) == ["crash", "restart"] and list(acts["target"]) == ["inventory-2"] * 2
    failed = run.df[~run.df["ok"]]
    # refused while down; the requests it was serving when it was killed are dropped (how many depends on the machine)
    assert (failed["error"] == "InstanceDownError").any()
    assert set(failed["error"]) <= {"InstanceDownError", "RemoteProtocolError", "ReadError"}
    shares = studio.shares().set_index("instance")
    assert shares.loc["inventory-2", "errors"] == len(failed) and shares["calls"].sum() == len(run.df) == 400


# On simulated time, unpaced: the same run, to the request, on any machine.
@pytest.mark.parametrize("mode,seconds", [("inprocess", 1.0)])
def test_a_scripted_crash_during_load_shows_as_errors_on_that_instance_between_crash_and_restart(mode, seconds):
    async def scenario():
        async with stage(f"studio-script-{mode}", mode) as net:
            studio = Studio(net, "http://inventory.svc/stock/a", rate=200, duration=seconds, window=0.1, pace=None)
            run = await studio.run_load(during=[(0.3, "crash", "inventory-2"), (0.6, "restart", "inventory-2")])
            return studio, run

    studio, run = simtime.run(scenario())
    acts = studio.run_actions()
    assert list(acts["action"]) == ["crash", "restart"] and list(acts["target"]) == ["inventory-2"] * 2
    crash_at, restart_at = acts["time"]
    assert 0.3 <= crash_at < restart_at
    failed = run.df[~run.df["ok"]]
    assert len(failed) > 0 and set(failed["error"]) == {"InstanceDownError"}
    # Nothing failed before the crash began; the restart (begun at restart_at) ended the failures.
    assert failed["sent"].min() >= crash_at - 0.01  # the load clock starts a moment after the studio's
    assert failed["sent"].max() < run.df["sent"].max()
    shares = studio.shares().set_index("instance")
    assert shares.loc["inventory-1", "errors"] == 0
    assert shares.loc["inventory-2", "errors"] == len(failed)
    assert shares["calls"].sum() == len(run.df) == 200 * seconds
    table = studio.timeline()
    assert table["requests"].sum() == 200 * seconds
    assert table["availability"].iloc[0] == 1.0 and table["availability"].iloc[-1] == 1.0
    assert table["availability"].min() < 1.0
    fig = studio.plot()
    assert len(fig.axes) == 2 and "availability" in fig.axes[0].get_title()


def test_a_scripted_fault_and_partition_change_the_network_and_are_logged():
    async def scenario():
        async with stage("studio-faults") as net:
            studio = Studio(net, "http://orders.svc/orders/1", rate=100, duration=0.4)
            await studio.run_load(during=[(0.0, "fault", "inventory", {"latency_ms": 30}),
                                          (0.2, "partition", "orders|inventory")])
            fault = net.service("inventory").fault
            cut = frozenset(("orders", "inventory")) in net.faults.partitions
            await studio.act("heal", "orders|inventory")
            await studio.act("clear", "inventory")
            return studio, fault, cut, net.service("inventory").fault, set(net.faults.partitions)

    studio, fault, cut, cleared, partitions = simtime.run(scenario())
    assert fault.latency is not None and cut
    assert cleared is None and partitions == set()
    assert list(studio.actions["action"]) == ["fault", "partition", "heal", "fault"]
    assert list(studio.actions["detail"])[0] == "latency 30 ms, error rate 0"
    assert list(studio.actions["detail"])[-1] == "cleared"
    run = studio.last_run.df
    # Before the partition, orders answered after inventory's 30 ms; after it, orders answered 502.
    # (The request due at 0.0 went out at the same simulated instant as the fault, just before it.)
    assert (run.loc[(run["due"] > 0) & (run["due"] < 0.15), "latency"] >= 0.03).all()
    assert {502} <= set(run["status"])


def test_the_widget_buttons_and_sliders_drive_the_network():
    async def scenario():
        async with stage("studio-widget") as net:
            studio = Studio(net, "http://inventory.svc/stock/a", rate=100, duration=0.3)
            ui = studio.widget
            row = ui.rows["inventory-1"]
            row["latency"].value = 50
            row["errors"].value = 0.25
            fault = net.instance("inventory-1").fault
            row["button"].click()  # crash
            await studio.settle()
            crashed = (net.instance("inventory-1").running, row["button"].description)
            row["button"].click()  # restart
            await studio.settle()
            restarted = (net.instance("inventory-1").running, row["button"].description)
            ui.side_a.value, ui.side_b.value = "inventory", "studio"
            ui.cut.value = True
            cut = frozenset(("inventory", "studio")) in net.faults.partitions
            ui.cut.value = False
            healed = not net.faults.partitions
            ui.send.click()
            await studio.settle()
            return studio, ui, fault, crashed, restarted, cut, healed

    studio, ui, fault, crashed, restarted, cut, healed = simtime.run(scenario())
    assert fault.error_rate == 0.25 and fault.latency is not None
    assert crashed == (False, "restart") and restarted == (True, "crash")
    assert cut and healed
    assert len(studio.last_run.df) == 30 and len(ui.out.outputs) == 2  # the plot and the share table
    assert "heal" in ui.status.value
    assert list(studio.actions["action"]) == ["fault", "fault", "crash", "restart", "partition", "heal"]


def test_a_displayed_dashboard_shows_a_live_line_while_the_load_runs():
    async def scenario():
        async with stage("studio-live") as net:
            studio = Studio(net, "http://inventory.svc/stock/a", rate=100, duration=0.8, live_every=0.1)
            ui = studio.widget
            await studio.run_load(during=[(0.3, "crash", "inventory-2")])
            return studio, ui, studio.live()

    studio, ui, after = simtime.run(scenario())
    assert studio.live_updates >= 3  # about one per 0.1 s of an 0.8 s run
    assert ui.live.value.startswith("<b>live</b>") and "answered" in ui.live.value
    # Read from the load's own rows: every request of the run, half of those after the crash failed.
    assert after["answered"] == len(studio.last_run.df) == 80
    assert after["availability"] == pytest.approx(studio.last_run.df["ok"].mean())
    assert after["availability"] < 1.0
    with pytest.raises(ConfigurationError, match="live_every"):
        Studio(studio.net, "http://inventory.svc/stock/a", live_every=0)


def test_timeline_windows_and_plot():
    import pandas as pd

    df = pd.DataFrame({"due": [0.0, 0.05, 0.12, 0.31], "latency": [0.01, 0.03, 0.2, 0.01],
                       "ok": [True, True, False, True]})
    table = timeline(df, window=0.1)
    assert list(table["t"]) == [0.0, 0.1, 0.3]
    assert list(table["requests"]) == [2, 1, 1]
    assert list(table["availability"]) == [1.0, 0.0, 1.0]
    assert table["p50_ms"].iloc[0] == pytest.approx(20.0)
    actions = pd.DataFrame({"time": [0.1], "action": ["crash"], "target": ["x-1"], "detail": [""]})
    fig = plot_timeline(table, actions)
    assert len(fig.axes[0].lines) == 2  # the availability step and the action's line
    assert timeline(df.iloc[0:0]).empty
    with pytest.raises(ConfigurationError, match="window"):
        timeline(df, window=0)


def test_bad_input_says_what_to_fix():
    net = stage("studio-bad")
    with pytest.raises(ConfigurationError, match="URL on the network"):
        Studio(net, "inventory")
    with pytest.raises(ConfigurationError, match="at most 20000"):
        Studio(net, "http://inventory.svc/stock/a", rate=10_000, duration="10s")
    with pytest.raises(ConfigurationError, match="labsvc.Network"):
        Studio("net", "http://inventory.svc/stock/a")
    studio = Studio(net, "http://inventory.svc/stock/a", duration=1)
    with pytest.raises(ConfigurationError, match="no load has run yet"):
        studio.timeline()
    with pytest.raises(ConfigurationError, match="no load has run yet"):
        studio.live()
    with pytest.raises(ConfigurationError, match="not one of"):
        simtime.run(studio.act("explode", "inventory-1"))
    with pytest.raises(ConfigurationError, match="'a\\|b'"):
        simtime.run(studio.act("partition", "inventory"))
    with pytest.raises(UnknownServiceError, match="inventory-9"):
        studio.set_fault("inventory-9", latency_ms=10)
    with pytest.raises(ConfigurationError, match="latency_ms"):
        studio.set_fault("inventory-1", latency_ms=-5)
    with pytest.raises(ConfigurationError, match="after the run ends"):
        simtime.run(studio.run_load(during=[(5, "crash", "inventory-1")]))
    with pytest.raises(ConfigurationError, match="scripted step"):
        simtime.run(studio.run_load(during=[("crash", "inventory-1")]))
    assert studio.actions.empty


def test_from_a_cell_a_simulated_run_is_paced_and_its_script_keeps_the_networks_clock():
    # A notebook cell awaits on the kernel's loop (real time); the network is simulated.
    async def cell():
        net = stage("studio-paced")
        async with net:
            studio = Studio(net, "http://inventory.svc/stock/a", rate=100, duration=0.4, window=0.1, pace=4.0)
            run = await studio.run_load(during=[(0.1, "crash", "inventory-2"), (0.3, "restart", "inventory-2")])
        return studio, run

    studio, run = asyncio.run(cell())
    acts = studio.run_actions()
    assert acts["time"].round(6).tolist() == [0.1, 0.3]  # exactly where the script put them, on simulated time
    failed = run.df[~run.df["ok"]]
    assert len(run.df) == 40 and 0.1 <= failed["sent"].min() and failed["sent"].max() < 0.3
    assert simtime.runner().loop.pace is None  # the pace applied only while the run lasted
    with pytest.raises(ConfigurationError, match="pace=0"):
        Studio(stage("studio-bad-pace"), "http://inventory.svc/stock/a", pace=0)


def test_the_live_line_ends_after_the_last_request_with_the_plots_p95():
    async def scenario():
        async with stage("studio-live-end") as net:
            net.fault("inventory-2", latency="40ms")  # half the requests slow: a p95 well apart from the p50
            studio = Studio(net, "http://inventory.svc/stock/a", rate=100, duration=0.5, live_every=0.2, pace=None)
            ui = studio.widget
            run = await studio.run_load()
            return studio, ui, run

    studio, ui, run = simtime.run(scenario())
    shown, s = ui.last_live, run.summary()
    last_answer = float((run.df["due"] + run.df["latency"]).max())
    assert shown["answered"] == len(run.df) == 50
    assert shown["t"] >= last_answer  # updated once more after the last request came back
    assert shown["p95_ms"] == s["p95_ms"] and shown["availability"] == s["availability"] == 1.0
    assert s["p95_ms"] > s["p50_ms"]
    assert f"p95 {s['p95_ms']:.1f} ms" in ui.live.value and "50 answered" in ui.live.value
    assert f"p95 {s['p95_ms']:.0f} ms" in studio.plot().axes[0].get_title()


def test_what_was_broken_before_the_load_is_marked_at_its_start():
    async def scenario():
        async with stage("studio-before") as net:
            studio = Studio(net, "http://orders.svc/orders/1", rate=100, duration=0.4, pace=None)
            ui = studio.widget
            ui.rows["inventory-1"]["latency"].value = 50  # clicked before the load
            await studio.crash("inventory-2")
            net.partition("orders", "studio")
            net.heal("orders", "studio")
            await net.run_for("2s")  # the load starts well after the clicks
            await studio.run_load(during=[(0.1, "fault", "inventory-1", {"latency_ms": 80})])
            return studio

    studio = simtime.run(scenario())
    acts = studio.run_actions()
    assert acts.values.tolist() == [
        [0.0, "fault", "inventory-1", "latency~50ms"],
        [0.0, "crash", "inventory-2", "down when the run began"],
        [0.1, "fault", "inventory-1", "latency 80 ms, error rate 0"],
    ]
    assert studio.actions["time"].iloc[0] < studio.actions["time"].iloc[-1] - 2  # clicked seconds before the run
    top = studio.plot().axes[0]
    marks = [line.get_xdata()[0] for line in top.lines[1:]]  # after the availability step: one line per action
    assert marks == [0.0, 0.0, 0.1]
    assert any(text.get_text().strip() == "fault inventory-1" and text.get_position()[0] == 0.0 for text in top.texts)
