"""The metric the HPA scales on when no metrics pipeline is in use: request rate read from the call log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labsvc.core.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.platform._controller import App

__all__ = ["CallRateMetric", "PROBE_CALLER"]

PROBE_CALLER = "kubelet"   # probes appear in the call log as calls from this caller


class CallRateMetric:
    """Requests per second per ready instance of an app, read from the network's call log.

    ``window`` is in the call log's seconds (the network's time). Probe calls are not
    counted. This is the metric the HPA scales on when the observability
    metrics are not in use.
    """

    def __init__(self, window: float = 1.0) -> None:
        if window <= 0:
            raise ConfigurationError(f"window={window!r} must be more than zero seconds")
        self.window = float(window)

    def __call__(self, app: App) -> float:
        net = app.platform.network
        log = net.calls
        if log.empty:
            return 0.0
        since = net.now() - self.window
        mine = log[(log["callee"] == app.name) & (log["caller"] != PROBE_CALLER) & (log["start"] >= since)]
        ready = max(1, len(app.ready_pods()))
        return len(mine) / self.window / ready
