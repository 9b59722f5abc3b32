"""A small Prometheus: scrape every instance's ``/metrics`` on an interval, query the samples.

:class:`Scraper` reads ``GET http://<instance>.svc/metrics`` of every running
instance through the network (the scrapes are hops like any other, made as
the caller ``prometheus``, and not traced), parses the Prometheus text format
with ``prometheus_client.parser.text_string_to_metric_families`` and keeps
every sample, with the ``service`` and ``instance`` it came from, in a
DataFrame (:data:`SAMPLE_COLUMNS`), on the call log's time axis.

:func:`route_quantile` and :func:`red` are the queries a dashboard runs:
``histogram_quantile(q, sum by (le) (rate(http_server_request_duration_seconds_bucket{...}[w])))``
and request rate, error ratio and p95 per service and route.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, Iterable

import numpy as np
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from labsvc.core.client import Client
from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError
from labsvc.observability._quantile import histogram_quantile, increase
from labsvc.core.simtime import network_methods

__all__ = ["Scraper", "SAMPLE_COLUMNS", "parse_exposition", "route_quantile", "since_start_quantile", "red", "DURATION_METRIC"]

SAMPLE_COLUMNS = ["time", "service", "instance", "metric", "route", "method", "status_class", "le", "value"]
DURATION_METRIC = "http_server_request_duration_seconds"


def parse_exposition(text: str) -> list[dict]:
    """The samples of one ``/metrics`` answer: ``metric`` (sample name), the labels, ``value``."""
    rows = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue  # when each series was created (a timestamp): not needed for RED
            rows.append({"metric": sample.name, **sample.labels, "value": float(sample.value)})
    return rows


@network_methods
class Scraper:
    """Scrapes every running instance of ``network`` every ``interval`` seconds.

    >>> async with Scraper(net, interval=0.1) as prometheus:   # doctest: +SKIP
    ...     await labsvc.open_loop(net, "GET http://web.svc/products", rate=100, duration="2s")
    >>> prometheus.samples                                       # doctest: +SKIP

    ``clock`` (with ``now()`` and ``sleep()``, e.g. :class:`labsvc.FakeClock`)
    stamps and paces the scrapes; by default the network's own time and
    ``asyncio.sleep``. :meth:`scrape` takes one round by hand.
    """

    def __init__(self, network: Any, *, interval: float | str = 0.1, clock: Any = None,
                 timeout: float = 1.0) -> None:
        self.network = network
        self.interval = parse_duration(interval, name="interval")
        if self.interval <= 0:
            raise ConfigurationError(f"interval={interval!r}: a scrape interval must be more than zero (e.g. '100ms')")
        self.clock = clock
        # A client straight on the hop: scrapes are measured in the call log but never traced.
        self._client = Client(network.hop, "prometheus", timeout=timeout)
        self._rows: list[dict] = []
        self._task: asyncio.Task | None = None
        self.failures: list[dict] = []  # scrapes that got no answer (an instance down, a timeout)

    def now(self) -> float:
        return self.clock.now() if self.clock is not None else self.network.now()

    async def scrape(self) -> int:
        """One round: every running instance's ``/metrics``; returns how many instances answered."""
        t = self.now()
        targets = [i for s in self.network.services.values() for i in s.instances if i.running]
        answers = await asyncio.gather(*(self._client.get(f"{i.url}/metrics") for i in targets),
                                       return_exceptions=True)
        ok = 0
        for inst, r in zip(targets, answers):
            if isinstance(r, BaseException) or r.status_code != 200:
                self.failures.append({"time": t, "instance": inst.name,
                                      "error": type(r).__name__ if isinstance(r, BaseException) else r.status_code})
                continue
            ok += 1
            for row in parse_exposition(r.text):
                row.update(time=t, service=inst.service.name, instance=inst.name)
                self._rows.append(row)
        return ok

    async def run(self, duration: float | str) -> None:
        """Scrape every ``interval`` for ``duration`` (and once more at the end)."""
        end = self.now() + parse_duration(duration)
        while self.now() < end:
            await self.scrape()
            await self._sleep(self.interval)
        await self.scrape()

    async def _sleep(self, seconds: float) -> None:
        if self.clock is not None:
            await self.clock.sleep(seconds)
        else:
            await asyncio.sleep(seconds)

    async def _loop(self) -> None:
        while True:
            await self.scrape()
            await self._sleep(self.interval)

    async def __aenter__(self) -> "Scraper":
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.scrape()  # the last word: what happened since the previous round

    @property
    def samples(self) -> pd.DataFrame:
        """Every scraped sample so far (:data:`SAMPLE_COLUMNS`)."""
        frame = pd.DataFrame(self._rows)
        for column in SAMPLE_COLUMNS:
            if column not in frame:
                frame[column] = None
        return frame[SAMPLE_COLUMNS]


