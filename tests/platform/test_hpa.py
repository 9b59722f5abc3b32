"""The HPA follows the Kubernetes algorithm: formula, tolerance, policies, stabilization (fake clock)."""

from __future__ import annotations

import pytest

from labsvc.core.clock import FakeClock
from labsvc.core.errors import ConfigurationError
from labsvc.platform import HorizontalPodAutoscaler, desired_replicas, pod_metric_ratio


def hpa(clock, **kw):
    kw.setdefault("min_replicas", 1)
    kw.setdefault("max_replicas", 100)
    return HorizontalPodAutoscaler(target=kw.pop("target", 75), clock=clock, **kw)


def test_fifty_replicas_at_90_percent_against_75_go_to_60():
    assert desired_replicas(50, 90, 75) == 60
    clock = FakeClock()
    assert hpa(clock).reconcile(50, 90) == 60


@pytest.mark.parametrize("metric", [68, 75, 82])  # ratios 0.907, 1.0, 1.093: all within 0.1
def test_a_ratio_within_tolerance_changes_nothing(metric):
    assert desired_replicas(10, metric, 75) == 10
    h = hpa(FakeClock())
    assert h.reconcile(10, metric) == 10
    assert h.history["reason"].iloc[-1] == "within tolerance"


def test_just_outside_tolerance_scales():
    assert desired_replicas(10, 83, 75) == 12   # ratio 1.107 -> ceil(11.07)


def test_a_load_drop_does_not_scale_down_before_the_stabilization_window():
    clock = FakeClock()
    h = hpa(clock, target=50)
    assert h.reconcile(10, 50) == 10            # steady at target
    clock.advance(15)
    replicas = 10
    seen = []
    for _ in range(19):                         # load drops to a fifth for 15 s x 19 = 285 s
        replicas = h.reconcile(replicas, 10)
        seen.append(replicas)
        clock.advance(15)
    assert seen == [10] * 19                    # the t=0 recommendation of 10 is still in the window
    assert clock.now() == 300.0
    replicas = h.reconcile(replicas, 10)        # 300 s after the last high recommendation... still inside
    clock.advance(15)
    replicas = h.reconcile(replicas, 10)        # 315 s: the window holds only low recommendations now
    assert replicas == 2
    assert "stabilization window" in set(h.history["reason"])


def test_scale_up_is_limited_to_100_percent_or_4_pods_per_15_seconds():
    clock = FakeClock()
    h = hpa(clock, target=10)
    assert h.reconcile(2, 100) == 6             # wants 20; max(2 + 100 %, 2 + 4) = 6
    clock.advance(5)
    assert h.reconcile(6, 100) == 6             # same period: the limit counts from the period start (2)
    clock.advance(11)                           # a new period
    assert h.reconcile(6, 100) == 12            # max(12, 10)
    assert h.history["reason"].iloc[0] == "scale-up policy"


def test_min_and_max_replicas_clamp():
    h = hpa(FakeClock(), min_replicas=2, max_replicas=5, target=10)
    assert h.reconcile(4, 1000) == 5
    h2 = hpa(FakeClock(), min_replicas=3, max_replicas=5, target=10)
    h2.behavior  # default behavior
    assert h2.reconcile(3, 0) == 3


def test_missing_metrics_damp_a_scale_up_as_kubernetes_documents():
    # two pods at 150 % of target, one without a metric: assumed 0 % on scale-up -> ratio 1.0, no change
    assert pod_metric_ratio({"a": 150, "b": 150, "c": None}, 100) == (1.0, 3)
    ratio, n = pod_metric_ratio({"a": 200, "b": 200, "c": None}, 100)
    assert (round(ratio, 3), n) == (1.333, 4)


def test_bad_targets_are_rejected_with_a_reason():
    with pytest.raises(ConfigurationError, match="target"):
        desired_replicas(3, 10, 0)
    with pytest.raises(ConfigurationError, match="min_replicas"):
        HorizontalPodAutoscaler(target=5, min_replicas=4, max_replicas=2)
