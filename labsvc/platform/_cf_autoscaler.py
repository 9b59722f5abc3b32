"""Cloud Foundry's App Autoscaler: threshold rules with a breach duration and a cool-down.

Where the HPA (:mod:`._hpa`) computes a desired count from a target, the
App Autoscaler applies rules (its policy JSON, ``docs/policy.md`` in
``cloudfoundry/app-autoscaler``): a policy has ``instance_min_count``,
``instance_max_count`` and ``scaling_rules``; each rule has a
``metric_type``, a ``threshold``, an ``operator`` (``>``, ``<``, ``>=``,
``<=``), an ``adjustment`` (``+2`` adds two instances, ``-50%`` halves the
count), ``breach_duration_secs`` (how long the metric must keep breaching
before the rule fires) and ``cool_down_secs`` (how long to wait before the
next scaling).

:class:`AppAutoscaler` evaluates a policy on metric samples: a rule fires
once every sample for ``breach_duration_secs`` has breached, and no rule
fires during a cool-down. Model choices (not taken from the docs): when
rules for both directions fire at once, scaling out wins; a percentage
adjustment rounds the new count up; both durations are required here.

>>> policy = AutoscalerPolicy.from_dict({"instance_min_count": 1, "instance_max_count": 4, "scaling_rules": [
...     {"metric_type": "throughput", "threshold": 10, "operator": ">", "adjustment": "+1",
...      "breach_duration_secs": 60, "cool_down_secs": 120}]})
>>> scaler = AppAutoscaler(policy)
>>> [scaler.observe(t, {"throughput": 20}, 1) for t in (0, 30, 60)]
[1, 1, 2]
"""

from __future__ import annotations

import asyncio
import math
import operator as op
import re
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from labsvc.core.load import open_loop
from labsvc.core.network import Network
from labsvc.core.simtime import experiment
from labsvc.platform._controller import Platform
from labsvc.platform._manifest import ManifestError
from labsvc.platform._metrics import CallRateMetric

__all__ = ["AutoscalerRule", "AutoscalerPolicy", "AppAutoscaler", "PolicyError", "OPERATORS", "DEFAULT_POLICY",
           "AppAutoscalerRun", "app_autoscaler_experiment"]

OPERATORS = {">": op.gt, "<": op.lt, ">=": op.ge, "<=": op.le}
_ADJUSTMENT = re.compile(r"^[-+][1-9]+[0-9]*[%]?$")   # the policy spec's own pattern
_METRIC = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class PolicyError(ManifestError):
    """An App Autoscaler policy or rule is wrong; the message names the field."""


