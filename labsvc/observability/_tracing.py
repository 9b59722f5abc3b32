"""Distributed tracing with the OpenTelemetry SDK: a server span per request, a client span per hop.

Each service instance gets its own :class:`~opentelemetry.sdk.trace.TracerProvider`
whose ``Resource`` names it (``service.name``, ``service.instance.id``); many
services share one Python process here, so nothing touches OpenTelemetry's
global provider. Spans follow the stable HTTP semantic conventions
(``http.request.method``, ``url.path``, ``http.route``,
``http.response.status_code``, ``server.address``, ``error.type``) and travel
between services in the W3C ``traceparent`` header, extracted and injected
by OpenTelemetry's own :class:`TraceContextTextMapPropagator`.

Two seams keep tracing off the hop path unless it is switched on:

- :meth:`Tracing.client_hop` wraps a client's hop: it starts a CLIENT span
  whose ids are the ones the client already wrote into ``traceparent``
  (so the call log's ``trace_id`` is the OpenTelemetry trace id, and the
  callee's server span finds its parent);
- :class:`ServerSpans` is ASGI middleware that opens a SERVER span around
  each request, continuing the trace from the incoming ``traceparent``.

Finished spans go to an in-memory exporter (in-process), or, in a process-mode
child, to a JSON-lines file the notebook reads back (:class:`FileSpanExporter`).
When the standard OpenTelemetry variables ask for it (``OTEL_TRACES_EXPORTER=otlp``
or ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``),
every provider also exports over OTLP/HTTP, so Jaeger or an OpenTelemetry
Collector shows the same traces (:func:`otlp_requested`).
"""

from __future__ import annotations

import atexit
import json
import os
import random
import threading
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Iterable, Sequence

import pandas as pd
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from labsvc.observability._status import StatusWatch
from labsvc.core import simtime

__all__ = [
    "Tracing", "ServerSpans", "FileSpanExporter", "SPAN_COLUMNS", "UNTRACED_PATHS", "otlp_requested",
    "span_row", "span_frame",
]

#: The columns of ``net.spans`` (attributes also stay whole in ``attributes``).
SPAN_COLUMNS = [
    "trace_id", "span_id", "parent_span_id", "name", "kind", "service", "instance", "start", "end", "duration",
    "status", "http.request.method", "url.path", "http.route", "http.response.status_code", "server.address",
    "error.type", "attributes",
]
#: Requests that are not traced: the probes a platform sends and the metrics scrape.
UNTRACED_PATHS = frozenset({"/health", "/ready", "/metrics"})

_PROPAGATOR = TraceContextTextMapPropagator()
_ATTRIBUTE_COLUMNS = SPAN_COLUMNS[11:17]

# The ids the next span must have: the ones a client already put on the wire.
_next_ids: ContextVar[tuple[int, int] | None] = ContextVar("labsvc_next_span_ids", default=None)


