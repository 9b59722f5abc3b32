"""Where configuration lives: property sources keyed by application, profile and label.

A config server keeps configuration outside the services, in named
**property sources** (in Spring Cloud Config: files in a git repository):

- ``application`` holds what every service shares;
- ``application-{profile}`` what every service shares in one profile (``prod``, ``eu``...);
- ``{app}`` and ``{app}-{profile}`` what one service (one application name) sets;

and a **label** names a version of the whole set (a git branch or tag:
``main``, ``release-2``), so a service can be pinned to one.

The precedence (:func:`precedence`), highest first, for application ``app``
and profiles ``p1, p2``::

    app-p2, application-p2, app-p1, application-p1, app, application

This is the order Spring Cloud Config's server returns its property sources
in (it loads them as a Spring Boot application would, with ``spring.config.name``
set to ``application,app``): a profile-specific source beats every plain
one, whoever owns it, so ``application-prod`` beats ``greeting``; of two
sources for the same profile the application's own wins; and of two
profiles the later one wins ("the last one wins, like adding entries to a
map"). With no profile the profile is ``default``.

Nested mappings are flattened to dotted keys (``{"greeting": {"message": "hi"}}``
is ``greeting.message``). Every change bumps the label's **version**
(like a commit), which the server reports and clients compare.

>>> repo = ConfigRepository()
>>> _ = repo.put("application", {"greeting": {"message": "hello", "punctuation": "."}})
>>> _ = repo.put("greeting-prod", {"greeting.message": "good day"})
>>> resolve(repo.environment("greeting", ["prod"]))["greeting.message"]
'good day'
>>> resolve(repo.environment("greeting", ["dev"]))["greeting.message"]
'hello'
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from labsvc.core.errors import ConfigurationError

__all__ = ["ConfigRepository", "precedence", "resolve", "flatten", "DEFAULT_LABEL", "DEFAULT_PROFILE",
           "SHARED_APPLICATION"]

DEFAULT_LABEL = "main"
DEFAULT_PROFILE = "default"
SHARED_APPLICATION = "application"
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _profiles(profiles: str | Iterable[str] | None) -> list[str]:
    if profiles is None:
        return [DEFAULT_PROFILE]
    items = [p.strip() for p in profiles.split(",")] if isinstance(profiles, str) else [str(p).strip() for p in profiles]
    items = [p for p in items if p]
    for p in items:
        if not _NAME.match(p):
            raise ConfigurationError(f"profile {p!r} must be lower-case letters, digits and hyphens, e.g. 'prod'")
    return items or [DEFAULT_PROFILE]


def precedence(application: str, profiles: str | Iterable[str] | None = None) -> list[str]:
    """The property source names for ``application`` and ``profiles``, highest precedence first.

    >>> precedence("greeting", "dev,eu")
    ['greeting-eu', 'application-eu', 'greeting-dev', 'application-dev', 'greeting', 'application']
    """
    if not isinstance(application, str) or not _NAME.match(application):
        raise ConfigurationError(f"application {application!r} must be a service name such as 'greeting'")
    owners = list(dict.fromkeys([application, SHARED_APPLICATION]))
    names: list[str] = []
    for profile in reversed(_profiles(profiles)):   # the later profile first
        names += [f"{owner}-{profile}" for owner in owners]
    names += owners
    return names


def flatten(properties: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys.

    >>> flatten({"greeting": {"message": "hi", "style": {"bold": True}}})
    {'greeting.message': 'hi', 'greeting.style.bold': True}
    """
    if not isinstance(properties, Mapping):
        raise ConfigurationError(f"properties must be a mapping of names to values, got {type(properties).__name__}")
    out: dict[str, Any] = {}
    for key, value in properties.items():
        if not isinstance(key, str) or not key:
            raise ConfigurationError(f"property names are non-empty strings, got {key!r}")
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            out.update(flatten(value, name))
        else:
            out[name] = copy.deepcopy(value)
    return out


