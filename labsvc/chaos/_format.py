"""The experiment file: Chaos Toolkit's format, read and checked before anything runs.

An experiment is a dict (from JSON or YAML) with Chaos Toolkit's keys:

- ``title`` (required), ``description``, ``tags``, ``contributions``;
- ``steady-state-hypothesis``: a ``title`` and ``probes``, each probe with a
  ``tolerance`` saying which values mean "steady";
- ``method``: the actions (and probes) that make the turbulence, in order;
- ``rollbacks``: actions that put the system back as it was;
- ``configuration``: labsvc's settings for the run, under ``labsvc``: the
  measurement windows (``before``, ``during``, ``recovery``);
- ``runtime.rollbacks.strategy``: ``always`` (labsvc's default), ``default``,
  ``deviated`` or ``never``, as in Chaos Toolkit.

An activity is ``{"type": "action" | "probe", "name": ..., "provider": ...,
"pauses": {"before": s, "after": s}}``. Providers are ``python`` (``func`` of
``module``; without ``module``, one of labsvc's built-in actions or probes in
:mod:`labsvc.chaos.activities`) or ``http`` (``url``, ``method``, ``json``,
sent through the network). A file that Chaos Toolkit should accept too
(``chaos validate``) names every module, ``labsvc.chaos.activities`` for the
built-ins, as the capstone's experiments do. Every mistake raises :class:`ExperimentError`
naming the field (``method[1].provider.arguments.targt``) and how to fix it.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from dataclasses import dataclass, field
from numbers import Number
from pathlib import Path
from typing import Any, Callable, Iterable

from labsvc.core.clock import parse_duration
from labsvc.core.errors import ConfigurationError

__all__ = ["ExperimentError", "Experiment", "Activity", "Provider", "load_experiment",
           "ROLLBACK_STRATEGIES", "DEFAULT_WINDOWS", "INJECTED"]

#: Chaos Toolkit's rollback strategies. labsvc's default is ``always``: a lab
#: must leave the system as it found it, even after an activity failed
#: (Chaos Toolkit's own ``default`` skips rollbacks when the run failed).
ROLLBACK_STRATEGIES = ("always", "default", "deviated", "never")

#: How long traffic is measured (seconds): before the method (the steady
#: state), from the start of the method to the second check, and after the
#: rollbacks (evidence of recovery, not part of the verdict).
DEFAULT_WINDOWS = {"before": 1.0, "during": 2.0, "recovery": 0.0}

#: Parameters the runner passes to provider functions by name, never read
#: from ``arguments``: the network, the traffic measured in the current
#: window (a DataFrame), and the value a tolerance probe judges.
INJECTED = ("net", "window", "value")

_TOP_LEVEL = {"version", "title", "description", "tags", "contributions", "configuration", "secrets",
              "extensions", "steady-state-hypothesis", "method", "rollbacks", "runtime"}
_UNSUPPORTED = {"controls": "controls are not supported; run the experiment from a notebook cell instead"}


class ExperimentError(ConfigurationError):
    """An experiment file is malformed; ``field`` says where (``method[0].provider.func``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Provider:
    """What an activity calls: a Python function, or an HTTP request through the network."""

    type: str
    func: Callable[..., Any] | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    method: str = "GET"
    json: Any = None
    timeout: float = 5.0

    def describe(self) -> str:
        if self.type == "http":
            return f"{self.method} {self.url}"
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"{getattr(self.func, '__name__', '?')}({args})"


@dataclass(frozen=True)
class Activity:
    """One step: an action that changes the system, or a probe that measures it."""

    type: str
    name: str
    provider: Provider
    tolerance: Any = None
    pause_before: float = 0.0
    pause_after: float = 0.0
    where: str = ""
    tolerance_provider: Provider | None = None

    @property
    def has_tolerance(self) -> bool:
        return self.tolerance is not None


@dataclass(frozen=True)
class Experiment:
    """A checked experiment, ready for :func:`labsvc.chaos.run_experiment`."""

    title: str
    description: str
    hypothesis_title: str
    hypothesis: tuple[Activity, ...]
    method: tuple[Activity, ...]
    rollbacks: tuple[Activity, ...]
    windows: dict[str, float]
    rollback_strategy: str
    source: dict

    def with_tolerance(self, probe: str, tolerance: Any) -> "Experiment":
        """The same experiment with one hypothesis probe's tolerance replaced (to tighten or loosen it)."""
        names = [p.name for p in self.hypothesis]
        if probe not in names:
            raise ExperimentError("steady-state-hypothesis.probes", f"no probe named {probe!r}; probes: {names}")
        source = json.loads(json.dumps(self.source))
        for raw in source["steady-state-hypothesis"]["probes"]:
            if raw.get("name") == probe:
                raw["tolerance"] = tolerance
        return load_experiment(source)


def load_experiment(spec: dict | str | Path, *, injected: Iterable[str] = ()) -> Experiment:
    """Read and check an experiment from a dict, a JSON or YAML file path, or a JSON/YAML string.

    ``injected`` names extra parameters the runner will pass to provider
    functions by name (the objects given to ``run_experiment(..., extras=)``).
    Raises :class:`ExperimentError` naming the first field that is wrong.
    """
    raw = _read(spec)
    names = set(INJECTED) | set(injected)
    if not isinstance(raw, dict):
        raise ExperimentError("experiment", f"must be a mapping of Chaos Toolkit keys, got {type(raw).__name__}")
    for key in raw:
        if key in _UNSUPPORTED:
            raise ExperimentError(key, _UNSUPPORTED[key])
        if key not in _TOP_LEVEL:
            raise ExperimentError(key, f"unknown key; an experiment has {', '.join(sorted(_TOP_LEVEL))}")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ExperimentError("title", "every experiment needs a title saying what it tests (a non-empty string)")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ExperimentError("description", "must be a string")

    hypo_raw = raw.get("steady-state-hypothesis")
    if not isinstance(hypo_raw, dict):
        raise ExperimentError("steady-state-hypothesis",
                              "missing: give a title and probes with tolerances (what 'steady' means)")
    for key in hypo_raw:
        if key not in ("title", "probes"):
            raise ExperimentError(f"steady-state-hypothesis.{key}", "unknown key; a hypothesis has title and probes")
    hypo_title = hypo_raw.get("title")
    if not isinstance(hypo_title, str) or not hypo_title.strip():
        raise ExperimentError("steady-state-hypothesis.title", "the hypothesis needs a title (a non-empty string)")
    probes = _activities(hypo_raw.get("probes"), "steady-state-hypothesis.probes", names,
                         allowed=("probe",), need_tolerance=True)
    method = _activities(raw.get("method"), "method", names, allowed=("action", "probe"))
    rollbacks = _activities(raw.get("rollbacks", []), "rollbacks", names, allowed=("action",), may_be_empty=True)
    windows = _windows(raw.get("configuration", {}))
    strategy = _strategy(raw.get("runtime", {}))
    return Experiment(title.strip(), description, hypo_title.strip(), probes, method, rollbacks, windows, strategy,
                      json.loads(json.dumps(raw, default=str)))


def _read(spec: dict | str | Path) -> Any:
    if isinstance(spec, dict):
        return spec
    if isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec and spec.endswith((".json", ".yaml", ".yml"))):
        path = Path(spec)
        if not path.is_file():
            raise ExperimentError("experiment", f"no file {str(path)!r}")
        text = path.read_text(encoding="utf-8")
    elif isinstance(spec, str):
        text = spec
    else:
        raise ExperimentError("experiment", f"give a dict, a path or a JSON/YAML string, not {type(spec).__name__}")
    import yaml  # JSON is YAML too, so one parser reads both

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ExperimentError("experiment", f"not valid JSON or YAML ({exc})") from None


