"""RED metrics per service and route with ``prometheus_client``, served at ``/metrics``.

RED is the request-centred way to watch a service (Tom Wilkie's method):
**R**\\ate of requests, **E**\\rrors among them, **D**\\uration of each. Every
instance keeps its own :class:`~prometheus_client.CollectorRegistry` (never
the global one: many instances share this process), with

- ``http_server_requests_total{route, method, status_class}`` (counter),
- ``http_server_errors_total{route, method}`` (counter, 5xx answers),
- ``http_server_request_duration_seconds{route, method, status_class}``
  (histogram with :data:`LATENCY_BUCKETS`),

labelled by the route *template* (``/orders/{order_id}``), never the raw
path, so the number of series stays bounded. ``GET /metrics`` answers in the
Prometheus text format; who scrapes it adds the ``service`` and ``instance``
labels, as Prometheus adds ``job`` and ``instance`` to what it scrapes.
An instance that restarts starts its counters again from zero, as a
restarted process does; ``rate`` copes with that (counter resets).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from labsvc.observability._status import StatusWatch
from labsvc.core import simtime

__all__ = ["RedMetrics", "LATENCY_BUCKETS", "METRICS_PATH", "status_class"]

#: Upper bounds (seconds) of the duration buckets: Prometheus's defaults, extended down to 1 ms for in-process hops.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
METRICS_PATH = "/metrics"
UNMATCHED = "(unmatched)"  # the route label of requests no route matched


def status_class(status: int) -> str:
    """``"2xx"`` for 200-299 and so on; ``"error"`` when no status was sent."""
    return f"{status // 100}xx" if 100 <= status < 600 else "error"


class RedMetrics:
    """ASGI middleware that measures every request of one instance and serves ``/metrics``.

    ``timer`` is the clock durations are measured with (the network's: simulated or ``time.perf_counter``).
    """

    def __init__(self, app: Any, *, buckets: Sequence[float] = LATENCY_BUCKETS,
                 timer: Callable[[], float] = simtime.now) -> None:
        self.app = app
        self.timer = timer
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["route", "method", "status_class"]
        self.requests = Counter("http_server_requests", "HTTP requests handled", labels, registry=self.registry)
        self.errors = Counter("http_server_errors", "HTTP requests answered with a 5xx status",
                              ["route", "method"], registry=self.registry)
        self.duration = Histogram("http_server_request_duration_seconds", "Time to answer an HTTP request",
                                  labels, buckets=tuple(buckets), registry=self.registry)

    def exposition(self) -> bytes:
        """What ``GET /metrics`` answers: every series in the Prometheus text format."""
        return generate_latest(self.registry)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == METRICS_PATH and scope.get("method") == "GET":
            body = self.exposition()
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", CONTENT_TYPE_LATEST.encode()), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        watch = StatusWatch(send)
        t0 = self.timer()
        try:
            await self.app(scope, receive, watch)
        finally:
            # To the nanosecond: on simulated time the difference of two readings of the shared clock
            # carries a rounding error that depends on how far that clock has gone (labsvc.core.simtime).
            elapsed = round(self.timer() - t0, 9)
            route = getattr(scope.get("route"), "path", "") or UNMATCHED
            method = scope.get("method", "GET")
            code = watch.status or 500  # an app that raised before answering: the server answers 500
            cls = status_class(code)
            self.requests.labels(route, method, cls).inc()
            self.duration.labels(route, method, cls).observe(elapsed)
            if code >= 500:
                self.errors.labels(route, method).inc()