def resolve(environment: Mapping[str, Any]) -> dict[str, Any]:
    """One value per key from an environment document: the first (highest) source that has it wins."""
    merged: dict[str, Any] = {}
    for source in reversed(environment.get("propertySources", [])):
        merged.update(source["source"])
    return merged


class ConfigRepository:
    """Property sources per label, with a version per label that every change bumps.

    ``put(name, properties, label=...)`` replaces one source (as a commit
    would replace a file); ``environment(app, profiles, label)`` is the
    document the config server answers with.
    """

    def __init__(self, default_label: str = DEFAULT_LABEL) -> None:
        self.default_label = self._label(default_label)
        self._labels: dict[str, dict[str, dict[str, Any]]] = {self.default_label: {}}
        self._versions: dict[str, int] = {self.default_label: 0}
        self._history: list[dict[str, Any]] = []

    @staticmethod
    def _label(label: str) -> str:
        if not isinstance(label, str) or not _LABEL.match(label):
            raise ConfigurationError(f"label {label!r} must be a branch or tag name such as 'main' or 'release-2'")
        return label

    def put(self, name: str, properties: Mapping[str, Any], *, label: str | None = None) -> int:
        """Replace property source ``name`` under ``label``; returns the label's new version."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigurationError(f"source name {name!r} must look like 'application', 'greeting' or 'greeting-prod'")
        label = self._label(label or self.default_label)
        flat = flatten(properties)
        self._labels.setdefault(label, {})[name] = flat
        self._versions[label] = self._versions.get(label, 0) + 1
        self._history.append({"label": label, "version": self._versions[label], "source": name,
                              "keys": sorted(flat)})
        return self._versions[label]

    def set(self, name: str, key: str, value: Any, *, label: str | None = None) -> int:
        """Change one property of source ``name`` (creating the source if needed)."""
        current = dict(self._labels.get(label or self.default_label, {}).get(name, {}))
        current[key] = value
        return self.put(name, current, label=label)

    def delete(self, name: str, *, label: str | None = None) -> int:
        """Remove source ``name`` under ``label``; returns the new version."""
        label = self._label(label or self.default_label)
        if name not in self._labels.get(label, {}):
            raise ConfigurationError(f"label {label!r} has no source {name!r}; it has {self.sources(label)}")
        del self._labels[label][name]
        self._versions[label] += 1
        self._history.append({"label": label, "version": self._versions[label], "source": name, "keys": []})
        return self._versions[label]

    def labels(self) -> list[str]:
        return sorted(self._labels)

    def sources(self, label: str | None = None) -> list[str]:
        return sorted(self._labels.get(label or self.default_label, {}))

    def source(self, name: str, *, label: str | None = None) -> dict[str, Any]:
        """A copy of source ``name`` under ``label`` (empty if there is none yet)."""
        label = self._label(label or self.default_label)
        return copy.deepcopy(self._labels.get(label, {}).get(name, {}))

    def version(self, label: str | None = None) -> int:
        return self._versions.get(label or self.default_label, 0)

    def environment(self, application: str, profiles: str | Iterable[str] | None = None,
                    label: str | None = None) -> dict[str, Any]:
        """The Spring-Cloud-Config-like document: matching sources, highest precedence first."""
        label = self._label(label or self.default_label)
        if label not in self._labels:
            raise ConfigurationError(f"no label {label!r}; labels are {self.labels()}")
        found = self._labels[label]
        names = precedence(application, profiles)
        return {
            "name": application,
            "profiles": _profiles(profiles),
            "label": label,
            "version": str(self._versions[label]),
            "propertySources": [{"name": f"{label}:{n}", "source": copy.deepcopy(found[n])} for n in names if n in found],
        }

    @property
    def history(self) -> pd.DataFrame:
        """Every change: label, version, source, keys."""
        return pd.DataFrame(self._history, columns=["label", "version", "source", "keys"])

    def __repr__(self) -> str:
        return f"ConfigRepository(labels={self.labels()}, versions={self._versions})"
