"""Load generators: open loop (the honest one) and closed loop.

**Open loop** (wrk2's model): request *i* is due at ``t0 + i / rate`` and is
sent then, whether or not earlier requests have come back; its latency is
measured from the time it was *due*. When the service stalls, requests pile
up and their waiting shows in the tail percentiles, as real users would feel.
The generator itself can fall behind too (a rate higher than this event loop
can send): each request's ``schedule_lag`` says how late it was sent against
its due time, and ``throughput_rps`` counts what was achieved (successful
answers per second, failures left out), not what was offered, so a saturated
generator says so in its own summary.

**Closed loop**: ``concurrency`` workers each send a request, wait for the
reply, then send the next. When the service stalls, the workers stall too and
stop sending, so the stall is measured once instead of for every user who
would have arrived during it: *coordinated omission*. The course keeps it to
show that difference.

Both return a :class:`LoadRun` whose ``df`` has one row per request.
"""

from __future__ import annotations

import asyncio
import difflib
import math
import random
from typing import Any, Awaitable, Callable, Union

import httpx
import pandas as pd

from labsvc.core.client import Client
from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError, UnknownServiceError
from labsvc.core.simtime import follows_network, in_simulation

__all__ = ["open_loop", "closed_loop", "LoadRun", "summarize", "by_label", "request_fn", "check_target", "PERCENTILES"]

PERCENTILES = (50, 90, 95, 99)
PROGRESS_AFTER = 3.0  # seconds: longer runs show a progress bar
_EARLY = 0.001  # seconds: how much earlier than due a precise open loop's timer wakes it
def _ns(seconds: float) -> float:
    """``seconds`` to the nanosecond, never -0.0 (a lag of -3e-17 s is no lag)."""
    return round(seconds, 9) + 0.0


COLUMNS = ["i", "due", "sent", "latency", "status", "error", "ok", "schedule_lag"]

RequestFn = Callable[[Client, int], Awaitable[httpx.Response]]
Target = Union[str, RequestFn]


def request_fn(target: Target, json: Any = None, headers: dict | None = None) -> RequestFn:
    """The function a load generator calls per request: ``target`` itself if callable, else one for ``"METHOD url"``."""
    if callable(target):
        return target
    if not isinstance(target, str) or not target.strip():
        raise ConfigurationError(f"target={target!r}: give 'GET http://orders.svc/orders/42' or an async function (client, i)")
    parts = target.split(None, 1)
    method, url = (parts[0].upper(), parts[1].strip()) if len(parts) == 2 else ("GET", parts[0])
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"target={target!r}: the URL must be absolute, e.g. 'GET http://orders.svc/orders/42'")

    async def send(client: Client, i: int) -> httpx.Response:
        return await client.request(method, url, json=json, headers=headers)

    return send


def check_target(source: Any, target: Target) -> None:
    """Refuse a ``"METHOD URL"`` target whose host nothing on the network ``source`` answers, before sending.

    Without this check every request of the run would fail alike and the
    run would report 0 % availability, as if the service were down. The
    :class:`UnknownServiceError` lists the services and suggests the
    closest name. A client or an async function target is not checked.
    """
    from labsvc.core.network import Network

    if callable(target) or not isinstance(source, Network):
        return
    host = httpx.URL(target.split(None, 1)[-1].strip()).host
    try:
        source.targets(host)
    except UnknownServiceError:
        name = host[:-4] if host.endswith(".svc") else host
        names = sorted(source.services)
        instances = [i.name for s in source.services.values() for i in s.instances]
        close = difflib.get_close_matches(name, names + instances, n=1, cutoff=0.5)
        raise UnknownServiceError(
            f"no service named {name!r} on network {source.name!r}; the services are: "
            f"{', '.join(names) or 'none yet'}" + (f"; did you mean {close[0]!r} (http://{close[0]}.svc)?" if close else ".")
            + f" Nothing was sent (target {target!r})."
        ) from None


def _client_for(source: Any, caller: str, timeout: float | None) -> Client:
    if isinstance(source, Client):
        return source
    if hasattr(source, "client"):
        return source.client(caller, timeout=timeout)
    raise ConfigurationError(f"load needs a labsvc.Network or a labsvc Client to send through, got {type(source).__name__}")


