"""Health probes with Kubernetes semantics: liveness, readiness, startup.

A probe is an HTTP GET on an instance's own URL (``/health`` for liveness,
``/ready`` for readiness: :func:`labsvc.create_service` provides both). It
runs every ``period`` seconds once ``initial_delay`` has passed, fails when
the answer is not 2xx/3xx or does not come within ``timeout`` (with
``check="port"``, any answer passes: only the connection counts, as in a
Kubernetes ``tcpSocket`` probe or a Cloud Foundry ``port`` health check), and changes
its verdict only after ``failure_threshold`` failures in a row (or
``success_threshold`` successes). What a verdict does is the controller's
business (:mod:`labsvc.platform._controller`):

- readiness failing: the instance leaves the balancer, keeps running;
- liveness failing: the instance is restarted;
- startup: until it succeeds once, liveness and readiness are not run; if it
  fails ``failure_threshold`` times, the instance is restarted.

Defaults are Kubernetes': period 10 s, timeout 1 s, failure threshold 3,
success threshold 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from labsvc.core.errors import ConfigurationError

__all__ = ["Probe", "ProbeTracker", "PROBE_KINDS", "PROBE_CHECKS"]

PROBE_KINDS = ("liveness", "readiness", "startup")
PROBE_CHECKS = ("http", "port")


@dataclass(frozen=True)
class Probe:
    """One probe's settings (``kind`` is liveness, readiness or startup)."""

    kind: str
    path: str = "/health"
    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3
    success_threshold: int = 1
    initial_delay: float = 0.0
    check: str = "http"

    def __post_init__(self) -> None:
        if self.kind not in PROBE_KINDS:
            raise ConfigurationError(f"probe kind={self.kind!r}: use one of {PROBE_KINDS}")
        if self.check not in PROBE_CHECKS:
            raise ConfigurationError(f"probe check={self.check!r}: use one of {PROBE_CHECKS}")
        if not self.path.startswith("/"):
            raise ConfigurationError(f"probe path={self.path!r} must start with '/', e.g. '/health'")
        if self.period <= 0 or self.timeout <= 0:
            raise ConfigurationError(f"probe period={self.period!r}, timeout={self.timeout!r}: both must be > 0 s")
        if self.failure_threshold < 1 or self.success_threshold < 1:
            raise ConfigurationError("probe failure_threshold and success_threshold must be at least 1")
        if self.kind in ("liveness", "startup") and self.success_threshold != 1:
            raise ConfigurationError(f"a {self.kind} probe's success_threshold must be 1 (as Kubernetes requires)")

    @classmethod
    def liveness(cls, path: str = "/health", **kw) -> "Probe":
        """A liveness probe (default path ``/health``)."""
        return cls("liveness", path, **kw)

    @classmethod
    def readiness(cls, path: str = "/ready", **kw) -> "Probe":
        """A readiness probe (default path ``/ready``)."""
        return cls("readiness", path, **kw)

    @classmethod
    def startup(cls, path: str = "/health", **kw) -> "Probe":
        """A startup probe (default path ``/health``)."""
        return cls("startup", path, **kw)


class ProbeTracker:
    """The state of one probe on one instance: when it is due, and its verdict.

    ``passing`` starts as ``None`` (unknown) for readiness and startup
    (an instance is not ready until its first success) and ``True`` for
    liveness (a container is alive until proven otherwise).
    """

    def __init__(self, probe: Probe, started_at: float) -> None:
        self.probe = probe
        self.started_at = started_at
        self.next_due = started_at + probe.initial_delay
        self.passing: bool | None = True if probe.kind == "liveness" else None
        self.failures = 0
        self.successes = 0

    def due(self, now: float) -> bool:
        """Whether the probe should run at ``now``."""
        return now >= self.next_due

    def record(self, now: float, ok: bool) -> bool | None:
        """Record one result; returns the new verdict if it changed, else ``None``."""
        self.next_due = now + self.probe.period
        if ok:
            self.successes += 1
            self.failures = 0
            if self.passing is not True and self.successes >= self.probe.success_threshold:
                self.passing = True
                return True
        else:
            self.failures += 1
            self.successes = 0
            if self.passing is not False and self.failures >= self.probe.failure_threshold:
                self.passing = False
                return False
        return None
