"""The platform: deploy, heal, scale, roll out and run jobs, then export the same topology.

The guide's last part (PaaS환경에서 배포 패턴, deploying on a platform) asks
for apps that are independent deployable units with their own URL,
started, stopped, restarted and scaled one at a time, health-checked,
healed and autoscaled. This package runs all of it on a
:class:`labsvc.Network`, with Kubernetes' semantics:

- :class:`AppManifest` (``_manifest``): what is pushed (Cloud Foundry shape);
- :class:`Probe` (``_probes``); the restart back-offs :class:`CrashLoopBackOff`
  (Kubernetes) and :class:`CloudFoundryBackOff` (Cloud Foundry's Diego)
  (``_backoff``);
- :class:`Platform` (``_controller``): kubelet (probes, restarts, graceful
  termination racing the endpoints' update: ``_kubelet``), ReplicaSet
  (self-healing) and HPA controllers on an injectable clock (by default the
  network's, simulated in-process, so every period keeps its real length;
  ``CallRateMetric`` reads the call log);
- :class:`HorizontalPodAutoscaler` and :func:`desired_replicas` (``_hpa``);
- :class:`RollingUpdate`, :class:`BlueGreen`, :class:`Canary`,
  :class:`Recreate` (``_rollout``);
- Cloud Foundry's own side (``_cf``, ``_cf_autoscaler``): :func:`cf_manifest`
  and :func:`validate_cf_manifest`, :func:`restart_timeline`, the
  health-check types (:func:`health_check_experiment`) and the App
  Autoscaler's rules (:class:`AutoscalerPolicy`, :class:`AppAutoscaler`);
- batch jobs (``_batch``) and the export to Docker Compose, Kubernetes and
  Cloud Foundry (:mod:`labsvc.platform.export`).

Notebook 13's experiments are in :mod:`labsvc.platform.lab`, their figures
in :mod:`labsvc.platform.plots` (importable from ``lab`` too).
"""

from __future__ import annotations

from labsvc.platform._backoff import (
    INITIAL_BACKOFF, MAX_BACKOFF, RESET_AFTER, CloudFoundryBackOff, CrashLoopBackOff, RestartBackOff,
)
from labsvc.platform._batch import (
    BatchStatus, ChunkStep, CronSchedule, Job, JobExecution, JobRepository, JobSpec, KubernetesJob, SkipLimitExceeded,
    SqliteUpsertWriter,
)
from labsvc.platform._cf import (
    FAILURES, HealthCheckRun, cf_manifest, health_check_experiment, restart_timeline, validate_cf_manifest,
)
from labsvc.platform._cf_autoscaler import (
    AppAutoscaler, AppAutoscalerRun, AutoscalerPolicy, AutoscalerRule, PolicyError, app_autoscaler_experiment,
)
from labsvc.platform._controller import App, Platform, Pod
from labsvc.platform._endpoints import Endpoints
from labsvc.platform._hpa import (
    DEFAULT_BEHAVIOR, SYNC_PERIOD, TOLERANCE, Behavior, HorizontalPodAutoscaler, ScalingPolicy, ScalingRules,
    desired_replicas, pod_metric_ratio,
)
from labsvc.platform._manifest import AppManifest, Autoscaling, ManifestError
from labsvc.platform._metrics import PROBE_CALLER, CallRateMetric
from labsvc.platform._probes import Probe, ProbeTracker
from labsvc.platform._rollout import BlueGreen, Canary, CanaryStep, Recreate, RollingUpdate, RolloutResult, surge_and_unavailable

__all__ = [
    "AppManifest", "Autoscaling", "ManifestError", "Probe", "ProbeTracker", "CrashLoopBackOff",
    "INITIAL_BACKOFF", "MAX_BACKOFF", "RESET_AFTER", "CloudFoundryBackOff", "RestartBackOff",
    "Platform", "App", "Pod", "CallRateMetric",
    "PROBE_CALLER", "Endpoints", "HorizontalPodAutoscaler", "Behavior", "ScalingPolicy", "ScalingRules",
    "DEFAULT_BEHAVIOR", "SYNC_PERIOD", "TOLERANCE", "desired_replicas", "pod_metric_ratio",
    "JobSpec", "JobRepository", "ChunkStep", "Job", "JobExecution", "SqliteUpsertWriter", "SkipLimitExceeded",
    "KubernetesJob", "CronSchedule", "BatchStatus",
    "RollingUpdate", "Recreate", "BlueGreen", "Canary", "CanaryStep", "RolloutResult", "surge_and_unavailable",
    "cf_manifest", "validate_cf_manifest", "restart_timeline", "health_check_experiment", "HealthCheckRun", "FAILURES",
    "AutoscalerRule", "AutoscalerPolicy", "AppAutoscaler", "PolicyError", "app_autoscaler_experiment", "AppAutoscalerRun",
]