def _activities(raw: Any, where: str, injected: set[str], *, allowed: tuple[str, ...], need_tolerance: bool = False,
                may_be_empty: bool = False) -> tuple[Activity, ...]:
    if raw is None or (isinstance(raw, list) and not raw and not may_be_empty):
        raise ExperimentError(where, "missing or empty: list at least one activity")
    if not isinstance(raw, list):
        raise ExperimentError(where, f"must be a list of activities, got {type(raw).__name__}")
    out, seen = [], set()
    for k, item in enumerate(raw):
        at = f"{where}[{k}]"
        if not isinstance(item, dict):
            raise ExperimentError(at, "an activity is a mapping with type, name and provider")
        for key in item:
            if key not in ("type", "name", "provider", "tolerance", "pauses", "background", "ref"):
                raise ExperimentError(f"{at}.{key}", "unknown key; an activity has type, name, provider, tolerance, pauses")
        if "ref" in item or item.get("background"):
            raise ExperimentError(at, "'ref' and 'background' activities are not supported; write the activity out")
        kind = item.get("type")
        if kind not in allowed:
            raise ExperimentError(f"{at}.type", f"{kind!r} is not allowed here; use {' or '.join(map(repr, allowed))}")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ExperimentError(f"{at}.name", "every activity needs a name (a non-empty string)")
        if need_tolerance and name in seen:
            raise ExperimentError(f"{at}.name", f"two probes are named {name!r}; give each its own name")
        seen.add(name)
        provider = _provider(item.get("provider"), f"{at}.provider", kind, injected)
        tolerance = item.get("tolerance")
        if need_tolerance and "tolerance" not in item:
            raise ExperimentError(f"{at}.tolerance", "a hypothesis probe needs a tolerance: the values that mean 'steady'")
        judge = check_tolerance(tolerance, f"{at}.tolerance", injected) if "tolerance" in item else None
        before, after = _pauses(item.get("pauses", {}), f"{at}.pauses")
        out.append(Activity(kind, name.strip(), provider, tolerance, before, after, at, judge))
    return tuple(out)


