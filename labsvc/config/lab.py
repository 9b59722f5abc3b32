"""A configuration change under load: does it reach every instance, and what happens to requests in flight?

:func:`refresh_under_load` starts a broker, the config server and N greeting
instances, sends an open-loop load to ``http://greeting.svc/greeting``
(request i due at i / rate, whatever earlier ones do), changes
``greeting.message`` in the repository part-way through, then refreshes in
one of four ways (:data:`REFRESH_METHODS`):

- ``"none"``: change the repository only (running instances keep their values);
- ``"one"``: ``POST /refresh`` to one instance (Spring's ``/actuator/refresh``);
- ``"each"``: ``POST /refresh`` to every instance, one by one;
- ``"bus"``: ``POST /bus/refresh`` at the config server: one event on the
  broker, and every instance refreshes itself.

Every answer records which instance served it and which config version it
used. :class:`RefreshRun` says how many requests failed, when each instance
switched, and the share of new answers over time;
:func:`labsvc.config.plots.plot_refresh` draws it.

>>> run = asyncio.run(refresh_under_load(method="bus", rate=40, duration=0.6, change_at=0.2))  # doctest: +SKIP
>>> run.failures, run.reached_every_instance                                                   # doctest: +SKIP
(0, True)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.core.simtime import experiment

__all__ = ["refresh_under_load", "RefreshRun", "REFRESH_METHODS", "NEW_MESSAGE"]

REFRESH_METHODS = ("none", "one", "each", "bus")
NEW_MESSAGE = "hello, refreshed"


@dataclass
class RefreshRun:
    """What :func:`refresh_under_load` measured.

    ``responses``: one row per request (i, t in s from the load's start,
    status, ok, instance, message, version, new); ``final``: what each instance
    serves once the load is over; ``changed_at`` and ``refreshed_at``: when the
    repository changed and when the refresh call returned (s from the start).
    """

    method: str
    mode: str
    instances: list[str]
    responses: pd.DataFrame
    final: pd.DataFrame
    changed_at: float
    refreshed_at: float
    old_message: str
    new_message: str
    load: Any = None  # the open loop's LoadRun: latency measured from each request's due time

    def phases(self, window: float = 0.1) -> pd.DataFrame:
        """Requests by when they were due: before the change, around the refresh, after it.

        "around the refresh" runs from the repository change to ``window`` s
        after the refresh call returned (the requests in flight while values
        were being swapped). Columns: phase, requests, failed, share_new, p50_ms, p95_ms.
        """
        r = self.responses.merge(self.load.df[["i", "due", "latency"]], on="i")
        edges = [("before the change", -np.inf, self.changed_at),
                 ("around the refresh", self.changed_at, self.refreshed_at + window),
                 ("after", self.refreshed_at + window, np.inf)]
        rows = []
        for phase, a, b in edges:
            part = r[(r["due"] >= a) & (r["due"] < b)]
            rows.append({"phase": phase, "requests": len(part), "failed": int((~part["ok"]).sum()),
                         "share_new": float(part["new"].mean()) if len(part) else float("nan"),
                         "p50_ms": float(part["latency"].quantile(0.5) * 1000) if len(part) else float("nan"),
                         "p95_ms": float(part["latency"].quantile(0.95) * 1000) if len(part) else float("nan")})
        return pd.DataFrame(rows)

    @property
    def failures(self) -> int:
        """Requests that did not get a 2xx answer."""
        return int((~self.responses["ok"]).sum())

    @property
    def reached_every_instance(self) -> bool:
        """Whether every instance serves the new value after the refresh."""
        return bool(self.final["new"].all()) and len(self.final) == len(self.instances)

    def switches(self) -> pd.DataFrame:
        """Per instance: requests served old and new, and the time of its first new answer (NaN if none)."""
        rows = []
        for name in self.instances:
            mine = self.responses[self.responses["instance"] == name]
            first = mine.loc[mine["new"], "t"].min() if mine["new"].any() else float("nan")
            rows.append({"instance": name, "old": int((~mine["new"] & mine["ok"]).sum()), "new": int(mine["new"].sum()),
                         "first_new_at": first, "final_new": bool(self.final.set_index("instance").loc[name, "new"])})
        return pd.DataFrame(rows)

    def share_new(self, bins: int = 12) -> pd.DataFrame:
        """The share of answers with the new value, per time bin: t_start, t_end, answered, share_new."""
        ok = self.responses[self.responses["ok"]]
        edges = np.linspace(0, max(self.responses["t"].max(), 1e-9), bins + 1)
        rows = []
        for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
            last = k == bins - 1
            part = ok[(ok["t"] >= a) & ((ok["t"] <= b) if last else (ok["t"] < b))]
            rows.append({"t_start": a, "t_end": b, "answered": len(part),
                         "share_new": float(part["new"].mean()) if len(part) else float("nan")})
        return pd.DataFrame(rows)


@experiment
async def refresh_under_load(*, method: str = "bus", mode: str = "inprocess", instances: int = 3,
                             rate: float = 120.0, duration: float = 1.2, change_at: float = 0.4,
                             new_message: str = NEW_MESSAGE, seed: int = 12, name: str = "nb12-refresh",
                             settle: float = 10.0) -> RefreshRun:
    """Run the experiment (see the module docstring); the network is stopped when it returns.

    After the load each instance is asked directly what it serves (``final``);
    with ``method="bus"`` it is asked again, for at most ``settle`` seconds,
    until it serves the repository's version, so a bus event still on its way
    on a busy machine is waited for rather than missed.
    """
    from labsvc.auth import DEMO_SECRETS, TokenClient
    from labsvc.core.load import open_loop
    from labsvc.core.network import Network

    if method not in REFRESH_METHODS:
        raise ConfigurationError(f"method={method!r} is not one of {REFRESH_METHODS}")
    if not 0 < change_at < duration:
        raise ConfigurationError(f"change_at={change_at!r} must fall inside the load (0 < change_at < {duration})")
    net = Network(seed=seed, mode=mode, name=name)
    net.add("auth", "labsvc.auth:demo_token_service")
    net.add("broker", "labsvc.messaging:broker_service")
    net.add("config", "labsvc.config:demo_config_server")
    net.add("greeting", "labsvc.config:greeting_app", instances=instances)
    rows: list[tuple] = []
    async with net:
        client = net.client("operator", timeout=10.0)
        # The operator changes the repository with a token granting config:write.
        ops = TokenClient("ops", DEMO_SECRETS["ops"], scope="config:write", resource="config")
        write = await ops.headers(client)
        loop = asyncio.get_running_loop()
        old = (await client.get("http://greeting-1.svc/greeting")).json()["message"]
        t0 = loop.time()

        async def one(c, i):
            response = await c.get("http://greeting.svc/greeting")
            body = response.json() if response.status_code == 200 else {}
            rows.append((i, round(loop.time() - t0, 9), response.status_code, body.get("instance", ""),
                         body.get("message", ""), body.get("version", "")))
            return response

        load = asyncio.create_task(open_loop(net, one, rate=rate, duration=duration, caller="web", timeout=10.0))
        await asyncio.sleep(change_at)
        changed_at = round(loop.time() - t0, 9)  # whole nanoseconds, as the load's due times
        current = (await client.get("http://config.svc/greeting/default")).json()["propertySources"]
        own = next(s["source"] for s in current if s["name"].endswith(":greeting"))
        put = await client.put("http://config.svc/repository/main/greeting", json={**own, "greeting.message": new_message},
                                headers=write)
        put.raise_for_status()
        if method == "one":
            (await client.post("http://greeting-1.svc/refresh")).raise_for_status()
        elif method == "each":
            for inst in net.service("greeting").instances:
                (await client.post(f"http://{inst.name}.svc/refresh")).raise_for_status()
        elif method == "bus":
            (await client.post("http://config.svc/bus/refresh", json={"destination": "greeting"},
                               headers=write)).raise_for_status()
        refreshed_at = round(loop.time() - t0, 9)
        load_run = await load
        names = [i.name for i in net.service("greeting").instances]
        expected = (await client.get("http://config.svc/greeting/default")).json()["version"]
        deadline = loop.time() + settle
        while True:
            final = [{"instance": n, **{k: v for k, v in (await client.get(f"http://{n}.svc/greeting")).json().items()
                                        if k in ("message", "version")}} for n in names]
            # The bus is asynchronous: give its event (bounded) time to reach a busy instance.
            if method != "bus" or all(f["version"] == expected for f in final) or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
    suffix = old[len(old.rstrip(".!?")):]
    new_text = new_message + suffix
    responses = pd.DataFrame(rows, columns=["i", "t", "status", "instance", "message", "version"]).sort_values("i")
    responses["ok"] = responses["status"].between(200, 399)
    responses["new"] = responses["message"] == new_text
    final_df = pd.DataFrame(final)
    final_df["new"] = final_df["message"] == new_text
    return RefreshRun(method, mode, names, responses.reset_index(drop=True), final_df, changed_at, refreshed_at,
                      old, new_text, load_run)