def _count(rate: float | None, duration: Any, requests: int | None) -> tuple[int, float]:
    if requests is not None and (isinstance(requests, bool) or not isinstance(requests, int) or requests < 1):
        raise ConfigurationError(f"requests={requests!r} must be a positive int")
    seconds = parse_duration(duration, name="duration") if duration is not None else None
    if rate is not None and (not isinstance(rate, (int, float)) or not rate > 0 or math.isinf(rate)):
        raise ConfigurationError(f"rate={rate!r} must be a positive number of requests per second")
    if requests is None and seconds is None:
        raise ConfigurationError("give a duration ('3s') or a number of requests, so the run stops by itself")
    if rate is not None:
        n = requests if requests is not None else max(1, int(round(rate * seconds)))
        return n, n / rate
    return requests or 0, seconds or math.inf


ARRIVALS = ("uniform", "poisson")


def _arrivals(kind: str, n: int, rate: float, seed: Any) -> list[float]:
    """Due times, in seconds from the start, of ``n`` requests at ``rate`` per second."""
    if kind == "uniform":
        return [i / rate for i in range(n)]
    if kind == "poisson":
        rng, t, out = random.Random(f"{seed}/arrivals"), 0.0, []
        for _ in range(n):
            out.append(t)
            t += rng.expovariate(rate)
        return out
    raise ConfigurationError(f"arrivals={kind!r} is not known; use one of {ARRIVALS}")


def _with_label(df: pd.DataFrame, label: Callable[[int], str] | None) -> pd.DataFrame:
    if label is not None:
        df["label"] = [label(int(i)) for i in df["i"]]
    return df


class LoadRun:
    """The result of a load run: one row per request in :attr:`df`.

    Columns: ``i``; ``due`` and ``sent`` (seconds from the start of the
    run); ``latency`` (seconds, from due time in open loop, from send time in
    closed loop); ``status`` (0 when no response came back); ``error`` (the
    exception's class name, or ""); ``ok`` (a 2xx/3xx answer);
    ``schedule_lag`` (seconds, ``sent - due``: how late the generator sent
    the request; always 0 in closed loop, where a request is due when sent).

    ``rate`` is the offered rate (open loop), ``duration`` the planned
    length of the run; :meth:`summary` reports what was achieved. Its
    columns: ``requests``, ``ok``, ``errors`` (not ok: no answer, or a status
    outside 2xx/3xx), ``availability`` (ok / requests), ``throughput_rps``
    (*successful* answers per second, failures not counted: what some call
    goodput; ``requests`` over the same span would count them), the latency
    percentiles ``p50_ms`` ... ``max_ms`` (all requests, failed ones
    included) and ``schedule_lag_p99_ms`` / ``schedule_lag_max_ms``.
    """

    def __init__(self, df: pd.DataFrame, *, kind: str, rate: float | None, duration: float, concurrency: int | None = None) -> None:
        self.df = df
        self.kind = kind
        self.rate = rate
        self.duration = duration
        self.concurrency = concurrency

    def summary(self) -> pd.Series:
        """Requests, errors, availability, achieved throughput, schedule lag and latency percentiles (ms).

        See :func:`summarize`. Compare ``throughput_rps`` with :attr:`rate`
        (what was offered): a run whose generator could not keep up shows a
        lower throughput and a large ``schedule_lag_p99_ms``.
        """
        s = summarize(self.df)
        s.name = self.kind
        return s

    def percentile(self, p: float) -> float:
        """The ``p``-th latency percentile in seconds (all requests, failed ones included)."""
        return float(self.df["latency"].quantile(p / 100.0)) if len(self.df) else math.nan

    def plot(self, title: str | None = None):
        """Latency of every request over time, with the percentiles marked."""
        from labsvc.core.plots import plot_latency

        return plot_latency(self.df, title=title or f"{self.kind} load")

    def __repr__(self) -> str:
        s = self.summary()
        return (f"<LoadRun {self.kind}: {int(s['requests'])} requests, availability {s['availability']:.1%}, "
                f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms>")


def summarize(df: pd.DataFrame, duration: float | None = None) -> pd.Series:
    """Summary statistics of a load DataFrame (see :class:`LoadRun`).

    ``throughput_rps`` is the successful requests (``ok``: a 2xx/3xx
    answer) divided by the span the run actually took, from the first
    request's due time to the last completion (due + latency). Failures are
    not counted, neither errors without an answer nor 4xx/5xx answers: a run
    answering half its requests with 503 reports half the rate (goodput). A run that kept up reports about the offered
    rate; one whose generator or service fell behind reports less, instead of
    echoing the rate it was asked for. ``schedule_lag_p99_ms`` and
    ``schedule_lag_max_ms`` say how late requests were sent against their
    due time (0 in closed loop). ``duration`` is accepted for callers that
    pass the planned length; it no longer changes any figure.
    """
    n = len(df)
    out: dict[str, float] = {"requests": float(n)}
    ok = int(df["ok"].sum()) if n else 0
    out["ok"] = float(ok)
    out["errors"] = float(n - ok)
    out["availability"] = ok / n if n else math.nan
    span = float((df["due"] + df["latency"]).max() - df["due"].min()) if n else 0.0
    out["throughput_rps"] = ok / span if span > 0 else math.nan
    lat = df["latency"] if n else pd.Series(dtype=float)
    for p in PERCENTILES:
        out[f"p{p}_ms"] = float(lat.quantile(p / 100.0)) * 1000 if n else math.nan
    out["max_ms"] = float(lat.max()) * 1000 if n else math.nan
    lag = df["schedule_lag"] if n and "schedule_lag" in df else None
    out["schedule_lag_p99_ms"] = float(lag.quantile(0.99)) * 1000 if lag is not None else math.nan
    out["schedule_lag_max_ms"] = float(lag.max()) * 1000 if lag is not None else math.nan
    return pd.Series(out)


def by_label(df: pd.DataFrame, order: list[str] | None = None, *, percentiles: tuple[int, ...] = (50, 99),
             name: str = "label", design: str | None = None) -> pd.DataFrame:
    """Requests, availability and latency percentiles (ms) per ``label`` of a load run.

    ``order`` lists the labels in the order rows should come (labels not
    seen in ``df`` are skipped); the label column is renamed ``name``; with
    ``design``, a first column says which design the run measured.
    """
    grouped = df.groupby("label", sort=False)
    columns = {"requests": grouped.size(), "availability": grouped["ok"].mean()}
    for p in percentiles:
        columns[f"p{p}_ms"] = grouped["latency"].quantile(p / 100) * 1000
    out = pd.DataFrame(columns)
    if order is not None:
        seen = set(df["label"])
        out = out.reindex([label for label in order if label in seen])
    out.index.name = name
    out = out.reset_index()
    if design is not None:
        out.insert(0, "design", design)
    return out


def _progress(total: int, seconds: float, progress: bool | None, desc: str):
    if progress is False or (progress is None and seconds <= PROGRESS_AFTER):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="req", leave=False)


