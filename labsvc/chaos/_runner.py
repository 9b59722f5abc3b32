"""Run an experiment against a running network, under open-loop traffic.

The order is Chaos Toolkit's, with labsvc's traffic around it:

1. users start sending (an open loop, :func:`labsvc.open_loop`), and every
   request is recorded as it completes;
2. after the ``before`` window, the steady-state hypothesis is checked on the
   traffic of that window; if it does not hold, the method does not run
   (status ``failed``: the system was not steady to begin with);
3. the method's activities run in order, with their pauses; an activity that
   raises stops the method (status ``aborted``);
4. ``during`` seconds after the method started, the hypothesis is checked
   again on the traffic sent since the method started: the method's effects
   are still in place, so this is where resilience shows. If any probe is out
   of tolerance, the experiment *deviated*;
5. the rollbacks run (by default always, even after an abort, so the lab is
   left as it was found), and, with a ``recovery`` window, the hypothesis is
   checked once more as evidence that the system came back.

Besides its DataFrames, the report carries the run as a Chaos Toolkit
journal (``report.journal``, ``report.write_journal("journal.json")``; see
:mod:`labsvc.chaos._journal`), the file ``chaos run`` writes.

Differences from Chaos Toolkit, on purpose: every hypothesis probe is
evaluated (not only up to the first failure), so the report shows all the
evidence; the second check is made over a window of traffic rather than at
one instant; the default rollback strategy is ``always``.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Union

import pandas as pd

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError
from labsvc.chaos._format import INJECTED, Activity, Experiment, ExperimentError, Provider, load_experiment
from labsvc.chaos._journal import JournalRecorder
from labsvc.chaos._report import TRAFFIC_COLUMNS, ChaosReport
from labsvc.chaos._tolerance import describe_tolerance, within_tolerance
from labsvc.core.simtime import on_sim, on_sim_loop

__all__ = ["Traffic", "run_experiment", "ExperimentError"]

RequestFn = Callable[[Any, int], Awaitable[Any]]


@dataclass
class Traffic:
    """The users during an experiment: what they send and how often (an open loop).

    ``target`` is ``"GET http://gateway.svc/products"`` or an async function
    ``(client, i) -> response``; ``label(i)`` names the user journey of
    request *i* (``"browse"``, ``"checkout"``), so probes can measure one
    journey; ``ok(i, response)`` says whether the user was served (default:
    a 2xx or 3xx answer). Latency is measured from the moment each request
    is sent.
    """

    target: Union[str, RequestFn]
    rate: float = 50.0
    label: Callable[[int], str] | None = None
    caller: str = "users"
    timeout: float | None = 2.0
    ok: Callable[[int, Any], bool] | None = None


class _Recorder:
    """Wraps the users' request function and keeps one row per finished request."""

    def __init__(self, send: RequestFn, label: Callable[[int], str] | None, clock: Clock, t0: float,
                 ok: Callable[[int, Any], bool] | None = None) -> None:
        self.send, self.label, self.clock, self.t0, self.judge = send, label, clock, t0, ok
        self.rows: list[tuple] = []
        self.inflight: dict[int, float] = {}
        self.started = 0  # requests sent so far: on one simulated instant, what came before an action
        self.changed = asyncio.Condition()

    async def __call__(self, client: Any, i: int) -> Any:
        sent = self.clock.now() - self.t0
        self.inflight[i] = sent
        self.started = max(self.started, i + 1)
        status, error, served = 0, "", False
        try:
            response = await self.send(client, i)
            status = response.status_code
            served = 200 <= status < 400 if self.judge is None else bool(self.judge(i, response))
            return response
        except asyncio.CancelledError:
            self.inflight.pop(i, None)
            raise
        except Exception as exc:
            error = type(exc).__name__
            raise
        finally:
            if i in self.inflight:
                del self.inflight[i]
                latency = self.clock.now() - self.t0 - sent
                self.rows.append((i, self.label(i) if self.label else "", sent, latency, status, error, served))
                async with self.changed:
                    self.changed.notify_all()

    async def settle(self, until: float, timeout: float) -> None:
        """Wait until every request sent before ``until`` has finished (at most ``timeout`` seconds)."""
        async def done() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: not any(s < until for s in self.inflight.values()))
        try:
            await asyncio.wait_for(done(), timeout)
        except asyncio.TimeoutError:
            pass  # still-running requests are simply not in the window yet

    def window(self, start: float, end: float, first: int = 0) -> pd.DataFrame:
        """Requests sent in ``[start, end)``, from request ``first`` on (those sent after an action, at its instant too)."""
        df = pd.DataFrame(self.rows, columns=TRAFFIC_COLUMNS)
        return df[(df["sent"] >= start) & (df["sent"] < end) & (df["i"] >= first)].sort_values("i").reset_index(drop=True)


