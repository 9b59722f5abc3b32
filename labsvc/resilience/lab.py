"""Resilience patterns under real failures on the network (notebook 10).

Four experiments, each on a network of its own, each returning DataFrames:

- :func:`breaker_experiment`: ``web`` calls ``reviews``, which hangs for a
  while. With a :class:`~labsvc.resilience.CircuitBreaker` (plus a timeout
  and a fallback) the breaker opens, requests fail fast with a degraded
  answer, trial calls probe the dependency, and it closes once reviews is
  back; the events give the state timeline. :func:`half_open_trial` replays
  one half-open trial call by call: the trial calls are judged together.
- :func:`failover_experiment`: one of three ``inventory`` instances dies.
  Plain round robin keeps sending it a third of the calls;
  :class:`BreakerBalancer` (a circuit breaker per instance, consulted by the
  balancer) routes around it; a retry on another instance hides the few
  calls that still hit it.
- :func:`retry_storm`: ``users -> a -> b -> c`` with ``c`` failing. Naive
  retries at every layer multiply the calls reaching ``c`` (3 attempts per
  layer: 3 x 3 x 3 = 27 per user request); a retry budget holds them near
  1.1x. Counted from the call log. :func:`budget_floor` shows what a
  budget's floor of retries per second does at low traffic.
- :func:`fanout_experiment` and :func:`fanout_model`: a request that waits
  for N backends is as slow as the slowest; with a rare slow answer per
  backend, the p99 of the whole request grows with N.
"""

from __future__ import annotations

# The experiments live in one module each and their plots in
# labsvc.resilience.plots; this module keeps the names notebook 10 and
# ``labsvc.experiments`` import from it.
from labsvc.resilience._lab_breaker import BreakerResult, HalfOpenTrial, breaker_experiment, half_open_trial
from labsvc.resilience._lab_failover import (
    FAILOVER_STRATEGIES,
    AllBreakersOpen,
    BreakerBalancer,
    FailoverResult,
    compare_failover,
    failover_experiment,
    failover_summary,
)
from labsvc.resilience._lab_fanout import TailLatency, fanout_experiment, fanout_model
from labsvc.resilience._lab_retry_storm import (
    BUDGETS,
    RETRY_POLICIES,
    StormResult,
    amplification,
    budget_floor,
    compare_retry_policies,
    retry_storm,
)
from labsvc.resilience.plots import plot_breaker, plot_failover, plot_fanout, plot_retry_storm

# Not in __all__, but importable from here before the split:
from labsvc.resilience._lab_breaker import BREAKER_SETTINGS  # noqa: F401
from labsvc.resilience._lab_failover import FAILOVER_BREAKER  # noqa: F401
from labsvc.resilience._lab_retry_storm import LAYERS  # noqa: F401

__all__ = [
    "AllBreakersOpen",
    "BreakerBalancer",
    "BreakerResult",
    "breaker_experiment",
    "plot_breaker",
    "HalfOpenTrial",
    "half_open_trial",
    "FAILOVER_STRATEGIES",
    "FailoverResult",
    "failover_experiment",
    "compare_failover",
    "failover_summary",
    "plot_failover",
    "RETRY_POLICIES",
    "StormResult",
    "retry_storm",
    "compare_retry_policies",
    "amplification",
    "plot_retry_storm",
    "BUDGETS",
    "budget_floor",
    "TailLatency",
    "fanout_model",
    "fanout_experiment",
    "plot_fanout",
]