@follows_network
async def open_loop(
    source: Any,
    target: Target,
    *,
    rate: float,
    duration: float | str | None = None,
    requests: int | None = None,
    caller: str = "load",
    timeout: float | None = 5.0,
    json: Any = None,
    headers: dict | None = None,
    progress: bool | None = None,
    label: Callable[[int], str] | None = None,
    precise: bool = False,
    arrivals: str = "uniform",
    seed: Any = 0,
    on_row: Callable[[tuple], Any] | None = None,
) -> LoadRun:
    """Send ``rate`` requests per second for ``duration`` (or ``requests`` in all).

    ``source`` is a :class:`labsvc.Network` (requests go out as ``caller``)
    or a client. ``target`` is ``"METHOD URL"`` or an async function
    ``(client, i) -> response`` for requests that differ; ``label(i)``
    names what request *i* is (e.g. the user feature) in a ``label`` column.
    Request *i* is due at ``i / rate`` seconds and its latency counts from then;
    its ``schedule_lag`` says how late it was actually sent. With
    ``arrivals="poisson"`` the gaps between due times are drawn instead
    (exponential, mean ``1 / rate``, seeded by ``seed``): independent users,
    as queueing theory's M/M/c model assumes.

    The event loop's timers wake up to a millisecond late (epoll counts in
    whole milliseconds), so requests normally go out up to ~1 ms after they
    are due. ``precise=True`` wakes a millisecond early and yields to the
    other tasks until each request is due, for send times within tens of
    microseconds, at the price of keeping this process busy between
    requests: leave it off on a shared or rationed CPU (Binder), where a busy
    process is the first to be descheduled and every timer then runs late.

    ``on_row(row)`` is called as each request completes, with its row (a
    tuple in the order of ``COLUMNS``), for a live view of a run in progress.
    """
    send = request_fn(target, json, headers)
    check_target(source, target)
    client = _client_for(source, caller, timeout)
    n, seconds = _count(rate, duration, requests)
    offsets = _arrivals(arrivals, n, rate, seed)
    loop = asyncio.get_running_loop()
    simulated = in_simulation()
    rows: list[tuple] = [None] * n  # type: ignore[list-item]
    bar = _progress(n, seconds, progress, f"open loop {rate:g}/s")
    t0 = loop.time() + (0.0 if in_simulation() else 0.001)  # a real loop needs a moment to get going

    async def one(i: int, due: float) -> None:
        sent = loop.time()
        status, error = 0, ""
        try:
            response = await send(client, i)
            status = response.status_code
        except Exception as exc:  # a failed request is data, not a crash
            error = type(exc).__name__
        end = loop.time()
        # Simulated times are whole nanoseconds (labsvc.core.simtime): so are the differences kept here.
        d, st, lat, lag = (due - t0, sent - t0, end - due, sent - due) if not simulated else (
            _ns(due - t0), _ns(sent - t0), _ns(end - due), _ns(sent - due))
        rows[i] = (i, d, st, lat, status, error, 200 <= status < 400, lag)
        if on_row is not None:
            on_row(rows[i])
        if bar is not None:
            bar.update(1)

    tasks = []
    try:
        for i in range(n):
            due = t0 + offsets[i]
            delay = due - loop.time()
            if simulated:  # simulated timers are exact already
                if delay > 0:
                    await asyncio.sleep(delay)
                # Whatever else is due at this very instant (a scripted fault, a rollback) goes first:
                # a request due at the moment of an action meets the network as the action left it.
                await asyncio.sleep(0)
            elif not precise:
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                if delay > _EARLY:
                    await asyncio.sleep(delay - _EARLY)
                while loop.time() < due:  # keeps the loop busy: see ``precise``
                    await asyncio.sleep(0)
            tasks.append(loop.create_task(one(i, due)))
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        if bar is not None:
            bar.close()
    df = _with_label(pd.DataFrame([r for r in rows if r is not None], columns=COLUMNS), label)
    return LoadRun(df, kind="open loop", rate=rate, duration=seconds)


