"""Cloud Foundry's side of deploying an app: the ``manifest.yml``, crash restarts, health-check types.

Three pieces, each checked against the Cloud Foundry documentation:

- :func:`cf_manifest` writes the ``manifest.yml`` that ``cf push`` reads
  for the apps notebook 13 pushes (docs, "App Manifest Attribute
  Reference": ``name``, ``instances``, ``memory``, ``routes``,
  ``health-check-type``, ``health-check-http-endpoint``, ``timeout``,
  ``env``); :func:`validate_cf_manifest` refuses a wrong one with a message
  naming the app and the field.
- :func:`restart_timeline` runs one instance that crashes ``crash_after``
  seconds after every start under a restart back-off
  (:class:`~labsvc.platform.CloudFoundryBackOff` or
  :class:`~labsvc.platform.CrashLoopBackOff`) on a fake clock: each crash,
  the state it leaves (``CRASHED``), the wait, the restart (``STARTING``,
  then ``RUNNING``), and for Cloud Foundry the crash after the 200th
  restart, which is never restarted (docs, "The app container lifecycle on
  the Diego architecture", crash events).
- :func:`health_check_experiment` pushes an app with each health-check type
  (docs, "Using Cloud Foundry health checks": ``process`` watches the
  process, ``port`` opens a TCP connection, ``http`` wants a 200 from the
  endpoint) and injects one failure each run, on the network's simulated
  clock: which type notices, and when the instance is restarted.

>>> from labsvc.platform import CloudFoundryBackOff
>>> restart_timeline(CloudFoundryBackOff, crashes=5)["wait"].tolist()
[0.0, 0.0, 0.0, 30.0, 60.0]
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pandas as pd
import yaml

from labsvc.core.clock import FakeClock
from labsvc.core.network import Network
from labsvc.core.problems import Problem
from labsvc.core.service import Request, create_service, instance_name
from labsvc.core.simtime import experiment
from labsvc.platform._backoff import CloudFoundryBackOff, RestartBackOff
from labsvc.platform._controller import Platform
from labsvc.platform._manifest import _ENV_NAME, _NAME, _ROUTE, _SIZE, HEALTH_CHECK_TYPES, AppManifest, ManifestError

__all__ = ["cf_manifest", "validate_cf_manifest", "restart_timeline", "health_check_experiment", "HealthCheckRun",
           "FAILURES", "CF_APP_KEYS", "flaky_web"]

#: The application attributes :func:`validate_cf_manifest` knows (a subset of the App Manifest Attribute Reference).
CF_APP_KEYS = ("name", "instances", "memory", "disk_quota", "routes", "health-check-type",
               "health-check-http-endpoint", "health-check-interval", "health-check-invocation-timeout", "timeout",
               "env", "command", "path", "buildpacks", "readiness-health-check-type",
               "readiness-health-check-http-endpoint", "readiness-health-check-interval")


# ---------------------------------------------------------------------------- the manifest
def _app_entry(m: AppManifest) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": m.name, "instances": m.instances, "memory": m.memory,
                             "routes": [{"route": r} for r in m.routes], "health-check-type": m.health_check_type}
    if m.health_check_type == "http":
        entry["health-check-http-endpoint"] = m.health_check_http_endpoint
    if m.health_check_interval is not None:
        entry["health-check-interval"] = int(m.health_check_interval)
    entry["timeout"] = m.timeout
    if m.env:
        entry["env"] = dict(m.env)
    return entry


def cf_manifest(spec: AppManifest | Mapping[str, Any] | list) -> str:
    """The ``manifest.yml`` text ``cf push`` reads for one app or a list of apps.

    ``spec`` is what :meth:`~labsvc.platform.Platform.push` takes (an
    :class:`~labsvc.platform.AppManifest` or its dict), or a list of them.
    The ``http`` health check gets its endpoint; the others do not (the
    endpoint only applies to ``http``). The text is validated before it is
    returned.
    """
    specs = spec if isinstance(spec, list) else [spec]
    if not specs:
        raise ManifestError("cf_manifest: give at least one app, e.g. {'name': 'web', 'app': ...}")
    apps = [_app_entry(s if isinstance(s, AppManifest) else AppManifest.from_dict(s)) for s in specs]
    text = yaml.safe_dump({"applications": apps}, sort_keys=False)
    validate_cf_manifest(text)
    return text


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_app(i: int, app: Any) -> None:
    if not isinstance(app, Mapping):
        raise ManifestError(f"applications[{i}]: an application is a mapping with a 'name', got {type(app).__name__}")
    name = app.get("name")
    where = f"applications[{i}] ({name!r})"
    if not isinstance(name, str) or not _NAME.match(name):
        raise ManifestError(f"{where}: 'name' is required: lower-case letters, digits and hyphens, e.g. 'catalog'")
    unknown = sorted(set(app) - set(CF_APP_KEYS))
    if unknown:
        raise ManifestError(f"{where}: unknown attribute(s) {unknown}; known: {list(CF_APP_KEYS)}")
    if "instances" in app and (not _is_int(app["instances"]) or app["instances"] < 0):
        raise ManifestError(f"{where}: instances={app['instances']!r} must be a whole number >= 0")
    for key in ("memory", "disk_quota"):
        if key in app and not (isinstance(app[key], str) and _SIZE.match(app[key])):
            raise ManifestError(f"{where}: {key}={app[key]!r} needs a unit, e.g. '256M' or '1G'")
    routes = app.get("routes", [])
    if not isinstance(routes, list) or not all(isinstance(r, Mapping) and set(r) == {"route"} for r in routes):
        raise ManifestError(f"{where}: routes is a list like [{{'route': 'web.example.com'}}]")
    for r in routes:
        if not isinstance(r["route"], str) or not _ROUTE.match(r["route"]):
            raise ManifestError(f"{where}: {r['route']!r} is not a route; use a host name, e.g. 'web.example.com'")
    kind = app.get("health-check-type", "port")
    if kind not in HEALTH_CHECK_TYPES:
        raise ManifestError(f"{where}: health-check-type={kind!r} is not one of {list(HEALTH_CHECK_TYPES)}")
    endpoint = app.get("health-check-http-endpoint")
    if kind == "http" and endpoint is None:
        raise ManifestError(f"{where}: health-check-type 'http' without health-check-http-endpoint; name the "
                            f"endpoint that answers 200 when the app is healthy, e.g. '/health'")
    if kind != "http" and endpoint is not None:
        raise ManifestError(f"{where}: health-check-http-endpoint only applies to health-check-type 'http' "
                            f"(this app uses {kind!r}); remove it or set the type to 'http'")
    if endpoint is not None and not (isinstance(endpoint, str) and endpoint.startswith("/")):
        raise ManifestError(f"{where}: health-check-http-endpoint={endpoint!r} must be a path starting with '/'")
    for key in ("timeout", "health-check-interval", "health-check-invocation-timeout"):
        if key in app and (not _is_int(app[key]) or app[key] < 1):
            raise ManifestError(f"{where}: {key}={app[key]!r} is a whole number of seconds >= 1")
    env = app.get("env", {})
    if not isinstance(env, Mapping):
        raise ManifestError(f"{where}: env is a mapping of variable name to value")
    for k, v in env.items():
        if not isinstance(k, str) or not _ENV_NAME.match(k):
            raise ManifestError(f"{where}: env: {k!r} is not a variable name (letters, digits, '_')")
        if not isinstance(v, (str, int, float, bool)):
            raise ManifestError(f"{where}: env.{k}={v!r} must be a string or a number")


def validate_cf_manifest(manifest: str | Mapping[str, Any]) -> str:
    """Check a ``manifest.yml`` (text or parsed); return ``"valid"`` or raise :class:`ManifestError`.

    The message names the application and the attribute: an unknown
    attribute, a health-check type other than ``port``, ``process`` or
    ``http``, ``http`` without its endpoint, an endpoint on another type,
    a size without a unit, a route that is not a host name, ...
    """
    doc = yaml.safe_load(manifest) if isinstance(manifest, str) else manifest
    if not isinstance(doc, Mapping) or not isinstance(doc.get("applications"), list) or not doc["applications"]:
        raise ManifestError("a manifest.yml has a non-empty 'applications' list, e.g. 'applications: [{name: web}]'")
    names = [a.get("name") for a in doc["applications"] if isinstance(a, Mapping)]
    for i, app in enumerate(doc["applications"]):
        _check_app(i, app)
    if len(set(names)) != len(names):
        raise ManifestError(f"applications: each name once, got {names}")
    return "valid"


# ---------------------------------------------------------------------------- crash restarts
def restart_timeline(backoff: Callable[..., RestartBackOff], *, crashes: int = 12,
                     crash_after: float = 0.0, start_time: float = 0.0) -> pd.DataFrame:
    """Each crash of an instance that dies ``crash_after`` s after every start, under ``backoff``.

    The instance starts at 0 and takes ``start_time`` seconds to run. One
    row per crash: its time, the wait the back-off asks for, when the
    instance is ``STARTING`` again and ``RUNNING``; after a back-off gives
    up (``None``), ``state`` stays ``CRASHED`` and the restart columns are
    empty. Exact: a fake clock, no network.
    """
    if crashes < 1 or crash_after < 0 or start_time < 0:
        raise ValueError(f"crashes={crashes!r}, crash_after={crash_after!r}, start_time={start_time!r}: need "
                         f"crashes >= 1 and times >= 0")
    clock = FakeClock()
    b = backoff(clock=clock)
    clock.advance(start_time)
    b.started()
    rows = []
    for k in range(1, crashes + 1):
        clock.advance(crash_after)
        crashed = clock.now()
        wait = b.next_delay()
        if wait is None:
            rows.append({"crash": k, "crashed_at": crashed, "wait": float("nan"), "starting_at": float("nan"),
                         "running_at": float("nan"), "state": "CRASHED (given up)"})
            break
        clock.advance(wait)
        starting = clock.now()
        clock.advance(start_time)
        b.started()
        rows.append({"crash": k, "crashed_at": crashed, "wait": float(wait), "starting_at": starting,
                     "running_at": clock.now(), "state": "RUNNING"})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- health-check types
FAULT_HANG = 3600.0   # seconds a hung health endpoint takes to answer (longer than any run)

#: The failures :func:`health_check_experiment` injects, and what each does to the instance.
FAILURES = {
    "process exits": "the process dies (a crash)",
    "endpoint hangs": "the process lives and accepts connections, but /status never answers",
    "endpoint answers 500": "the process lives and accepts connections, /status answers 500",
}


def flaky_web():
    """An app whose ``GET /status`` can be made to hang or fail: ``POST /fault/hang`` or ``POST /fault/fail``.

    ``GET /hello`` keeps answering either way. A restarted instance starts
    healthy (a fresh app).
    """
    app = create_service("web")
    app.state.fault = None

    @app.post("/fault/{kind}")
    async def fault(kind: str):
        if kind not in ("hang", "fail"):
            raise Problem(400, "Unknown fault", detail=f"{kind!r}: use 'hang' or 'fail'")
        app.state.fault = kind
        return {"fault": kind}

    @app.get("/status")
    async def status(request: Request):
        if app.state.fault == "hang":
            await asyncio.sleep(FAULT_HANG)
        if app.state.fault == "fail":
            raise Problem(500, "Unhealthy", detail="the database this instance needs is unreachable")
        return {"status": "UP", "instance": instance_name(request)}

    @app.get("/hello")
    async def hello(request: Request):
        return {"instance": instance_name(request)}

    return app


@dataclass
class HealthCheckRun:
    """One health-check type against each failure: what the platform did."""

    summary: pd.DataFrame   # per (type, failure): detected, when, restarted
    events: pd.DataFrame    # the platforms' events of every run
    fail_at: float
    seconds: float
    interval: float


@experiment
async def health_check_experiment(*, interval: float = 10.0, fail_at: float = 10.0, seconds: float = 90.0,
                                  seed: int = 13) -> HealthCheckRun:
    """Each health-check type against each failure in :data:`FAILURES`, one run each, on simulated time.

    ``web`` (:func:`flaky_web`, one instance) is pushed with the type, the
    endpoint ``/status`` for ``http``, a check every ``interval`` seconds and
    a 1 s invocation timeout, under Cloud Foundry's restart back-off. The
    failure is injected at ``fail_at``; the controllers run once a second
    for ``seconds``.
    """
    rows, events = [], []
    for kind in HEALTH_CHECK_TYPES:
        for failure in FAILURES:
            net = Network(seed=seed, name=f"nb13-cf-hc-{kind}-{failure.split()[-1]}")
            platform = Platform(net, seed=seed, backoff=CloudFoundryBackOff)
            manifest = {"name": "web", "app": "labsvc.platform._cf:flaky_web", "instances": 1,
                        "health-check-type": kind, "health-check-interval": interval,
                        "health-check-invocation-timeout": 1}
            if kind == "http":
                manifest["health-check-http-endpoint"] = "/status"
            async with net:
                await platform.push(manifest)
                client = net.client()
                for t in range(int(seconds)):
                    if t == fail_at:
                        if failure == "process exits":
                            await net.crash("web-1")
                        else:
                            await client.post(net.instance("web-1").url + "/fault/"
                                              + ("hang" if failure == "endpoint hangs" else "fail"))
                    await platform.tick()
                    await asyncio.sleep(1)
                ev = platform.events.assign(check=kind, failure=failure)
            events.append(ev)
            seen = ev[(ev.time >= fail_at) & ev.reason.isin(["Killing", "BackOff"])]
            back = ev[(ev.time >= fail_at) & (ev.reason == "Restarted")]
            rows.append({"health_check": kind, "failure": failure, "detected": not seen.empty,
                         "detected_after": float(seen.time.min() - fail_at) if not seen.empty else float("nan"),
                         "restarted": not back.empty})
    return HealthCheckRun(pd.DataFrame(rows), pd.concat(events, ignore_index=True), fail_at, seconds, interval)