@dataclass(frozen=True)
class AutoscalerRule:
    """One dynamic scaling rule (the policy spec's ``scaling_rules`` entry)."""

    metric_type: str
    threshold: float
    operator: str
    adjustment: str
    breach_duration_secs: int
    cool_down_secs: int

    def __post_init__(self) -> None:
        if not isinstance(self.metric_type, str) or not _METRIC.match(self.metric_type):
            raise PolicyError(f"metric_type={self.metric_type!r}: a metric name such as 'throughput' or 'cpu'")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)):
            raise PolicyError(f"threshold={self.threshold!r} must be a number")
        if self.operator not in OPERATORS:
            raise PolicyError(f"operator={self.operator!r}: use one of {list(OPERATORS)}")
        if not isinstance(self.adjustment, str) or not _ADJUSTMENT.match(self.adjustment):
            raise PolicyError(f"adjustment={self.adjustment!r}: a signed change like '+2', '-1' or '-50%'")
        for key in ("breach_duration_secs", "cool_down_secs"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise PolicyError(f"{key}={v!r}: whole seconds >= 0")

    @property
    def scales_out(self) -> bool:
        """Whether this rule adds instances."""
        return self.adjustment.startswith("+")

    def breached(self, value: float) -> bool:
        """Whether ``value`` breaches the threshold."""
        return OPERATORS[self.operator](value, self.threshold)

    def apply(self, current: int) -> int:
        """The instance count after this rule's adjustment (before the policy's bounds)."""
        amount = int(self.adjustment.rstrip("%"))
        if self.adjustment.endswith("%"):
            return math.ceil(current * (1 + amount / 100))
        return current + amount


@dataclass(frozen=True)
class AutoscalerPolicy:
    """``instance_min_count`` .. ``instance_max_count`` and the rules."""

    instance_min_count: int
    instance_max_count: int
    scaling_rules: tuple[AutoscalerRule, ...]

    def __post_init__(self) -> None:
        lo, hi = self.instance_min_count, self.instance_max_count
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)) or not 1 <= lo <= hi:
            raise PolicyError(f"instance_min_count={lo!r}, instance_max_count={hi!r}: need 1 <= min <= max")
        if not self.scaling_rules:
            raise PolicyError("scaling_rules: give at least one rule, e.g. throughput > 10 adds '+1'")

    def table(self) -> pd.DataFrame:
        """The rules, one row each, with the policy's instance bounds."""
        rows = [{"instance_min_count": self.instance_min_count, "instance_max_count": self.instance_max_count,
                 **{k: getattr(r, k) for k in r.__dataclass_fields__}} for r in self.scaling_rules]
        return pd.DataFrame(rows)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AutoscalerPolicy":
        """Read a policy in the App Autoscaler's JSON shape (dynamic rules only)."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"a policy is a mapping with instance_min_count, instance_max_count, scaling_rules; "
                              f"got {type(data).__name__}")
        unknown = sorted(set(data) - {"instance_min_count", "instance_max_count", "scaling_rules"})
        if unknown:
            raise PolicyError(f"unknown policy field(s) {unknown} (schedules are not modelled)")
        for key in ("instance_min_count", "instance_max_count"):
            if key not in data:
                raise PolicyError(f"{key} is required")
        rules = []
        for i, r in enumerate(data.get("scaling_rules") or []):
            if isinstance(r, AutoscalerRule):
                rules.append(r)
                continue
            try:
                rules.append(AutoscalerRule(**dict(r)))
            except TypeError as exc:
                raise PolicyError(f"scaling_rules[{i}]: {exc}") from None
            except PolicyError as exc:
                raise PolicyError(f"scaling_rules[{i}]: {exc}") from None
        return cls(data["instance_min_count"], data["instance_max_count"], tuple(rules))


class AppAutoscaler:
    """Evaluates a :class:`AutoscalerPolicy` on metric samples (see the module docstring).

    :meth:`observe` takes the time, the metrics (``{metric_type: value}``)
    and the current instance count, and returns the count to run. Each rule
    remembers since when it has breached without a break; it fires when that
    stretch reaches its ``breach_duration_secs``. A scaling starts the
    firing rule's ``cool_down_secs``, during which nothing scales; a breach
    that lasts through the cool-down fires again as soon as it ends.
    ``history`` has one row per observation.
    """

    def __init__(self, policy: AutoscalerPolicy) -> None:
        self.policy = policy
        self._since: dict[int, float | None] = {i: None for i in range(len(policy.scaling_rules))}
        self.cool_until = -math.inf
        self._rows: list[dict] = []

    def observe(self, now: float, metrics: Mapping[str, float], current: int) -> int:
        """One evaluation at ``now``: the instance count to run."""
        p = self.policy
        firing = []
        for i, rule in enumerate(p.scaling_rules):
            if rule.metric_type not in metrics:
                raise PolicyError(f"no value for metric {rule.metric_type!r}; metrics given: {sorted(metrics)}")
            if rule.breached(metrics[rule.metric_type]):
                if self._since[i] is None:
                    self._since[i] = now
                if now - self._since[i] >= rule.breach_duration_secs:
                    firing.append(rule)
            else:
                self._since[i] = None
        desired, reason = current, "no rule breached long enough" if not firing else ""
        if firing and now < self.cool_until:
            reason = f"cooling down until {self.cool_until:.0f} s"
        elif firing:
            rule = next((r for r in firing if r.scales_out), firing[0])
            desired = max(p.instance_min_count, min(p.instance_max_count, rule.apply(current)))
            reason = (f"{rule.metric_type} {rule.operator} {rule.threshold:g} for {rule.breach_duration_secs} s: "
                      f"{rule.adjustment}")
            if desired != current:
                self.cool_until = now + rule.cool_down_secs
            else:
                reason += " (at the bound)"
        self._rows.append({"time": now, **{f"metric.{k}": v for k, v in metrics.items()}, "current": current,
                           "desired": desired, "reason": reason})
        return desired

    @property
    def history(self) -> pd.DataFrame:
        """One row per :meth:`observe`: time, metrics, current and desired counts, the reason."""
        return pd.DataFrame(self._rows)


# ---------------------------------------------------------------------------- on the network
#: The policy notebook 13 runs: add two instances after 60 s above 5 requests/s per instance, remove one after
#: 120 s below 2; 60 s of cool-down after each scaling; between 1 and 8 instances.
DEFAULT_POLICY = {
    "instance_min_count": 1, "instance_max_count": 8,
    "scaling_rules": [
        {"metric_type": "throughput", "threshold": 5, "operator": ">", "adjustment": "+2",
         "breach_duration_secs": 60, "cool_down_secs": 60},
        {"metric_type": "throughput", "threshold": 2, "operator": "<", "adjustment": "-1",
         "breach_duration_secs": 120, "cool_down_secs": 60},
    ],
}


@dataclass
class AppAutoscalerRun:
    """The HPA's load ramp under the App Autoscaler's rules."""

    history: pd.DataFrame    # one row per evaluation
    timeline: pd.DataFrame   # desired / ready instances per controller pass
    load: pd.DataFrame       # one row per request (open loop), ``due`` on the network's time
    policy: AutoscalerPolicy


@experiment
async def app_autoscaler_experiment(*, ramp: tuple[tuple[float, float], ...] = ((60, 4), (120, 24), (420, 4)),
                                    policy: Mapping[str, Any] | None = None, every: float = 15.0,
                                    window: float = 15.0, seed: int = 13,
                                    name: str = "nb13-cf-autoscaler") -> AppAutoscalerRun:
    """Offer ``ramp`` (``(seconds, requests per second)`` phases) to ``web`` scaled by an App Autoscaler policy.

    Every ``every`` seconds the autoscaler reads ``throughput``: requests per
    second per ready instance over the last ``window`` seconds of the call
    log (the HPA's metric in notebook 13), and the platform's ReplicaSet
    applies its count. Runs on the network's simulated time.
    """
    pol = AutoscalerPolicy.from_dict(policy or DEFAULT_POLICY)
    scaler = AppAutoscaler(pol)
    metric = CallRateMetric(window=window)
    net = Network(seed=seed, name=name)
    platform = Platform(net, seed=seed)
    async with net:
        await platform.push({"name": "web", "app": "labsvc.platform.lab:web_v1",
                             "instances": pol.instance_min_count})
        app = platform.app("web")
        total = sum(s for s, _ in ramp)

        async def autoscale():
            t = 0.0
            while t <= total + 1e-9:
                desired = scaler.observe(round(platform.clock.now(), 3), {"throughput": metric(app)},
                                         len(app.live_pods()))
                if desired != app.desired:
                    await platform.scale("web", desired)
                await asyncio.sleep(every)
                t += every

        controllers = asyncio.create_task(platform.run_for(total, every=1))
        scaling = asyncio.create_task(autoscale())
        frames = []
        for seconds, rate in ramp:
            start = net.now()
            run = await open_loop(net, "GET http://web.svc/hello", rate=rate, duration=seconds, progress=False)
            frames.append(run.df.assign(due=run.df["due"] + start))
        await controllers
        await scaling
    return AppAutoscalerRun(scaler.history, platform.timeline, pd.concat(frames, ignore_index=True), pol)