class _Run:
    def __init__(self, experiment: Experiment, net: Any, traffic: Traffic | None, extras: dict, clock: Clock) -> None:
        self.x, self.net, self.traffic, self.extras, self.clock = experiment, net, traffic, extras, clock
        self.t0 = clock.now()
        self.activities: list[dict] = []
        self.probes: list[dict] = []
        self.phases: list[dict] = []
        self.recorder: _Recorder | None = None
        self.journal = JournalRecorder(experiment.source)

    def now(self) -> float:
        return self.clock.now() - self.t0

    # -------------------------------------------------------- calling providers
    async def call(self, provider: Provider, window: pd.DataFrame | None, value: Any = None) -> Any:
        if provider.type == "http":
            client = self.net.client("chaos", timeout=provider.timeout)
            response = await client.request(provider.method, provider.url, json=provider.json)
            try:
                body = response.json()
            except ValueError:
                body = response.text
            return {"status": response.status_code, "headers": dict(response.headers), "body": body}
        available = {"net": self.net, "window": window, "value": value, **self.extras}
        params = inspect.signature(provider.func).parameters
        kwargs = {name: available[name] for name in params if name in available and name not in provider.arguments}
        result = provider.func(**kwargs, **provider.arguments)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def activity(self, activity: Activity, phase: str, window: pd.DataFrame | None) -> bool:
        if activity.pause_before:
            await self.clock.sleep(activity.pause_before)
        start = self.now()
        row = {"phase": phase, "type": activity.type, "name": activity.name, "call": activity.provider.describe(),
               "start": start, "end": start, "status": "succeeded", "output": "", "error": ""}
        try:
            output = await self.call(activity.provider, window)
            row["output"] = _short(output)
        except Exception as exc:  # a failed activity is part of the story, not a crash of the runner
            row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        row["end"] = self.now()
        self.activities.append(row)
        self.journal.activity(phase, activity.where, start, row["end"], row["status"],
                              output if row["status"] == "succeeded" else None, row["error"])
        if row["status"] == "succeeded" and activity.pause_after:
            await self.clock.sleep(activity.pause_after)
        return row["status"] == "succeeded"

    # ----------------------------------------------------------- the hypothesis
    async def hypothesis(self, phase: str, start: float, end: float, first: int = 0) -> bool:
        if self.recorder is not None:
            timeout = (self.traffic.timeout or 5.0) + 1.0
            await self.recorder.settle(end, timeout)
            window = self.recorder.window(start, end, first)
        else:
            window = pd.DataFrame(columns=TRAFFIC_COLUMNS)
        met_all = True
        for probe in self.x.hypothesis:
            row = {"phase": phase, "probe": probe.name, "value": None, "tolerance": describe_tolerance(probe.tolerance),
                   "met": False, "requests": len(window), "window_start": start, "window_end": end, "error": ""}
            checked, value = self.now(), None
            try:
                value = await self.call(probe.provider, window)
                row["value"] = value.get("status") if isinstance(value, dict) and "status" in value else value
                row["met"] = await within_tolerance(
                    probe.tolerance, value,
                    lambda tol, v, p=probe: self.call(p.tolerance_provider, window, value=v))
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {exc}"
            met_all = met_all and row["met"]
            self.probes.append(row)
            self.journal.probe(phase, probe.where, checked, self.now(), value, row["met"], row["error"])
        return met_all

    def phase(self, name: str, start: float, end: float) -> None:
        self.phases.append({"phase": name, "start": start, "end": end})

    # ----------------------------------------------------------------- the run
    async def run(self) -> ChaosReport:
        load_task = None
        if self.traffic is not None:
            load_task = self._start_traffic()
        status, deviated = "completed", False
        try:
            before = self.x.windows["before"]
            await self.clock.sleep(before)
            self.phase("before", 0.0, self.now())
            steady = await self.hypothesis("before", 0.0, self.now())
            if not steady:
                status = "failed"
            else:
                method_start = self.now()
                for activity in self.x.method:
                    if not await self.activity(activity, "method", None):
                        status = "aborted"
                        break
                if status != "aborted":
                    remaining = self.x.windows["during"] - (self.now() - method_start)
                    if remaining > 0:
                        await self.clock.sleep(remaining)
                    end = self.now()
                    self.phase("during", method_start, end)
                    deviated = not await self.hypothesis("during", method_start, end)
            await self._rollbacks(status, deviated)
            if self.x.windows["recovery"] > 0 and load_task is not None:
                start = self.now()
                first = self.recorder.started if self.recorder is not None else 0  # sent after the rollbacks
                await self.clock.sleep(self.x.windows["recovery"])
                self.phase("recovery", start, self.now())
                await self.hypothesis("recovery", start, self.now(), first)
        finally:
            if load_task is not None:
                load_task.cancel()
                await asyncio.gather(load_task, return_exceptions=True)
        traffic = (pd.DataFrame(self.recorder.rows, columns=TRAFFIC_COLUMNS).sort_values("i").reset_index(drop=True)
                   if self.recorder is not None else pd.DataFrame(columns=TRAFFIC_COLUMNS))
        report = ChaosReport(self.x, status, deviated, pd.DataFrame(self.probes), pd.DataFrame(self.activities),
                             traffic, pd.DataFrame(self.phases, columns=["phase", "start", "end"]))
        extension = {"windows": dict(self.x.windows), "rollback_strategy": self.x.rollback_strategy,
                     "verdict": report.verdict, "phases": self.phases,
                     "traffic": report.phase_summary().to_dict("records") if len(traffic) else []}
        report.journal = self.journal.journal(status, deviated, self.now(), extension)
        return report

    async def _rollbacks(self, status: str, deviated: bool) -> None:
        strategy = self.x.rollback_strategy
        play = (strategy == "always" or (strategy == "default" and status == "completed")
                or (strategy == "deviated" and deviated))
        if not play or not self.x.rollbacks:
            return
        start = self.now()
        for activity in self.x.rollbacks:  # one failed rollback does not stop the others
            await self.activity(activity, "rollback", None)
        self.phase("rollback", start, self.now())

    def _start_traffic(self) -> asyncio.Task:
        from labsvc.core.load import request_fn, open_loop

        send = request_fn(self.traffic.target)
        self.recorder = _Recorder(send, self.traffic.label, self.clock, self.t0, self.traffic.ok)
        windows = self.x.windows
        pauses = sum(a.pause_before + a.pause_after for a in (*self.x.method, *self.x.rollbacks))
        # An upper bound, so the users stop by themselves even if the runner were interrupted;
        # the runner cancels them as soon as the experiment ends.
        bound = windows["before"] + windows["during"] + windows["recovery"] + pauses + 30.0
        return asyncio.get_running_loop().create_task(open_loop(
            self.net, self.recorder, rate=self.traffic.rate, duration=bound, caller=self.traffic.caller,
            timeout=self.traffic.timeout, progress=False))


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def run_experiment(experiment: Experiment | dict | str, net: Any, traffic: Traffic | None = None, *,
                         extras: dict[str, Any] | None = None, clock: Clock | None = None) -> ChaosReport:
    """Run ``experiment`` against the started network ``net`` while ``traffic`` flows; return the report.

    ``experiment`` is an :class:`Experiment`, a dict, a path or a JSON/YAML
    string (see :func:`labsvc.chaos.load_experiment`). ``extras`` are objects
    provider functions may ask for by parameter name (``{"shop": shop}``).
    Without ``traffic``, probes see an empty window (use ``http`` probes).
    On a simulated network it runs on simulated time, wherever it is called from.
    """
    if getattr(net, "simulated", False) and not on_sim_loop():
        return await on_sim(run_experiment(experiment, net, traffic, extras=extras, clock=clock))
    extras = dict(extras or {})
    clash = sorted(set(extras) & set(INJECTED))
    if clash:
        raise ConfigurationError(f"extras {clash} would hide what the runner passes itself ({', '.join(INJECTED)}); "
                                 "rename them")
    if traffic is not None and not isinstance(traffic, Traffic):
        raise ConfigurationError(f"traffic must be a labsvc.chaos.Traffic, got {type(traffic).__name__}")
    source = experiment.source if isinstance(experiment, Experiment) else experiment
    checked = load_experiment(source, injected=extras)  # checked again with the extras known
    if not getattr(net, "started", True):
        raise ConfigurationError("start the network first ('async with net:'), then run the experiment in it")
    return await _Run(checked, net, traffic, extras, clock or MonotonicClock()).run()