class _WireIds(RandomIdGenerator):
    """Ids for a client span: the trace and span id of the ``traceparent`` the client sends.

    Other spans (an instance's server spans) get ids drawn from ``rng`` when
    one is given, so a seeded network gives the same span ids run after run,
    as it gives the same trace ids; without one, OpenTelemetry's random ids.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng

    def generate_trace_id(self) -> int:
        ids = _next_ids.get()
        if ids is not None:
            return ids[0]
        return self._draw(128, trace.INVALID_TRACE_ID) if self.rng is not None else super().generate_trace_id()

    def generate_span_id(self) -> int:
        ids = _next_ids.get()
        if ids is not None:
            return ids[1]
        return self._draw(64, trace.INVALID_SPAN_ID) if self.rng is not None else super().generate_span_id()

    def _draw(self, bits: int, invalid: int) -> int:
        value = invalid
        while value == invalid:
            value = self.rng.getrandbits(bits)
        return value


def otlp_requested(environ: dict | None = None) -> bool:
    """Whether the standard OpenTelemetry variables ask for an OTLP trace exporter.

    ``OTEL_TRACES_EXPORTER`` lists exporters (``otlp``, ``console``, ``none``);
    when it is unset, an OTLP endpoint variable is taken as the request.
    """
    env = os.environ if environ is None else environ
    names = env.get("OTEL_TRACES_EXPORTER")
    if names is not None:
        return "otlp" in [n.strip().lower() for n in names.split(",")]
    return bool(env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def _otlp_processor() -> BatchSpanProcessor:
    # The exporter reads its endpoint, headers and timeout from the OTEL_* variables itself.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return BatchSpanProcessor(OTLPSpanExporter())


def _hex(value: int, width: int) -> str:
    return f"{value:0{width}x}"


def span_row(span: ReadableSpan, epoch0: float = 0.0) -> dict:
    """One finished span as a row of :data:`SPAN_COLUMNS` (times in seconds since ``epoch0``)."""
    attrs = dict(span.attributes or {})
    res = span.resource.attributes if span.resource is not None else {}
    zero = round(epoch0 * 1e9)  # in whole nanoseconds, so spans a nanosecond apart keep their order
    start_ns, end_ns = span.start_time - zero, (span.end_time or span.start_time) - zero
    row = {
        "trace_id": _hex(span.context.trace_id, 32),
        "span_id": _hex(span.context.span_id, 16),
        "parent_span_id": _hex(span.parent.span_id, 16) if span.parent is not None else None,
        "name": span.name,
        "kind": span.kind.name.lower(),
        "service": res.get("service.name", ""),
        "instance": res.get("service.instance.id", ""),
        "start": start_ns / 1e9,
        "end": end_ns / 1e9,
        "duration": (end_ns - start_ns) / 1e9,
        "status": span.status.status_code.name.lower(),
        "attributes": attrs,
    }
    for key in _ATTRIBUTE_COLUMNS:
        row[key] = attrs.get(key)
    return row


def span_frame(rows: Iterable[dict]) -> pd.DataFrame:
    """Span rows as a DataFrame with :data:`SPAN_COLUMNS`, in the order spans started."""
    frame = pd.DataFrame(list(rows), columns=SPAN_COLUMNS)
    if frame.empty:
        return frame
    return frame.sort_values("start", kind="stable", ignore_index=True)


class FileSpanExporter(SpanExporter):
    """Appends each finished span as one JSON line (epoch seconds) to ``path``.

    A process-mode child exports with it; the notebook's network reads the
    file back (:meth:`Tracing.rows`), so the children's spans end up in the
    same ``net.spans`` as the notebook's own.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_row(s), default=str) + "\n" for s in spans)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def read_span_file(path: str, epoch0: float) -> list[dict]:
    """The span rows a :class:`FileSpanExporter` wrote, on the time axis that starts at ``epoch0``."""
    rows = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill
                row["start"] -= epoch0
                row["end"] -= epoch0
                rows.append(row)
    except OSError:
        pass
    return rows


class Tracing:
    """The tracer providers of one network (or of one process-mode child) and where their spans go.

    ``exporter`` receives every finished span (default: an in-memory
    exporter, read by :meth:`rows`); ``otlp`` adds the OTLP/HTTP exporter
    (default: :func:`otlp_requested`). With a ``seed`` (the network's), each
    instance draws its span ids from a generator seeded by the seed and the
    instance's name, so the same seeded run gives the same span ids.
    """

    def __init__(self, exporter: SpanExporter | None = None, *, otlp: bool | None = None,
                 seed: Any = None) -> None:
        self.seed = seed
        self.exporter = exporter if exporter is not None else InMemorySpanExporter()
        self._processor = SimpleSpanProcessor(self.exporter)
        self.otlp = otlp_requested() if otlp is None else bool(otlp)
        self._otlp = _otlp_processor() if self.otlp else None
        if self._otlp is not None:  # send what is still batched when the kernel or the child process exits
            atexit.register(self._otlp.shutdown)
        self._providers: dict[tuple[str, str], TracerProvider] = {}
        self._tracers: dict[tuple[str, str], trace.Tracer] = {}
        self._hops: dict[tuple[str, str], Callable] = {}

    # -- providers ---------------------------------------------------------------
    def provider(self, service: str, instance: str | None = None) -> TracerProvider:
        """The provider of ``instance`` of ``service`` (one per instance; created on first use)."""
        key = (service, instance or service)
        found = self._providers.get(key)
        if found is None:
            resource = Resource.create({"service.name": service, "service.instance.id": key[1]})
            rng = None if self.seed is None else random.Random(f"{self.seed}/spans/{key[0]}/{key[1]}")
            found = TracerProvider(resource=resource, id_generator=_WireIds(rng), shutdown_on_exit=False)
            found.add_span_processor(self._processor)
            if self._otlp is not None:
                found.add_span_processor(self._otlp)
            self._providers[key] = found
        return found

    def tracer(self, service: str, instance: str | None = None) -> trace.Tracer:
        """The tracer an instance's code and its middleware use."""
        key = (service, instance or service)
        found = self._tracers.get(key)
        if found is None:
            found = self._tracers[key] = self.provider(service, instance).get_tracer("labsvc")
        return found

    def flush(self) -> bool:
        """Hand every finished span to the exporters now (the OTLP exporter batches)."""
        return all(p.force_flush() for p in self._providers.values())

    def rows(self, epoch0: float = 0.0) -> list[dict]:
        """The finished spans held by the in-memory exporter, as rows."""
        finished = getattr(self.exporter, "get_finished_spans", None)
        return [span_row(s, epoch0) for s in finished()] if finished is not None else []

    def clear(self) -> None:
        """Forget the spans held in memory."""
        if isinstance(self.exporter, InMemorySpanExporter):
            self.exporter.clear()

    # -- the two seams -----------------------------------------------------------
    def client_hop(self, hop: Callable[[Any], Awaitable[Any]], service: str, instance: str | None = None):
        """``hop`` wrapped so that every request it carries is a CLIENT span of ``instance``."""
        key = (service, instance or service)  # one caller always hops the same way
        found = self._hops.get(key)
        if found is None:
            found = self._hops[key] = _client_spans(hop, self.tracer(service, instance))
        return found

    def server_app(self, app: Any, service: str, instance: str | None = None) -> "ServerSpans":
        """``app`` wrapped in :class:`ServerSpans` for ``instance``."""
        return ServerSpans(app, self.tracer(service, instance))


