"""Switching observability on for one network: ``observe(net)``, or ``net.observe(tracing=True, metrics=True)``.

An :class:`Observer` is the network's instrumentation
(:class:`labsvc.core.hooks.Instrumentation`): what it consults at its seams once
observability is on (and only then: a network that was never observed pays
one attribute test per hop):

- the client of every caller gets a hop that opens a CLIENT span
  (:meth:`Tracing.client_hop`);
- every instance's app is wrapped, in this process or in its process-mode
  child, in :class:`~labsvc.observability.ServerSpans` and
  :class:`~labsvc.observability.RedMetrics`.

Process-mode children learn what to do from environment variables
(:data:`ENV_OBSERVE`, :data:`ENV_SPANS`, and :data:`labsvc.core.hooks.ENV_INSTRUMENT`
naming :func:`child_observability`, which :mod:`labsvc.core.serve` calls),
trace with their own provider and write their finished spans to a file of
their own that ``net.spans`` reads back.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from labsvc.core.hooks import ENV_INSTRUMENT, Instrumentation
from labsvc.observability._metrics import RedMetrics
from labsvc.observability._tracing import FileSpanExporter, Tracing, read_span_file, span_frame

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.core.network import Instance, Network

__all__ = ["Observer", "observe", "child_observability", "ENV_OBSERVE", "ENV_SPANS"]

ENV_OBSERVE = "LABSVC_OBSERVE"  # "tracing", "metrics" or "tracing,metrics": what a child does
ENV_SPANS = "LABSVC_SPANS"  # the file a child writes its finished spans to


def observe(network: "Network", *, tracing: bool = True, metrics: bool = True, otlp: bool | None = None) -> "Observer | None":
    """Switch on OpenTelemetry tracing and RED metrics for ``network`` (off by default); returns the Observer.

    Spans then appear in ``network.spans`` and every instance serves
    ``GET /metrics``. In process mode, call it before the network starts
    (children learn it at start). ``otlp`` forces the OTLP exporter on or
    off; by default the standard ``OTEL_*`` variables decide. With both
    switches off it detaches the observer and returns None.
    """
    observer = Observer(network, tracing=tracing, metrics=metrics, otlp=otlp) if tracing or metrics else None
    network.instrument(observer)
    return observer


class Observer(Instrumentation):
    """Tracing and RED metrics for the instances of one network.

    Use :func:`observe` (or ``net.observe()``) to make one. ``tracing.exporter`` is
    the in-memory span exporter; :attr:`spans` also holds what process-mode
    children exported; :meth:`metrics` is an in-process instance's
    :class:`RedMetrics` (in process mode the numbers live in the child: read
    them through its ``/metrics``).
    """

    def __init__(self, network: "Network", *, tracing: bool = True, metrics: bool = True,
                 otlp: bool | None = None) -> None:
        self.network = network
        self.tracing = Tracing(otlp=otlp, seed=getattr(network, "seed", None)) if tracing else None
        self.metrics_on = bool(metrics)
        self._apps: dict[str, tuple[Any, Any, RedMetrics | None]] = {}
        self._dir: tempfile.TemporaryDirectory | None = None
        self._span_files: list[str] = []

    # -- the network's seams -------------------------------------------------------
    def client_hop(self, hop: Callable, service: str, instance: str | None = None) -> Callable:
        """The hop a client of ``service`` (``instance``) should use."""
        return hop if self.tracing is None else self.tracing.client_hop(hop, service, instance)

    def server_app(self, instance: "Instance") -> Any:
        """``instance``'s app wrapped for metrics and server spans (rebuilt when the app is replaced)."""
        app = instance.app
        found = self._apps.get(instance.name)
        if found is not None and found[0] is app:
            return found[1]
        wrapped, red = app, None
        if self.metrics_on:
            wrapped = red = RedMetrics(wrapped)
        if self.tracing is not None:
            wrapped = self.tracing.server_app(wrapped, instance.service.name, instance.name)
        self._apps[instance.name] = (app, wrapped, red)
        return wrapped

    def child_env(self, instance: "Instance") -> dict[str, str]:
        """What a process-mode child needs to observe itself (environment variables)."""
        what = [name for name, on in (("tracing", self.tracing is not None), ("metrics", self.metrics_on)) if on]
        env = {ENV_OBSERVE: ",".join(what), ENV_INSTRUMENT: "labsvc.observability:child_observability"}
        if self.tracing is not None:
            if self._dir is None:
                self._dir = tempfile.TemporaryDirectory(prefix="labsvc-spans-")
            path = os.path.join(self._dir.name, f"{instance.name}-{instance.starts + 1}.jsonl")
            self._span_files.append(path)
            env[ENV_SPANS] = path
        return env

    # -- what was observed -----------------------------------------------------------
    @property
    def spans(self) -> pd.DataFrame:
        """Every finished span, from this process and from process-mode children, oldest first."""
        if self.tracing is None:
            return span_frame([])
        epoch0 = self.network.epoch0
        rows = self.tracing.rows(epoch0)
        for path in self._span_files:
            rows += read_span_file(path, epoch0)
        return span_frame(rows)

    def reset_spans(self) -> None:
        """Forget the spans collected so far (children's files are emptied too)."""
        if self.tracing is not None:
            self.tracing.clear()
        for path in self._span_files:
            try:
                with open(path, "w", encoding="utf-8"):
                    pass
            except OSError:
                pass

    def metrics(self, instance: str) -> RedMetrics:
        """The RED metrics middleware of an in-process instance (``KeyError`` before its first request)."""
        found = self._apps.get(instance)
        if found is None or found[2] is None:
            raise KeyError(f"{instance!r} has no in-process metrics yet: metrics are off, it has served no "
                           f"request, or it runs in a process (scrape its /metrics instead)")
        return found[2]

    def __repr__(self) -> str:
        return f"<Observer tracing={self.tracing is not None} metrics={self.metrics_on} network={self.network.name!r}>"


def child_observability(app: Any, hop: Callable, service: str, instance: str,
                        environ: dict | None = None) -> tuple[Any, Callable]:
    """In a process-mode child: ``app`` and the outbound ``hop``, wrapped as :data:`ENV_OBSERVE` asks."""
    env = os.environ if environ is None else environ
    what = {w.strip() for w in env.get(ENV_OBSERVE, "").split(",") if w.strip()}
    if "metrics" in what:
        app = RedMetrics(app)
    if "tracing" in what and env.get(ENV_SPANS):
        tracing = Tracing(FileSpanExporter(env[ENV_SPANS]))
        app = tracing.server_app(app, service, instance)
        hop = tracing.client_hop(hop, service, instance)
    return app, hop
