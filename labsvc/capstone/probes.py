"""The capstone's steady-state probes: what users saw, in the notebook and against the system running for real.

Each probe measures one user journey (``browse``, ``checkout``, ``history``):

- in the notebook, :func:`labsvc.chaos.run_experiment` passes ``window``,
  the users' traffic of the window being checked, and the probe computes its
  value from it (the same as :mod:`labsvc.chaos.activities`);
- under ``chaos run`` against the exported system (Docker Compose, a
  cluster), there is no window: the probe sends its own sample, ``samples``
  requests of that journey one after another through the gateway whose URL
  is the experiment's configuration value ``labsvc_gateway_url`` (the
  capstone's files read it from the ``LABSVC_GATEWAY_URL`` variable), each
  request the one a user of that journey sends and judged the same way
  (:func:`labsvc.capstone._system.user_was_served`: a checkout must end in a
  decision, not in an outage).

So one hypothesis is checked in both worlds, and a learner can take an
experiment file from the notebook to a real system with ``chaos run``.
Chaos Toolkit calls these functions synchronously, with the resolved
``configuration``; the notebook's runner calls them with ``window``.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pandas as pd

from labsvc.chaos import activities
from labsvc.core.errors import ConfigurationError

__all__ = ["availability", "latency_ms", "sample", "GATEWAY_KEY"]

#: The configuration key (and, in the capstone's files, the variable LABSVC_GATEWAY_URL) naming the gateway.
GATEWAY_KEY = "labsvc_gateway_url"
_SLOTS = {"browse": range(0, 7), "checkout": range(7, 9), "history": range(9, 10)}


def sample(gateway_url: str, journey: str, samples: int = 10, timeout: float = 2.0) -> pd.DataFrame:
    """Send ``samples`` user requests of ``journey`` through the gateway at ``gateway_url``; one row each.

    The rows have the columns of the runner's traffic (``label``, ``latency``
    in seconds, ``status``, ``ok``). Requests go one after another, each
    bounded by ``timeout``.
    """
    from labsvc.capstone._system import _user_request, user_was_served
    from labsvc.core.service import DirectHop, standalone_client

    if journey not in _SLOTS:
        raise ConfigurationError(f"journey={journey!r}; the capstone's journeys are {sorted(_SLOTS)}")
    if not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples <= 200:
        raise ConfigurationError(f"samples={samples!r} must be a whole number from 1 to 200")
    if not str(gateway_url).startswith(("http://", "https://")):
        raise ConfigurationError(f"{GATEWAY_KEY}={gateway_url!r} is not a URL such as 'http://127.0.0.1:8080'")
    slots = list(_SLOTS[journey])
    numbers = [10 * (k // len(slots)) + slots[k % len(slots)] for k in range(samples)]

    async def run() -> list[tuple]:
        hop = DirectHop({"LABSVC_URL_GATEWAY": gateway_url})
        client = standalone_client("chaos-probe", timeout=timeout, hop=hop)
        rows = []
        try:
            for i in numbers:
                t = time.monotonic()
                status, error, ok = 0, "", False
                try:
                    response = await _user_request(client, i)
                    status, ok = response.status_code, bool(user_was_served(i, response))
                except Exception as exc:  # an outage the users would see: counted, not raised
                    error = type(exc).__name__
                rows.append((i, journey, 0.0, time.monotonic() - t, status, error, ok))
        finally:
            await hop.aclose()
        return rows

    return pd.DataFrame(asyncio.run(run()), columns=["i", "label", "sent", "latency", "status", "error", "ok"])


def _window(window: Any, journey: str | None, configuration: dict | None, samples: int) -> pd.DataFrame:
    if window is not None:
        return window
    url = (configuration or {}).get(GATEWAY_KEY)
    if not url:
        raise ConfigurationError(
            f"no traffic to measure: in a notebook run this with labsvc.chaos.run_experiment; under chaos run, "
            f"give the gateway's URL as the configuration value {GATEWAY_KEY!r} "
            f"(the capstone's files read it from LABSVC_GATEWAY_URL)")
    if journey is None:
        raise ConfigurationError("against a real system, say which journey to sample: browse, checkout or history")
    return sample(url, journey, samples)


def availability(window: pd.DataFrame | None = None, journey: str | None = None, configuration: dict | None = None,
                 samples: int = 10) -> float:
    """Share of the journey's requests whose user was served (the window's, or a sample's through the gateway)."""
    rows = _window(window, journey, configuration, samples)
    if window is None:
        return float(rows["ok"].mean()) if len(rows) else math.nan
    return activities.availability(rows, journey)


def latency_ms(window: pd.DataFrame | None = None, percentile: float = 95, journey: str | None = None,
               configuration: dict | None = None, samples: int = 10) -> float:
    """The ``percentile``-th latency (ms) of the journey's requests (the window's, or a sample's)."""
    rows = _window(window, journey, configuration, samples)
    return activities.latency_ms(rows, percentile, journey)
