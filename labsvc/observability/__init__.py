"""Observability: traces, RED metrics, one query over every log line, SLOs and burn-rate alerts.

The three patterns the guide's table lists under *Observerability*
(Centralized Logging, Centralized Metrics, Distributed Tracing), built on the
libraries that real services use:

- :mod:`~labsvc.observability._tracing`: OpenTelemetry SDK tracing, a
  tracer provider per instance, W3C ``traceparent`` propagation, spans as a
  DataFrame (``net.spans``), an OTLP/HTTP exporter when the standard
  ``OTEL_*`` variables ask for one; :mod:`~labsvc.observability._trees`
  reads a trace as a tree;
- :mod:`~labsvc.observability._metrics`: RED metrics with
  ``prometheus_client``, a registry per instance, ``GET /metrics``;
  :mod:`~labsvc.observability._scrape` scrapes them into a DataFrame and
  :mod:`~labsvc.observability._quantile` computes ``histogram_quantile`` and
  ``rate`` as PromQL does;
- :mod:`~labsvc.observability._logquery`: the log search, and from a log
  line to its trace;
- :mod:`~labsvc.observability._slo`: SLOs, error budgets and the SRE
  workbook's multiwindow, multi-burn-rate alerts.

All of it is off until ``net.observe()`` switches it on for one network
(:mod:`~labsvc.observability._observer`); :mod:`~labsvc.observability.lab`
holds notebook 11's experiments and :mod:`~labsvc.observability.plots` its plots.
"""

from labsvc.observability.lab import CHECKOUT, CHECKOUT_TREE, STEADY_LATENCY, ObservedRun, incident_run, observed_shop, one_checkout
from labsvc.observability.lab import COST_VARIANTS, SLORun, observability_cost, slo_run
from labsvc.observability._logquery import LEVELS, query_logs, trace_of
from labsvc.observability._metrics import LATENCY_BUCKETS, METRICS_PATH, RedMetrics, status_class
from labsvc.observability._observer import ENV_OBSERVE, ENV_SPANS, Observer, child_observability, observe
from labsvc.observability._quantile import bucket_of, exact_quantile, histogram_quantile, increase, rate
from labsvc.observability._scrape import DURATION_METRIC, SAMPLE_COLUMNS, Scraper, parse_exposition, red, route_quantile, since_start_quantile
from labsvc.observability._slo import DAY, HOUR, SLO, WORKBOOK_RULES, BurnRateRule, EventSeries, SLOMonitor, error_budget, evaluate, scaled
from labsvc.observability._slo import alert_summary
from labsvc.observability._sequence import MERMAID_MIME, SequenceDiagram, UnknownTraceError, sequence_diagram
from labsvc.observability._trees import leaf_spans, self_time, span_tree, trace_spans, waterfall_order
from labsvc.observability._tracing import (
    SPAN_COLUMNS, UNTRACED_PATHS, FileSpanExporter, ServerSpans, Tracing, otlp_requested, span_frame, span_row,
)
from labsvc.observability.plots import plot_burn_rates, plot_quantiles, plot_red, plot_waterfall

__all__ = [
    "CHECKOUT", "CHECKOUT_TREE", "STEADY_LATENCY", "ObservedRun", "incident_run", "observed_shop", "one_checkout",
    "SLORun", "slo_run", "COST_VARIANTS", "observability_cost",
    "LEVELS", "query_logs", "trace_of",
    "LATENCY_BUCKETS", "METRICS_PATH", "RedMetrics", "status_class",
    "ENV_OBSERVE", "ENV_SPANS", "Observer", "observe", "child_observability",
    "bucket_of", "exact_quantile", "histogram_quantile", "increase", "rate",
    "DURATION_METRIC", "SAMPLE_COLUMNS", "Scraper", "parse_exposition", "red", "route_quantile",
    "since_start_quantile",
    "DAY", "HOUR", "SLO", "WORKBOOK_RULES", "BurnRateRule", "EventSeries", "SLOMonitor", "error_budget",
    "evaluate", "scaled",
    "alert_summary",
    "MERMAID_MIME", "SequenceDiagram", "UnknownTraceError", "sequence_diagram",
    "leaf_spans", "self_time", "span_tree", "trace_spans", "waterfall_order",
    "SPAN_COLUMNS", "UNTRACED_PATHS", "FileSpanExporter", "ServerSpans", "Tracing", "otlp_requested",
    "span_frame", "span_row",
    "plot_burn_rates", "plot_quantiles", "plot_red", "plot_waterfall",
]
