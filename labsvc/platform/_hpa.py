"""Horizontal autoscaling with the Kubernetes HPA (autoscaling/v2) algorithm.

The core rule, from the Kubernetes docs ("Horizontal Pod Autoscaling",
algorithm details)::

    desiredReplicas = ceil(currentReplicas * currentMetricValue / desiredMetricValue)

- no change while the ratio ``current / target`` is within ``tolerance``
  (0.1) of 1.0;
- ``behavior`` limits how fast the count moves: by default scale-up may add
  the larger of 100 % or 4 pods per 15 s with no stabilization, scale-down
  may remove 100 % per 15 s but only after a 300 s stabilization window
  (the highest recommendation of the last 300 s wins, so a short dip in load
  does not shed pods that are needed a minute later);
- the result is clamped to ``[min_replicas, max_replicas]``.

:func:`desired_replicas` is the pure formula; :func:`pod_metric_ratio`
handles pods with missing metrics the way the docs describe;
:class:`HorizontalPodAutoscaler` is the controller that remembers
recommendations and scaling events, on an injectable clock.

>>> desired_replicas(50, 90, 75)      # the example in the Kubernetes docs
60
>>> desired_replicas(10, 78, 75)      # ratio 1.04: within tolerance, no change
10

Not modelled: the ``Object`` and ``External`` metric types, several metrics
at once (Kubernetes takes the largest proposal), CPU initialization period
for just-started pods (``--horizontal-pod-autoscaler-cpu-initialization-period``)
and the readiness delay; unready pods are treated like pods with a missing
metric (as Kubernetes does for CPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import pandas as pd

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError

__all__ = [
    "TOLERANCE", "SYNC_PERIOD", "ScalingPolicy", "ScalingRules", "Behavior", "DEFAULT_BEHAVIOR",
    "desired_replicas", "pod_metric_ratio", "HorizontalPodAutoscaler",
]

TOLERANCE = 0.1          # --horizontal-pod-autoscaler-tolerance
SYNC_PERIOD = 15.0       # --horizontal-pod-autoscaler-sync-period (seconds)


def desired_replicas(current: int, metric: float, target: float, *, tolerance: float = TOLERANCE) -> int:
    """``ceil(current * metric / target)``, or ``current`` while the ratio is within ``tolerance`` of 1.

    >>> desired_replicas(4, 150, 100)
    6
    >>> desired_replicas(4, 20, 100)
    1
    """
    if target <= 0:
        raise ConfigurationError(f"target={target!r}: an HPA target must be more than zero, e.g. 75 (% CPU)")
    if current < 0 or metric < 0:
        raise ConfigurationError(f"current={current!r}, metric={metric!r}: neither can be negative")
    if current == 0:
        return 0  # Kubernetes does not autoscale a workload scaled to zero
    ratio = metric / target
    if abs(ratio - 1.0) <= tolerance:
        return current
    return math.ceil(current * ratio)


def pod_metric_ratio(
    metrics: Mapping[str, float | None], target: float, *, ready: Iterable[str] | None = None,
    tolerance: float = TOLERANCE,
) -> tuple[float, int]:
    """The usage ratio over pods, and the replica count it proposes, with missing metrics handled.

    ``metrics`` maps each pod to its metric (``None`` when missing). As the
    Kubernetes docs describe: the ratio is first computed over the pods that
    have a metric and are ready; if that ratio proposes a change, it is
    recomputed assuming pods without a metric use 100 % of the target when
    scaling down and 0 % when scaling up (unready pods: 0 %), and the change
    is dropped if the recomputed ratio reverses it or falls within tolerance.
    Returns ``(ratio, proposed replicas)``.

    >>> pod_metric_ratio({"a": 150, "b": 150, "c": None}, 100)   # c's metric is missing
    (1.0, 3)
    """
    ready_set = set(metrics) if ready is None else set(ready)
    counted = {p: v for p, v in metrics.items() if v is not None and p in ready_set}
    missing = [p for p, v in metrics.items() if v is None]
    unready = [p for p, v in metrics.items() if v is not None and p not in ready_set]
    n = len(metrics)
    if not counted:
        return 1.0, n
    ratio = sum(counted.values()) / len(counted) / target
    if abs(ratio - 1.0) <= tolerance:
        return ratio, n
    if not missing and not unready:
        return ratio, math.ceil(len(counted) * ratio)
    scale_up = ratio > 1.0
    filled = dict(counted)
    for p in missing:
        filled[p] = 0.0 if scale_up else target
    if scale_up:
        for p in unready:
            filled[p] = 0.0
    new_ratio = sum(filled.values()) / len(filled) / target
    if abs(new_ratio - 1.0) <= tolerance or (new_ratio > 1.0) != scale_up:
        return new_ratio, n
    return new_ratio, math.ceil(len(filled) * new_ratio)


@dataclass(frozen=True)
class ScalingPolicy:
    """At most ``value`` pods (``kind="Pods"``) or ``value`` % (``kind="Percent"``) per ``period`` seconds."""

    kind: str
    value: int
    period: float = 15.0

    def __post_init__(self) -> None:
        if self.kind not in ("Pods", "Percent"):
            raise ConfigurationError(f"ScalingPolicy kind={self.kind!r}: use 'Pods' or 'Percent'")
        if self.value <= 0 or self.period <= 0:
            raise ConfigurationError(f"ScalingPolicy value={self.value!r}, period={self.period!r}: both must be > 0")


@dataclass(frozen=True)
class ScalingRules:
    """One direction's rules: stabilization window, policies, and which policy wins (``Max``/``Min``)."""

    stabilization_window: float
    policies: tuple[ScalingPolicy, ...]
    select_policy: str = "Max"

    def __post_init__(self) -> None:
        if self.select_policy not in ("Max", "Min", "Disabled"):
            raise ConfigurationError(f"select_policy={self.select_policy!r}: use 'Max', 'Min' or 'Disabled'")
        if self.stabilization_window < 0:
            raise ConfigurationError(f"stabilization_window={self.stabilization_window!r} must be >= 0 seconds")