def _series(samples: pd.DataFrame, metric: str, keys: list[str]) -> Iterable[tuple[tuple, np.ndarray, np.ndarray]]:
    part = samples[samples["metric"] == metric]
    for key, group in part.groupby(["instance", *keys], dropna=False, sort=False):
        group = group.sort_values("time")
        yield key, group["time"].to_numpy(float), group["value"].to_numpy(float)


def _increase_at(times: np.ndarray, values: np.ndarray, start: float, end: float) -> float:
    lo, hi = np.searchsorted(times, start, "left"), np.searchsorted(times, end, "right")
    return increase(list(zip(times[lo:hi], values[lo:hi])), start, end)


def route_quantile(samples: pd.DataFrame, q: float, *, service: str, route: str, start: float, end: float,
                   method: str | None = None) -> float:
    """``histogram_quantile(q, sum by (le) (increase(duration_bucket{service, route}[start, end])))``.

    Summed over the service's instances and status classes, as a dashboard
    shows one latency per route.
    """
    part = samples[(samples["service"] == service) & (samples["route"] == route)]
    if method is not None:
        part = part[part["method"] == method]
    by_le: dict[str, float] = {}
    for key, times, values in _series(part, f"{DURATION_METRIC}_bucket", ["status_class", "le"]):
        inc = _increase_at(times, values, start, end)
        if not math.isnan(inc):
            by_le[key[-1]] = by_le.get(key[-1], 0.0) + inc
    return histogram_quantile(q, by_le) if by_le else math.nan


def red(samples: pd.DataFrame, *, window: float | str = 0.5, q: float = 0.95) -> pd.DataFrame:
    """Rate, errors and duration per service and route at every scrape time, over a trailing ``window``.

    Columns: ``time, service, route, rate`` (requests/s), ``error_ratio``
    (5xx share), ``p{q}`` (seconds, from the buckets).
    """
    w = parse_duration(window, name="window")
    if samples.empty:
        return pd.DataFrame(columns=["time", "service", "route", "rate", "error_ratio", f"p{round(q * 100)}"])
    times = np.sort(samples["time"].unique())
    rows = []
    for (service, route), part in samples[samples["route"].notna()].groupby(["service", "route"], sort=True):
        req = list(_series(part, "http_server_requests_total", ["method", "status_class"]))
        err = list(_series(part, "http_server_errors_total", ["method"]))
        buckets = list(_series(part, f"{DURATION_METRIC}_bucket", ["method", "status_class", "le"]))
        for t in times:
            if t - w < times[0] - 1e-9:
                continue  # not a whole window of data yet
            start = t - w
            total = _sum(_increase_at(tt, vv, start, t) for _, tt, vv in req)  # NaN: no series had 2 samples
            errors = _sum(_increase_at(tt, vv, start, t) for _, tt, vv in err)
            errors = 0.0 if math.isnan(errors) else errors
            by_le: dict[str, float] = {}
            for key, tt, vv in buckets:
                inc = _increase_at(tt, vv, start, t)
                if not math.isnan(inc):
                    by_le[key[-1]] = by_le.get(key[-1], 0.0) + inc
            rows.append({"time": t, "service": service, "route": route, "rate": total / w,
                         "error_ratio": errors / total if total > 0 else math.nan,
                         f"p{round(q * 100)}": histogram_quantile(q, by_le) if by_le else math.nan})
    return pd.DataFrame(rows)


def _sum(values: Iterable[float]) -> float:
    """The sum of the values that are numbers; NaN when none is (PromQL's sum of an empty vector is empty)."""
    found = [v for v in values if not math.isnan(v)]
    return float(sum(found)) if found else math.nan


def since_start_quantile(samples: pd.DataFrame, q: float, *, service: str, route: str,
                         method: str | None = None, at: float | None = None) -> float:
    """``histogram_quantile(q, sum by (le) (duration_bucket{service, route}))`` at the scrape ``at`` (default: last).

    No ``rate``: the cumulative buckets count every request since each
    instance started, so this is the quantile of the whole run.
    """
    part = samples[(samples["service"] == service) & (samples["route"] == route)
                   & (samples["metric"] == f"{DURATION_METRIC}_bucket")]
    if method is not None:
        part = part[part["method"] == method]
    if part.empty:
        return math.nan
    # The latest sample of each series at or before ``at``.
    if at is not None:
        part = part[part["time"] <= at]
    latest = part.sort_values("time").groupby(["instance", "method", "status_class", "le"], dropna=False).tail(1)
    return histogram_quantile(q, latest.groupby("le")["value"].sum().to_dict())