def _provider(raw: Any, at: str, kind: str, injected: set[str]) -> Provider:
    if not isinstance(raw, dict):
        raise ExperimentError(at, "missing: say what to call, e.g. {type: python, func: crash, arguments: {target: ...}}")
    ptype = raw.get("type")
    if ptype == "http":
        for key in raw:
            if key not in ("type", "url", "method", "json", "timeout"):
                raise ExperimentError(f"{at}.{key}", "unknown key; an http provider has url, method, json, timeout")
        url = raw.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ExperimentError(f"{at}.url", f"{url!r} is not an absolute URL such as 'http://catalog.svc/health'")
        method = raw.get("method", "GET")
        if not isinstance(method, str) or method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            raise ExperimentError(f"{at}.method", f"{method!r} is not an HTTP method")
        timeout = raw.get("timeout", 5.0)
        if isinstance(timeout, bool) or not isinstance(timeout, Number) or timeout <= 0:
            raise ExperimentError(f"{at}.timeout", f"{timeout!r} must be a positive number of seconds")
        return Provider("http", url=url, method=method.upper(), json=raw.get("json"), timeout=float(timeout))
    if ptype != "python":
        raise ExperimentError(f"{at}.type", f"{ptype!r} is not a provider type; use 'python' or 'http'")
    for key in raw:
        if key not in ("type", "module", "func", "arguments"):
            raise ExperimentError(f"{at}.{key}", "unknown key; a python provider has module, func, arguments")
    func = _function(raw.get("module"), raw.get("func"), at, kind)
    arguments = raw.get("arguments", {})
    if not isinstance(arguments, dict):
        raise ExperimentError(f"{at}.arguments", "must be a mapping of parameter names to values")
    _check_arguments(func, arguments, at, injected)
    return Provider("python", func=func, arguments=dict(arguments))


def _function(module: Any, name: Any, at: str, kind: str) -> Callable[..., Any]:
    from labsvc.chaos import activities

    if not isinstance(name, str) or not name:
        raise ExperimentError(f"{at}.func", "missing: the name of the function to call")
    if module is None:
        table = activities.ACTIONS if kind == "action" else activities.PROBES
        if name not in table:
            raise ExperimentError(f"{at}.func", f"{name!r} is not a built-in {kind}; built-in {kind}s: "
                                                f"{', '.join(sorted(table))} (or give a module)")
        return table[name]
    if not isinstance(module, str):
        raise ExperimentError(f"{at}.module", "must be a module name such as 'labsvc.chaos.activities'")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise ExperimentError(f"{at}.module", f"cannot import {module!r} ({exc})") from None
    func = getattr(mod, name, None)
    if not callable(func):
        raise ExperimentError(f"{at}.func", f"module {module!r} has no function {name!r}")
    return func


def _check_arguments(func: Callable[..., Any], arguments: dict, at: str, injected: set[str]) -> None:
    params = inspect.signature(func).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    accepted = [n for n, p in params.items() if n not in injected and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for name in arguments:
        if name in injected:
            raise ExperimentError(f"{at}.arguments.{name}", f"{name!r} is passed by the runner; leave it out")
        if name not in params and not takes_any:
            raise ExperimentError(f"{at}.arguments.{name}",
                                  f"{func.__name__}() has no parameter {name!r}; it takes {', '.join(accepted) or 'none'}")
    for name, p in params.items():
        if (name not in injected and name not in arguments and p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)):
            raise ExperimentError(f"{at}.arguments", f"{func.__name__}() needs {name!r}; add it under arguments")


