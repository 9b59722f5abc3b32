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
  start, ``POST /refresh``, the bus listener, 12-factor environment overrides,
  immutable snapshots swapped in one assignment;
- ``_demo``: the config server and greeting service of notebook 12;
- ``_experiment``: :func:`refresh_under_load`, a refresh during open-loop load.
"""

from __future__ import annotations

from ._cipher import CIPHER_PREFIX, MASK, ConfigCipher, is_cipher
from ._client import DEFAULT_CONFIG_URL, PROFILES_ENV, ConfigClient, ConfigSnapshot, ConfigUnavailable, env_name
from ._demo import GREETING_DEFAULTS, demo_config_server, demo_repository, greeting_app
from ._experiment import REFRESH_METHODS, RefreshRun, plot_refresh, refresh_under_load
from ._repository import DEFAULT_LABEL, DEFAULT_PROFILE, SHARED_APPLICATION, ConfigRepository, flatten, precedence, resolve
from ._server import BUS_TOPIC, DECRYPT_SCOPE, WRITE_SCOPE, config_server

__all__ = [
    "ConfigRepository", "precedence", "resolve", "flatten", "DEFAULT_LABEL", "DEFAULT_PROFILE", "SHARED_APPLICATION",
    "ConfigCipher", "CIPHER_PREFIX", "MASK", "is_cipher",
    "config_server", "BUS_TOPIC", "DECRYPT_SCOPE", "WRITE_SCOPE",
    "ConfigClient", "ConfigSnapshot", "ConfigUnavailable", "env_name", "PROFILES_ENV", "DEFAULT_CONFIG_URL",
    "demo_repository", "demo_config_server", "greeting_app", "GREETING_DEFAULTS",
    "refresh_under_load", "RefreshRun", "plot_refresh", "REFRESH_METHODS",
]
