"""Studio: ipywidgets dashboards to break a running network by hand and watch the effect.

Made for live demos. :class:`Studio` is the stage dashboard: a row per
instance (crash or restart it, add latency and errors), a partition switch
between two services, and a button that sends a bounded open-loop load and
plots availability and latency over time with every action marked on the
time axis. Everything the buttons do is also a method, so a demo can be
scripted (``await studio.run_load(during=[(0.5, "crash", "catalog-2")])``)
and repeat exactly; every number behind the plot is a DataFrame.

:func:`fault_panel` is the small version: two sliders and a send button for
one target.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, Iterable

import pandas as pd

from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.core.load import COLUMNS, LoadRun, open_loop, summarize
from labsvc.core.network import Network
from labsvc.core.simtime import follows_network, on_sim_loop
from labsvc.core.simtime import runner as simtime_runner
from labsvc.course._timeline import in_force, plot_timeline, timeline

__all__ = ["Studio", "fault_panel", "timeline", "plot_timeline"]

#: What :meth:`Studio.act` and ``run_load(during=...)`` can do.
ACTIONS = ("crash", "restart", "fault", "clear", "partition", "heal")
_ACTION_COLUMNS = ["time", "action", "target", "detail"]


class Studio:
    """A stage dashboard for a started network: break instances, send load, see what happened.

    ``url`` is what the load button requests (``"http://catalog.svc/items"``
    or ``"GET http://..."``); each load run sends ``rate`` requests per
    second for ``duration`` and stops by itself. Display the studio as the
    last expression of a cell. Its methods work without a display:

    - :meth:`act` (or :meth:`crash`, :meth:`restart`, :meth:`set_fault`,
      :meth:`partition`, :meth:`heal`) changes the network and records the
      action in :attr:`actions`;
    - :meth:`run_load` sends one load run, optionally with scripted actions
      ``during`` it, and returns the :class:`~labsvc.core.load.LoadRun`;
    - :meth:`timeline`, :meth:`shares` and :meth:`plot` describe the last run.

    On a simulated network, a run from a notebook cell or a button is paced
    to the wall clock (``pace=1.0``: one simulated second per real second),
    so the audience watches it happen and clicks land while it runs;
    ``pace=None`` runs it as fast as the simulation goes. A real-time network
    (``Network(time="real")``) runs in real time anyway.
    """

    def __init__(self, net: Network, url: str, *, rate: float = 100.0, duration: float | str = "3s",
                 window: float = 0.25, caller: str = "studio", timeout: float = 1.0,
                 live_every: float | None = 0.5, pace: float | None = 1.0) -> None:
        if not isinstance(net, Network):
            raise ConfigurationError(f"Studio needs a labsvc.Network, got {type(net).__name__}")
        if not isinstance(url, str) or "://" not in url:
            raise ConfigurationError(f"url={url!r} must be a URL on the network, e.g. 'http://catalog.svc/items'")
        self.net = net
        self.target = url if " " in url else f"GET {url}"
        self.rate = float(rate)
        self.duration = parse_duration(duration, name="duration")
        if not self.rate > 0 or self.rate * self.duration > 20_000:
            raise ConfigurationError(
                f"rate={rate!r} x duration={duration!r} must be positive and at most 20000 requests per run")
        self.window = window
        if live_every is not None and not (isinstance(live_every, (int, float)) and live_every > 0):
            raise ConfigurationError(f"live_every={live_every!r} must be a positive number of seconds, or None")
        self.live_every = live_every  # how often a displayed dashboard updates its live line during a run
        if pace is not None and not (isinstance(pace, (int, float)) and pace > 0):
            raise ConfigurationError(f"pace={pace!r} must be a positive number (1.0 = real time), or None")
        self.pace = pace
        self.live_updates = 0
        self.caller = caller
        self.timeout = timeout
        self.last_run: LoadRun | None = None
        self.last_calls = pd.DataFrame()  # the call log's rows of the last run
        self._run_started: float | None = None
        self._rows: list[tuple] = []  # the load's rows (labsvc.core.load.COLUMNS) as requests complete
        self._before: list[tuple] = []  # what was in force when the run began, as actions at t=0
        self._first_action = 0  # index in _actions of the first action taken during the run
        self._actions: list[tuple] = []
        self._tasks: set[asyncio.Task] = set()
        self._widget = None

    # -- actions -------------------------------------------------------------
    @property
    def actions(self) -> pd.DataFrame:
        """Every action taken, with its network time (seconds since the network started)."""
        return pd.DataFrame(self._actions, columns=_ACTION_COLUMNS)

    async def act(self, action: str, target: str | None = None, **settings: Any) -> None:
        """Do one of :data:`ACTIONS`; ``target`` is an instance, a service, or ``"a|b"`` for a partition."""
        if action not in ACTIONS:
            raise ConfigurationError(f"action={action!r} is not one of {ACTIONS}")
        if action == "crash":
            await self.crash(target)
        elif action == "restart":
            await self.restart(target)
        elif action == "fault":
            self.set_fault(target, **settings)
        elif action == "clear":
            self.set_fault(target)
        elif action == "partition":
            self.partition(*_pair(target))
        elif target:
            self.heal(*_pair(target))
        else:
            self.heal()

    async def crash(self, instance: str) -> None:
        """Kill ``instance`` (or every instance of a service): it refuses connections until restarted."""
        began = self.net.now()
        crashed = await self.net.crash(instance)
        self._record("crash", instance, ", ".join(crashed) or "already down", at=began)

    async def restart(self, instance: str) -> None:
        """Start a crashed or stopped instance (or every stopped instance of a service) again."""
        began = self.net.now()
        started = []
        for inst in self.net.targets(instance):
            if not inst.running:
                await self.net.start_instance(inst.name)
                started.append(inst.name)
        self._record("restart", instance, ", ".join(started) or "already running", at=began)

    def set_fault(self, target: str, *, latency_ms: float = 0, error_rate: float = 0.0) -> None:
        """Replace ``target``'s faults with this latency and error rate (zeros clear them)."""
        if not (isinstance(latency_ms, (int, float)) and latency_ms >= 0):
            raise ConfigurationError(f"latency_ms={latency_ms!r} must be a number >= 0, e.g. 50")
        self.net.clear_faults(target)  # unknown names fail here, before anything changes
        if latency_ms or error_rate:
            self.net.fault(target, latency=f"{latency_ms:g}ms" if latency_ms else None, error_rate=error_rate)
        detail = f"latency {latency_ms:g} ms, error rate {error_rate:g}" if latency_ms or error_rate else "cleared"
        self._record("fault", target, detail)

    def partition(self, a: str, b: str) -> None:
        """Cut the network between ``a`` and ``b``."""
        self.net.partition(a, b)
        self._record("partition", f"{a}|{b}", "")

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Repair the partition between ``a`` and ``b``, or every partition."""
        self.net.heal(a, b)
        self._record("heal", f"{a}|{b}" if a else "all", "")

    def _record(self, action: str, target: str, detail: str, at: float | None = None) -> None:
        """Log an action at ``at`` (network seconds; now by default): when it began, for slow ones."""
        time = self.net.now() if at is None else at
        self._actions.append((time, action, target, "" if detail == target else detail))
        self._refresh()

    # -- load ------------------------------------------------------------------
    async def run_load(self, during: Iterable[tuple] = ()) -> LoadRun:
        """Send one bounded open-loop run at ``rate`` for ``duration``; returns its :class:`LoadRun`.

        ``during`` scripts actions at offsets from the start of the run:
        ``[(0.5, "crash", "catalog-2"), (1.5, "restart", "catalog-2")]``; a
        fault's settings go in a fourth item, ``(1.0, "fault", "catalog-1",
        {"latency_ms": 80})``. Scripted and clicked actions land in
        :attr:`actions` alike.
        """
        steps = [_step(s, self.duration) for s in during]
        live = asyncio.ensure_future(self._live()) if self._widget is not None and self.live_every else None
        paced = self.net.simulated and self.pace is not None and not on_sim_loop()
        loop = simtime_runner().loop if paced else None
        if loop is not None:
            before, loop.pace = loop.pace, self.pace
        try:
            self.last_run = await self._load(steps)
        finally:
            if loop is not None:
                loop.pace = before
            if live is not None:
                live.cancel()
        self._show_live()  # the last update comes after the last request: the line ends as the plot does
        # Kept with the run, so a later net.reset_calls() does not empty shares().
        self.last_calls = self._run_calls()
        self._refresh(plot=True)
        return self.last_run

    @follows_network
    async def _load(self, steps: list[tuple]) -> LoadRun:
        # On the network's time: the scripted actions and the load share one clock.
        self._run_started = self.net.now()
        self._rows, self._before, self._first_action = [], in_force(self.net), len(self._actions)

        async def scripted(offset: float, action: str, target: str | None, settings: dict) -> None:
            await asyncio.sleep(offset)
            await self.act(action, target, **settings)

        script = [asyncio.ensure_future(scripted(*s)) for s in steps]
        try:
            run = await open_loop(self.net, self.target, rate=self.rate, duration=self.duration,
                                  caller=self.caller, timeout=self.timeout, progress=False, on_row=self._rows.append)
            await asyncio.gather(*script)
        finally:
            for task in script:
                task.cancel()
        return run

    def live(self) -> dict[str, float]:
        """The run in progress (or the last one) so far, from the load's own rows as they complete.

        Requests answered, availability over the run and over the last
        ``live_every`` seconds, and p95 (ms). Availability and p95 come from
        :func:`labsvc.core.load.summarize`, as the plot's title does: once the
        run is over, the live line and the plot show the same figures. Cheap
        enough to compute while the load runs, unlike a plot, which would hold
        up the event loop and show up in the latencies it measures.
        """
        if self._run_started is None:
            raise ConfigurationError("no load has run yet; click 'send load' or await studio.run_load() first")
        df = pd.DataFrame(list(self._rows), columns=COLUMNS)
        s = summarize(df)
        t = self.net.now() - self._run_started
        recent = df.loc[df["due"] + df["latency"] >= t - (self.live_every or self.window), "ok"]
        return {"t": t, "answered": float(s["requests"]), "availability": float(s["availability"]),
                "recent_availability": float(recent.mean()) if len(recent) else math.nan,
                "p95_ms": float(s["p95_ms"])}

    async def _live(self) -> None:
        while True:
            await asyncio.sleep(self.live_every)
            self._show_live()

    def _show_live(self) -> None:
        if self._widget is not None and self._run_started is not None:
            self._widget.show_live(self.live())
            self.live_updates += 1

    def _run_calls(self) -> pd.DataFrame:
        """The call log's hops of the studio's load since the current (or last) run began."""
        calls = self.net.calls
        return calls[(calls["caller"] == self.caller) & (calls["start"] >= self._run_started)]

    def _require_run(self) -> LoadRun:
        if self.last_run is None:
            raise ConfigurationError("no load has run yet; click 'send load' or await studio.run_load() first")
        return self.last_run

    def timeline(self) -> pd.DataFrame:
        """The last run per window: requests, availability, p50 and p95 (ms)."""
        return timeline(self._require_run().df, self.window)

    def run_actions(self) -> pd.DataFrame:
        """The actions taken during the last run, timed from its start.

        What was already in force when it began (a fault clicked before, a
        crashed instance, a partition: :func:`labsvc.course._timeline.in_force`)
        comes first, at time 0, so the plot marks it at its left edge.
        """
        self._require_run()
        during = [(max(0.0, round(t - self._run_started, 9)), *rest) for t, *rest in self._actions[self._first_action:]]
        acts = pd.DataFrame(self._before + during, columns=_ACTION_COLUMNS)
        return acts[acts["time"] <= self.duration + 1].reset_index(drop=True)

    def shares(self) -> pd.DataFrame:
        """Which instances answered the last run: calls, errors and share per instance (from the call log)."""
        self._require_run()
        calls = self.last_calls
        grouped = _failed(calls).groupby(calls["instance"])
        out = pd.DataFrame({"calls": grouped.size(), "errors": grouped.sum().astype(int)})
        out["share"] = out["calls"] / max(1, len(calls))
        return out.reset_index()

    def plot(self):
        """Availability and p95 latency of the last run, with its actions marked."""
        run = self._require_run()
        s = run.summary()
        title = f"{self.target}: availability {s['availability']:.1%}, p95 {s['p95_ms']:.0f} ms"
        return plot_timeline(self.timeline(), self.run_actions(), title=title)

    # -- the widget ---------------------------------------------------------------
    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def settle(self) -> None:
        """Wait for every action or load run started by a click to finish (for scripts and tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    @property
    def widget(self):
        """The ipywidgets dashboard (built on first use)."""
        if self._widget is None:
            self._widget = _StudioWidget(self)
        return self._widget

    def _refresh(self, plot: bool = False) -> None:
        if self._widget is not None:
            self._widget.refresh(plot)

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget.box._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<Studio {self.target} at {self.rate:g}/s for {self.duration:g}s on {self.net!r}>"


class _StudioWidget:
    """The widgets of a :class:`Studio`; each control calls one of its methods."""

    def __init__(self, studio: Studio) -> None:
        import ipywidgets as w

        self.studio = studio
        net = studio.net
        self.rows: dict[str, dict[str, Any]] = {}
        lines = []
        for service in net.services.values():
            for inst in service.instances:
                state = w.HTML(layout=w.Layout(width="150px"))
                button = w.Button(layout=w.Layout(width="90px"))
                latency = w.IntSlider(0, min=0, max=300, step=10, description="latency ms",
                                      continuous_update=False)
                errors = w.FloatSlider(0.0, min=0.0, max=1.0, step=0.05, description="error rate",
                                       continuous_update=False)
                name = inst.name
                button.on_click(lambda _b, n=name: self.toggle(n))
                for slider in (latency, errors):
                    slider.observe(lambda _c, n=name: self.apply_fault(n), names="value")
                self.rows[name] = {"state": state, "button": button, "latency": latency, "errors": errors}
                lines.append(w.HBox([state, button, latency, errors]))
        services = sorted(net.services) + [self.studio.caller]
        self.side_a = w.Dropdown(options=services, value=services[0], description="partition",
                                 layout=w.Layout(width="240px"))
        self.side_b = w.Dropdown(options=services, value=services[-1], description="from",
                                 layout=w.Layout(width="240px"))
        self.cut = w.ToggleButton(False, description="cut", button_style="danger")
        self.cut.observe(lambda change: self.toggle_partition(change["new"]), names="value")
        self.send = w.Button(description=f"send load ({studio.rate:g}/s for {studio.duration:g}s)",
                             button_style="primary", layout=w.Layout(width="260px"))
        self.send.on_click(lambda _b: studio._spawn(studio.run_load()))
        self.status = w.HTML()
        self.live = w.HTML()
        self.last_live: dict[str, float] | None = None
        self.out = w.Output()
        self.box = w.VBox([w.HTML(f"<b>Studio</b>: {studio.target}"), *lines,
                           w.HBox([self.side_a, self.side_b, self.cut]), w.HBox([self.send, self.status]), self.live, self.out])
        self.refresh(plot=True)  # a run made before the dashboard was shown is plotted too

    def toggle(self, name: str) -> None:
        inst = self.studio.net.instance(name)
        self.studio._spawn(self.studio.restart(name) if not inst.running else self.studio.crash(name))

    def apply_fault(self, name: str) -> None:
        row = self.rows[name]
        self.studio.set_fault(name, latency_ms=row["latency"].value, error_rate=row["errors"].value)

    def toggle_partition(self, on: bool) -> None:
        a, b = self.side_a.value, self.side_b.value
        if a == b:
            self.status.value = "<i>pick two different parties to partition</i>"
            self.cut.value = False
            return
        (self.studio.partition if on else self.studio.heal)(a, b)

    def show_live(self, now: dict[str, float]) -> None:
        self.last_live = now  # what the line shows, for scripts and tests
        colour = "#2a9d8f" if not now["recent_availability"] < 0.99 else "#e63946"
        self.live.value = (f"<b>live</b> t={now['t']:.1f}s: {now['answered']:.0f} answered, availability "
                           f"{now['availability']:.0%} (<span style='color:{colour}'>last {self.studio.live_every:g}s: "
                           f"{now['recent_availability']:.0%}</span>), p95 {now['p95_ms']:.1f} ms")

    def refresh(self, plot: bool = False) -> None:
        net = self.studio.net
        for name, row in self.rows.items():
            running = net.instance(name).running
            colour = "#2a9d8f" if running else "#e63946"
            row["state"].value = f"<span style='color:{colour}'>●</span> <code>{name}</code>"
            row["button"].description = "crash" if running else "restart"
            row["button"].button_style = "warning" if running else "success"
        acts = self.studio.actions
        if len(acts):
            last = acts.iloc[-1]
            self.status.value = f"t={last['time']:.2f}s: {last['action']} {last['target']} {last['detail']}"
        if plot and self.studio.last_run is not None:
            self.out.outputs = ()  # works in a kernel and outside one, unlike clear_output()
            self.out.append_display_data(self.studio.plot())
            self.out.append_display_data(self.studio.shares())


def _failed(calls: pd.DataFrame) -> pd.Series:
    """Hops that did not succeed: no answer, or an answer outside 2xx/3xx (as a LoadRun's ``ok``)."""
    return ~calls["status"].between(200, 399) | (calls["error"] != "")


def _pair(target: str | None) -> tuple[str, str]:
    if not isinstance(target, str) or target.count("|") != 1:
        raise ConfigurationError(f"target={target!r}: a partition needs two parties as 'a|b', e.g. 'web|catalog'")
    a, b = target.split("|")
    return a, b


def _step(step: tuple, duration: float) -> tuple[float, str, str | None, dict]:
    if not isinstance(step, tuple) or len(step) not in (3, 4):
        raise ConfigurationError(f"a scripted step is (offset, action, target[, settings]), got {step!r}")
    offset = parse_duration(step[0], name="offset")
    if offset > duration:
        raise ConfigurationError(f"offset {offset:g}s is after the run ends ({duration:g}s)")
    if step[1] not in ACTIONS:
        raise ConfigurationError(f"action={step[1]!r} is not one of {ACTIONS}")
    settings = step[3] if len(step) == 4 else {}
    return offset, step[1], step[2], dict(settings)


def fault_panel(net: Network, target: str, url: str | None = None, *, requests: int = 50, rate: float = 100.0):
    """Sliders for latency and error rate on ``target``, and a button that sends traffic.

    Returns an ``ipywidgets.VBox``; display it as the last expression of a cell.
    """
    import ipywidgets as w

    net.fault_target(target)  # unknown names fail now, with the list of known ones
    url = url or f"http://{target}.svc/health"
    latency = w.IntSlider(value=0, min=0, max=200, step=10, description="latency ms")
    errors = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="error rate")
    button = w.Button(description=f"send {requests} requests", button_style="primary")
    out = w.Output()

    def apply(_: Any = None) -> None:
        net.clear_faults(target)
        net.fault(target, latency=f"{latency.value}ms" if latency.value else None, error_rate=errors.value)

    async def send() -> None:
        run = await open_loop(net, f"GET {url}", rate=rate, requests=requests, caller="studio", progress=False)
        out.clear_output()
        with out:
            print(run)

    def click(_: Any) -> None:
        apply()
        asyncio.ensure_future(send())

    latency.observe(apply, names="value")
    errors.observe(apply, names="value")
    button.on_click(click)
    return w.VBox([w.HTML(f"<b>Faults on {target}</b>"), latency, errors, button, out])