def _traceparent(headers: list) -> tuple[int, int] | None:
    for name, value in headers:
        if name == b"traceparent":
            parts = value.split(b"-")
            if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16:
                return int(parts[1], 16), int(parts[2], 16)
    return None


def _client_spans(hop: Callable[[Any], Awaitable[Any]], tracer: trace.Tracer):
    async def traced(out: Any) -> Any:
        ids = _traceparent(out.headers)
        parent = otel_context.get_current()
        current = trace.get_current_span(parent).get_span_context()
        if ids is None or not current.is_valid or current.trace_id != ids[0]:
            parent = otel_context.Context()  # a new trace: the client span is its root
        attributes = {
            "http.request.method": out.method, "url.full": out.url, "url.path": out.path,
            "server.address": out.host, "server.port": 80,
        }
        token = _next_ids.set(ids)
        try:
            span = tracer.start_span(out.method, context=parent, kind=SpanKind.CLIENT, attributes=attributes,
                                     start_time=simtime.now_ns())
        finally:
            _next_ids.reset(token)
        try:
            response = await hop(out)
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
            span.end(end_time=simtime.now_ns())
            raise
        status = response.status_code
        span.set_attribute("http.response.status_code", status)
        if status >= 400:  # for a client, any 4xx or 5xx means the call failed
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=simtime.now_ns())
        return response

    return traced


class ServerSpans:
    """ASGI middleware: a SERVER span around each HTTP request, continuing the caller's trace.

    The span is current while the app handles the request, so the hops the
    handler makes are its children. It is named ``"{method} {route}"`` once
    the route template is known; 5xx answers mark it as an error (4xx are
    the caller's mistake, not the server's, per the HTTP conventions).
    """

    def __init__(self, app: Any, tracer: trace.Tracer, untraced: frozenset[str] = UNTRACED_PATHS) -> None:
        self.app = app
        self.tracer = tracer
        self.untraced = untraced

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in self.untraced:
            await self.app(scope, receive, send)
            return
        carrier = {}
        host = ""
        for k, v in scope.get("headers", ()):
            if k == b"traceparent" or k == b"tracestate":
                carrier[k.decode("latin-1")] = v.decode("latin-1")
            elif k == b"host":
                host = v.decode("latin-1")
        parent = _PROPAGATOR.extract(carrier)
        method = scope.get("method", "GET")
        client = scope.get("client") or ("", 0)
        span = self.tracer.start_span(method, context=parent, kind=SpanKind.SERVER, start_time=simtime.now_ns(), attributes={
            "http.request.method": method, "url.path": scope.get("path", ""), "url.scheme": "http",
            "server.address": host.split(":")[0], "client.address": str(client[0]),
            "network.protocol.version": scope.get("http_version", "1.1"),
        })
        watch = StatusWatch(send)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, watch)
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
            raise
        finally:
            otel_context.detach(token)
            route = getattr(scope.get("route"), "path", "")
            if route:
                span.set_attribute("http.route", route)
                span.update_name(f"{method} {route}")
            status = watch.status
            if status:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_attribute("error.type", str(status))
                    span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=simtime.now_ns())
