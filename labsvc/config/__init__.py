"""Configuration management: a config server, and services that change configuration without a restart.

The idea of Spring Cloud Config, small enough to read: configuration lives
outside the services, in a repository of property sources keyed by
**application**, **profile** and **label**; services fetch it at start and
fetch it again when told to, one instance at a time (``POST /refresh``) or
all at once through the broker (the **bus refresh**, like Spring Cloud Bus).
One module per idea:

- ``_repository``: :class:`ConfigRepository`, :func:`precedence` (the order
  written down and tested), :func:`resolve`;
- ``_cipher``: :class:`ConfigCipher`, ``{cipher}`` secrets (Fernet from
  ``cryptography``), never served in clear to a client without ``config:decrypt``;
- ``_server``: :func:`config_server`, the HTTP API and the bus publisher;
- ``_client``: :class:`ConfigClient`, the library inside a service: fetch at
  start, ``POST /refresh``, the bus listener, environment variables (which
  beat the server only where the repository allows it, as in Spring Cloud
  Config), immutable snapshots swapped in one assignment;
- ``_demo``: the config server and greeting service of notebook 12, and
  :func:`create_app`, the config server a learner serves alone (a fresh app
  per call);
- :mod:`~labsvc.config.lab`: :func:`refresh_under_load`, a refresh during
  open-loop load, measured as a :class:`RefreshRun`;
- :mod:`~labsvc.config.wire`: :func:`wire_views`, what an eavesdropper on the
  wire reads of an authorised answer, over plain HTTP and over mutual TLS;
- :mod:`~labsvc.config.plots`: :func:`plot_refresh` (imports matplotlib on
  first use).
"""

from __future__ import annotations

from labsvc.config._cipher import CIPHER_PREFIX, MASK, ConfigCipher, is_cipher
from labsvc.config._client import (
    DEFAULT_CONFIG_URL, OVERRIDE_KEYS, PROFILES_ENV, ConfigClient, ConfigSnapshot, ConfigUnavailable, env_name, override_policy,
)
from labsvc.config._demo import GREETING_DEFAULTS, create_app, demo_config_server, demo_repository, greeting_app
from labsvc.config._repository import DEFAULT_LABEL, DEFAULT_PROFILE, SHARED_APPLICATION, ConfigRepository, flatten, precedence, resolve
from labsvc.config._server import BUS_TOPIC, DECRYPT_SCOPE, WRITE_SCOPE, config_server
from labsvc.config.lab import REFRESH_METHODS, RefreshRun, refresh_under_load
from labsvc.config.wire import WireCapture, eavesdrop, wire_views

__all__ = [  # noqa: F822 - plot_refresh is imported lazily by __getattr__
    "ConfigRepository", "precedence", "resolve", "flatten", "DEFAULT_LABEL", "DEFAULT_PROFILE", "SHARED_APPLICATION",
    "ConfigCipher", "CIPHER_PREFIX", "MASK", "is_cipher",
    "config_server", "BUS_TOPIC", "DECRYPT_SCOPE", "WRITE_SCOPE",
    "ConfigClient", "ConfigSnapshot", "ConfigUnavailable", "env_name", "override_policy", "OVERRIDE_KEYS", "PROFILES_ENV",
    "DEFAULT_CONFIG_URL",
    "demo_repository", "demo_config_server", "greeting_app", "GREETING_DEFAULTS", "create_app",
    "refresh_under_load", "RefreshRun", "plot_refresh", "REFRESH_METHODS",
    "eavesdrop", "wire_views", "WireCapture",
]

_PLOTS = ("plot_refresh",)


def __getattr__(name: str):
    # matplotlib is slow to import, and a service reading its configuration never draws.
    if name in _PLOTS:
        from labsvc.config import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