@follows_network
async def closed_loop(
    source: Any,
    target: Target,
    *,
    concurrency: int = 1,
    duration: float | str | None = None,
    requests: int | None = None,
    caller: str = "load",
    timeout: float | None = 5.0,
    json: Any = None,
    headers: dict | None = None,
    progress: bool | None = None,
    label: Callable[[int], str] | None = None,
) -> LoadRun:
    """``concurrency`` workers, each sending its next request when the last one returns.

    Stops after ``duration`` or when ``requests`` have been sent in all.
    Latency counts from the moment a request was sent (coordinated omission
    included, on purpose).
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(f"concurrency={concurrency!r} must be a positive int")
    send = request_fn(target, json, headers)
    check_target(source, target)
    client = _client_for(source, caller, timeout)
    total, seconds = _count(None, duration, requests)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    deadline = t0 + seconds
    rows: list[tuple] = []
    counter = iter(range(total if requests is not None else 10**12))
    bar = _progress(total if requests else 0, seconds if math.isfinite(seconds) else 0.0, progress,
                    f"closed loop x{concurrency}")

    async def worker() -> None:
        instant = 0  # requests in a row that took no time at all
        for i in counter:
            sent = loop.time()
            if sent >= deadline:
                return
            status, error = 0, ""
            try:
                response = await send(client, i)
                status = response.status_code
            except Exception as exc:
                error = type(exc).__name__
            end = loop.time()
            instant = instant + 1 if end == sent else 0
            if instant > 100_000 and in_simulation():
                raise ConfigurationError(
                    "closed_loop: 100,000 requests in a row took no simulated time, so the run would never reach "
                    "its duration; give the service a service time (Network(service_time='1ms'), net.capacity) "
                    "or a latency, or limit the run with requests=")
            rows.append((i, sent - t0, sent - t0, end - sent, status, error, 200 <= status < 400, 0.0))
            if bar is not None:
                bar.update(1)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        if bar is not None:
            bar.close()
    df = _with_label(pd.DataFrame(sorted(rows), columns=COLUMNS), label)
    span = seconds if math.isfinite(seconds) else (loop.time() - t0)
    return LoadRun(df, kind="closed loop", rate=None, duration=span, concurrency=concurrency)