def check_tolerance(tolerance: Any, at: str, injected: set[str] | None = None) -> Provider | None:
    """Raise :class:`ExperimentError` unless ``tolerance`` is one Chaos Toolkit accepts.

    Returns the provider of a ``probe`` tolerance (the function that judges), else None.
    """
    if tolerance is None:
        raise ExperimentError(at, "null matches nothing; give a value, [low, high], or a mapping with a type")
    if isinstance(tolerance, (bool, str, Number)):
        return None
    if isinstance(tolerance, list):
        if len(tolerance) == 2 and all(isinstance(v, Number) and not isinstance(v, bool) for v in tolerance):
            if tolerance[0] > tolerance[1]:
                raise ExperimentError(at, f"range {tolerance} runs backwards; write [low, high]")
        elif not tolerance:
            raise ExperimentError(at, "an empty list matches nothing; give [low, high] or the allowed values")
        return None
    if isinstance(tolerance, dict):
        kind = tolerance.get("type")
        if kind == "range":
            rng = tolerance.get("range")
            if (not isinstance(rng, list) or len(rng) != 2
                    or not all(isinstance(v, Number) and not isinstance(v, bool) for v in rng)):
                raise ExperimentError(f"{at}.range", "a range tolerance needs range: [low, high] (two numbers)")
            if rng[0] > rng[1]:
                raise ExperimentError(f"{at}.range", f"range {rng} runs backwards; write [low, high]")
            return None
        if kind == "regex":
            try:
                re.compile(tolerance.get("pattern"))
            except (TypeError, re.error) as exc:
                raise ExperimentError(f"{at}.pattern", f"not a usable regular expression ({exc})") from None
            return None
        if kind == "probe":
            return _provider(tolerance.get("provider"), f"{at}.provider", "probe", (injected or set(INJECTED)))
        if kind == "jsonpath":
            raise ExperimentError(f"{at}.type", "jsonpath tolerances are not supported; use a probe tolerance")
        raise ExperimentError(f"{at}.type", f"{kind!r} is not a tolerance type; use range, regex or probe")
    raise ExperimentError(at, f"a tolerance is a value, [low, high], or a mapping with a type; got {type(tolerance).__name__}")


def _pauses(raw: Any, at: str) -> tuple[float, float]:
    if not isinstance(raw, dict):
        raise ExperimentError(at, "pauses is a mapping {before: seconds, after: seconds}")
    out = []
    for key in raw:
        if key not in ("before", "after"):
            raise ExperimentError(f"{at}.{key}", "unknown key; pauses has before and after")
    for key in ("before", "after"):
        out.append(_seconds(raw.get(key, 0), f"{at}.{key}"))
    return out[0], out[1]


def _seconds(value: Any, at: str) -> float:
    if isinstance(value, bool):
        raise ExperimentError(at, f"{value!r} is not a duration; write seconds (1.5) or '1500ms'")
    try:
        seconds = parse_duration(value, name=at)
    except (TypeError, ValueError) as exc:
        raise ExperimentError(at, f"{value!r} is not a duration ({exc})") from None
    if seconds < 0:
        raise ExperimentError(at, f"{value!r} is negative; a duration is zero or more")
    return seconds


def _windows(configuration: Any) -> dict[str, float]:
    if not isinstance(configuration, dict):
        raise ExperimentError("configuration", "must be a mapping")
    labsvc_conf = configuration.get("labsvc", {})
    if not isinstance(labsvc_conf, dict):
        raise ExperimentError("configuration.labsvc", "must be a mapping such as {windows: {before: 1, during: 2}}")
    for key in labsvc_conf:
        if key != "windows":
            raise ExperimentError(f"configuration.labsvc.{key}", "unknown key; labsvc's configuration has windows")
    raw = labsvc_conf.get("windows", {})
    if not isinstance(raw, dict):
        raise ExperimentError("configuration.labsvc.windows", "must be a mapping {before:, during:, recovery:}")
    windows = dict(DEFAULT_WINDOWS)
    for key, value in raw.items():
        if key not in DEFAULT_WINDOWS:
            raise ExperimentError(f"configuration.labsvc.windows.{key}",
                                  f"unknown window; the windows are {', '.join(DEFAULT_WINDOWS)}")
        windows[key] = _seconds(value, f"configuration.labsvc.windows.{key}")
    return windows


def _strategy(runtime: Any) -> str:
    if not isinstance(runtime, dict):
        raise ExperimentError("runtime", "must be a mapping such as {rollbacks: {strategy: always}}")
    rollbacks = runtime.get("rollbacks", {})
    if not isinstance(rollbacks, dict):
        raise ExperimentError("runtime.rollbacks", "must be a mapping such as {strategy: always}")
    strategy = rollbacks.get("strategy", "always")
    if strategy not in ROLLBACK_STRATEGIES:
        raise ExperimentError("runtime.rollbacks.strategy",
                              f"{strategy!r} is not a strategy; use one of {', '.join(ROLLBACK_STRATEGIES)}")
    return strategy