@dataclass(frozen=True)
class Behavior:
    """``spec.behavior`` of an autoscaling/v2 HorizontalPodAutoscaler."""

    scale_up: ScalingRules = field(default_factory=lambda: ScalingRules(
        0.0, (ScalingPolicy("Percent", 100, 15.0), ScalingPolicy("Pods", 4, 15.0)), "Max"))
    scale_down: ScalingRules = field(default_factory=lambda: ScalingRules(
        300.0, (ScalingPolicy("Percent", 100, 15.0),), "Max"))


DEFAULT_BEHAVIOR = Behavior()


class HorizontalPodAutoscaler:
    """The HPA controller for one workload: metric in, replica count out, on a clock.

    Call :meth:`reconcile` once per sync period with the current replica
    count and the metric (average per pod, e.g. % CPU or requests per
    second per pod); it returns the replica count to set and records a row
    in :attr:`history`.

    >>> from labsvc.core.clock import FakeClock
    >>> hpa = HorizontalPodAutoscaler(target=75, min_replicas=1, max_replicas=100, clock=FakeClock())
    >>> hpa.reconcile(50, 90)
    60
    """

    def __init__(
        self, *, target: float, min_replicas: int = 1, max_replicas: int = 10,
        behavior: Behavior = DEFAULT_BEHAVIOR, tolerance: float = TOLERANCE, clock: Clock | None = None,
        metric_name: str = "cpu",
    ) -> None:
        if target <= 0:
            raise ConfigurationError(f"target={target!r}: the metric target must be more than zero")
        if min_replicas < 1 or max_replicas < min_replicas:
            raise ConfigurationError(
                f"min_replicas={min_replicas!r}, max_replicas={max_replicas!r}: need 1 <= min_replicas <= max_replicas")
        self.target = float(target)
        self.min_replicas = min_replicas
        self.max_replicas = max_replicas
        self.behavior = behavior
        self.tolerance = tolerance
        self.clock = clock or MonotonicClock()
        self.metric_name = metric_name
        self._recommendations: list[tuple[float, int]] = []   # (time, raw recommendation)
        self._events: list[tuple[float, int]] = []            # (time, replica change applied)
        self._rows: list[dict] = []

    def reconcile(self, current: int, metric: float | Mapping[str, float | None], *,
                  ready: Iterable[str] | None = None) -> int:
        """The replica count to set now, given ``current`` replicas and the observed ``metric``.

        ``metric`` is the average per pod, or a mapping pod -> value (``None``
        when missing) handled by :func:`pod_metric_ratio`.
        """
        now = self.clock.now()
        if isinstance(metric, Mapping):
            ratio, raw = pod_metric_ratio(metric, self.target, ready=ready, tolerance=self.tolerance)
            value = ratio * self.target
        else:
            value = float(metric)
            raw = desired_replicas(current, value, self.target, tolerance=self.tolerance)
        raw = min(max(raw, self.min_replicas), self.max_replicas)
        self._recommendations.append((now, raw))
        stabilized, reason = self._stabilize(now, current, raw)
        desired, limited = self._limit(now, current, stabilized)
        desired = min(max(desired, self.min_replicas), self.max_replicas)
        if desired != current:
            self._events.append((now, desired - current))
        self._rows.append({
            "time": now, "current": current, "metric": value, "target": self.target, "ratio": value / self.target,
            "recommendation": raw, "stabilized": stabilized, "desired": desired,
            "reason": limited or reason,
        })
        return desired

    def _stabilize(self, now: float, current: int, raw: int) -> tuple[int, str]:
        # Kubernetes: scale-up takes the lowest, scale-down the highest
        # recommendation inside each direction's window.
        longest = max(self.behavior.scale_up.stabilization_window, self.behavior.scale_down.stabilization_window)
        self._recommendations = [(t, r) for t, r in self._recommendations if now - t <= longest]
        up_window = [r for t, r in self._recommendations if now - t <= self.behavior.scale_up.stabilization_window]
        down_window = [r for t, r in self._recommendations if now - t <= self.behavior.scale_down.stabilization_window]
        up_limit = min(up_window) if up_window else raw
        down_limit = max(down_window) if down_window else raw
        result = current
        if result < up_limit:
            result = up_limit
        if result > down_limit:
            result = down_limit
        if result != raw:
            return result, "stabilization window"
        return result, "within tolerance" if raw == current else "recommendation"

    def _limit(self, now: float, current: int, desired: int) -> tuple[int, str]:
        if desired == current:
            return desired, ""
        up = desired > current
        rules = self.behavior.scale_up if up else self.behavior.scale_down
        if rules.select_policy == "Disabled":
            return current, f"scale-{'up' if up else 'down'} disabled"
        limits = [self._policy_limit(p, self._period_start(now, current, p.period, up=up), up=up) for p in rules.policies]
        if up:
            limit = max(limits) if rules.select_policy == "Max" else min(limits)
            return (limit, "scale-up policy") if desired > limit else (desired, "")
        limit = min(limits) if rules.select_policy == "Max" else max(limits)
        return (limit, "scale-down policy") if desired < limit else (desired, "")

    def _period_start(self, now: float, current: int, period: float, *, up: bool) -> int:
        # Replicas at the start of the period: undo the changes made in it.
        changes = sum(d for t, d in self._events if now - t < period and (d > 0) == up)
        return current - changes

    @staticmethod
    def _policy_limit(policy: ScalingPolicy, start: int, *, up: bool) -> int:
        # As the Kubernetes controller computes it: scale-up rounds the new
        # count up, scale-down truncates the count that may remain.
        if policy.kind == "Pods":
            return start + policy.value if up else start - policy.value
        if up:
            return math.ceil(start * (1 + policy.value / 100))
        return int(start * (1 - policy.value / 100))

    @property
    def history(self) -> pd.DataFrame:
        """One row per :meth:`reconcile`: time, current, metric, ratio, recommendation, desired, reason."""
        return pd.DataFrame(self._rows, columns=["time", "current", "metric", "target", "ratio", "recommendation",
                                                 "stabilized", "desired", "reason"])
