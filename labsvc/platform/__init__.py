"""The platform: deploy, heal, scale, roll out and run jobs, then export the same topology.

The guide's last part (PaaS환경에서 배포 패턴, deploying on a platform) asks
for apps that are independent deployable units with their own URL,
started, stopped, restarted and scaled one at a time, health-checked,
healed and autoscaled. This package runs all of it on a
:class:`labsvc.Network`, with Kubernetes' semantics:

- :class:`AppManifest` (``_manifest``): what is pushed (Cloud Foundry shape);
- :class:`Probe` (``_probes``), :class:`CrashLoopBackOff` (``_backoff``);
- :class:`Platform` (``_controller``): kubelet (probes, restarts), ReplicaSet
  (self-healing) and HPA controllers on an injectable clock (``ScaledClock``
  runs faster than real time; ``CallRateMetric`` reads the call log);
- :class:`HorizontalPodAutoscaler` and :func:`desired_replicas` (``_hpa``);
- :class:`RollingUpdate`, :class:`BlueGreen`, :class:`Canary`,
  :class:`Recreate` (``_rollout``);
- batch jobs (``_batch``) and the export to Docker Compose, Kubernetes and
  Cloud Foundry (:mod:`labsvc.platform.export`).
"""

from __future__ import annotations

from ._backoff import INITIAL_BACKOFF, MAX_BACKOFF, RESET_AFTER, CrashLoopBackOff
from ._batch import (
    BatchStatus, ChunkStep, CronSchedule, Job, JobExecution, JobRepository, JobSpec, KubernetesJob, SkipLimitExceeded,
    SqliteUpsertWriter,
)
from ._controller import App, Platform, Pod
from ._endpoints import Endpoints
from ._hpa import (
    DEFAULT_BEHAVIOR, SYNC_PERIOD, TOLERANCE, Behavior, HorizontalPodAutoscaler, ScalingPolicy, ScalingRules,
    desired_replicas, pod_metric_ratio,
)
from ._manifest import AppManifest, Autoscaling, ManifestError
from ._metrics import PROBE_CALLER, CallRateMetric
from ._probes import Probe, ProbeTracker
from ._rollout import BlueGreen, Canary, CanaryStep, Recreate, RollingUpdate, RolloutResult, surge_and_unavailable
from ..clock import ScaledClock

__all__ = [
    "AppManifest", "Autoscaling", "ManifestError", "Probe", "ProbeTracker", "CrashLoopBackOff",
    "INITIAL_BACKOFF", "MAX_BACKOFF", "RESET_AFTER", "Platform", "App", "Pod", "ScaledClock", "CallRateMetric",
    "PROBE_CALLER", "Endpoints", "HorizontalPodAutoscaler", "Behavior", "ScalingPolicy", "ScalingRules",
    "DEFAULT_BEHAVIOR", "SYNC_PERIOD", "TOLERANCE", "desired_replicas", "pod_metric_ratio",
    "JobSpec", "JobRepository", "ChunkStep", "Job", "JobExecution", "SqliteUpsertWriter", "SkipLimitExceeded",
    "KubernetesJob", "CronSchedule", "BatchStatus",
    "RollingUpdate", "Recreate", "BlueGreen", "Canary", "CanaryStep", "RolloutResult", "surge_and_unavailable",
]
