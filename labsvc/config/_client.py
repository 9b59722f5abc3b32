"""The config client inside a service: fetch at start, refresh on demand or from the bus.

A service built with :class:`ConfigClient`

1. fetches its configuration from the config server when it starts (its
   lifespan), retrying while the server is not up yet; if it gets none
   within ``start_timeout`` it starts on its defaults and the environment,
   as Spring Cloud Config clients do unless ``fail_fast=True`` (then it
   refuses to start);
2. answers ``POST /refresh`` (Spring's ``/actuator/refresh``) by fetching
   again and returning the keys that changed;
3. listens on the broker's ``config-bus`` topic, in a consumer group of its
   own instance (so every instance gets every event, as each Spring Cloud Bus
   member has its own queue), and refreshes when an event names its
   application;
4. reads **environment variables** as a Spring Boot service reads its
   system environment: ``greeting.message`` is set by ``GREETING_MESSAGE``
   (Spring Boot's relaxed binding: ``.`` -> ``_``, ``-`` dropped, upper
   case). The active profiles come from ``LABSVC_PROFILES_ACTIVE`` (comma
   separated) unless given.

A refresh builds a new immutable :class:`ConfigSnapshot` and swaps it in one
assignment: a request that took the snapshot before the swap finishes with
the old values, one that starts after sees the new ones, and none sees half
of each. No request fails and no process restarts.

Precedence, highest first, as a Spring Cloud Config client has it: the
config server (its own order, see :func:`labsvc.config.precedence`), then the
environment, then the service's ``defaults``. Remote properties are not
overridden by the service's own settings unless the **repository** grants
it (setting it on the client has no effect): with
``spring.cloud.config.allow-override: true`` and either
``spring.cloud.config.override-system-properties: false`` (environment and
system properties beat the server) or ``spring.cloud.config.override-none: true``
(every local source beats it) among the served properties, the environment
wins (:func:`override_policy`). Spring's documentation asks for
``allowOverride=true`` explicitly, and so does this client. These services have
no local configuration files, so the two finer settings have the same effect
here. An environment variable the server outranks is reported in
:attr:`ConfigSnapshot.ignored`, so an operator can see that the pin did not take.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import httpx
import pandas as pd
from fastapi import FastAPI, Request

from labsvc.core.errors import ConfigurationError, LabsvcError, UnknownServiceError
from labsvc.config._cipher import MASK, is_cipher
from labsvc.config._repository import DEFAULT_PROFILE, resolve
from labsvc.config._server import BUS_TOPIC, DEFAULT_BROKER_URL

__all__ = ["ConfigClient", "ConfigSnapshot", "ConfigUnavailable", "env_name", "override_policy", "PROFILES_ENV",
           "DEFAULT_CONFIG_URL", "OVERRIDE_KEYS"]

PROFILES_ENV = "LABSVC_PROFILES_ACTIVE"
DEFAULT_CONFIG_URL = "http://config.svc"
_MISSING = object()
#: The remote properties that decide whether local settings may override the server's (Spring Cloud Commons).
OVERRIDE_KEYS = ("spring.cloud.config.allow-override", "spring.cloud.config.override-none",
                 "spring.cloud.config.override-system-properties")
_OVERRIDE_DEFAULTS = {"allow-override": False, "override-none": False, "override-system-properties": True}


def env_name(key: str) -> str:
    """The environment variable that overrides ``key``.

    >>> env_name("greeting.delay-ms")
    'GREETING_DELAYMS'
    """
    return key.replace(".", "_").replace("-", "").upper()


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigurationError(f"{key}={value!r} must be true or false")


def override_policy(remote: Mapping[str, Any]) -> dict[str, bool]:
    """What the served properties allow: ``allow-override``, ``override-none``, ``override-system-properties``,
    and ``environment_wins`` (whether an environment variable beats a value the server sends).

    Keys may be written in any relaxed form (``allowOverride``, ``allow-override``).

    >>> override_policy({})["environment_wins"]
    False
    >>> override_policy({"spring.cloud.config.allowOverride": True,
    ...                  "spring.cloud.config.override-system-properties": "false"})["environment_wins"]
    True
    >>> override_policy({"spring.cloud.config.override-system-properties": False})["environment_wins"]
    False
    """
    wanted = {k.replace("-", ""): k.rsplit(".", 1)[1] for k in OVERRIDE_KEYS}
    policy = dict(_OVERRIDE_DEFAULTS)
    for key, value in remote.items():
        name = wanted.get(str(key).replace("-", "").lower())
        if name is not None:
            policy[name] = _flag(value, key)
    policy["environment_wins"] = policy["allow-override"] and (
        policy["override-none"] or not policy["override-system-properties"])
    return policy


class ConfigUnavailable(LabsvcError):
    """The config server could not be reached or refused (the message says which and why)."""


@dataclass(frozen=True)
class ConfigSnapshot:
    """The configuration at one version: ``values`` (read-only), ``origins`` (where each came from).

    ``ignored`` names the environment variables that were set but outranked
    by the config server (key -> variable), because the repository does not
    allow local overrides.
    """

    values: Mapping[str, Any]
    origins: Mapping[str, str]
    version: str
    fetched_at: float = field(default=0.0)
    ignored: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __getitem__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            raise KeyError(f"no property {key!r}; known: {sorted(self.values)}") from None

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


class ConfigClient:
    """Configuration of application ``application`` from the config server at ``server``."""

    def __init__(self, application: str, *, profiles: str | list[str] | None = None, label: str | None = None,
                 server: str = DEFAULT_CONFIG_URL, defaults: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None, tokens: Any = None, bus: bool = True,
                 broker_url: str = DEFAULT_BROKER_URL, bus_topic: str = BUS_TOPIC,
                 start_timeout: float = 10.0, fail_fast: bool = False) -> None:
        self.application = application
        self.environ = os.environ if environ is None else environ
        if profiles is None:
            profiles = self.environ.get(PROFILES_ENV) or DEFAULT_PROFILE
        self.profiles = [p.strip() for p in profiles.split(",")] if isinstance(profiles, str) else list(profiles)
        self.label, self.server = label, server.rstrip("/")
        self.defaults = dict(defaults or {})
        self.tokens, self.bus, self.broker_url, self.bus_topic = tokens, bus, broker_url, bus_topic
        self.start_timeout, self.fail_fast = float(start_timeout), bool(fail_fast)
        self._snapshot = self._build({}, {}, "none")
        self._refreshes: list[dict[str, Any]] = []
        self._listener: asyncio.Task | None = None
        self.instance = "standalone"

    # -- reading -------------------------------------------------------------
    def snapshot(self) -> ConfigSnapshot:
        """The current configuration; keep it for the whole request so that it stays consistent."""
        return self._snapshot

    def get(self, key: str, default: Any = _MISSING) -> Any:
        value = self._snapshot.values.get(key, default)
        if value is _MISSING:
            raise KeyError(f"{self.application} has no property {key!r}; known: {sorted(self._snapshot.values)}")
        return value

    @property
    def version(self) -> str:
        return self._snapshot.version

    def table(self) -> pd.DataFrame:
        """key, value (secrets masked), origin: what this instance runs with and why."""
        snap = self._snapshot
        rows = [{"key": k, "value": MASK if is_cipher(v) or "password" in k or "secret" in k else v,
                 "origin": snap.origins[k]} for k, v in sorted(snap.values.items())]
        return pd.DataFrame(rows, columns=["key", "value", "origin"])

    @property
    def refreshes(self) -> pd.DataFrame:
        """Every fetch: time (Unix s), trigger (start / endpoint / bus), version, changed keys."""
        return pd.DataFrame(self._refreshes, columns=["time", "instance", "trigger", "version", "changed"])

    # -- fetching ------------------------------------------------------------
    def _build(self, remote: Mapping[str, Any], remote_origin: Mapping[str, str], version: str) -> ConfigSnapshot:
        values: dict[str, Any] = dict(self.defaults)
        origins = {k: "default" for k in self.defaults}
        values.update(remote)
        origins.update(remote_origin)
        environment_wins = override_policy(remote)["environment_wins"]
        ignored: dict[str, str] = {}
        for key in list(values):
            name = env_name(key)
            if name not in self.environ:
                continue
            if key in remote and not environment_wins:
                ignored[key] = name  # the server outranks the environment unless the repository allows it
                continue
            values[key], origins[key] = self.environ[name], f"environment:{name}"
        return ConfigSnapshot(MappingProxyType(values), MappingProxyType(origins), version, time.time(),
                              MappingProxyType(ignored))

    async def fetch(self, client: Any, *, trigger: str = "endpoint") -> list[str]:
        """Fetch from the server and swap in the new snapshot; returns the keys whose value changed."""
        url = f"{self.server}/{self.application}/{','.join(self.profiles)}" + (f"/{self.label}" if self.label else "")
        headers = await self.tokens.headers(client) if self.tokens is not None else {}
        response = await client.get(url, headers=headers)
        if response.status_code != 200:
            raise ConfigUnavailable(f"the config server answered {response.status_code} for {url}: "
                                    f"{response.json().get('detail', '') if response.content else ''}")
        env = response.json()
        origins: dict[str, str] = {}
        for source in reversed(env["propertySources"]):
            origins.update({k: source["name"] for k in source["source"]})
        new = self._build(resolve(env), origins, env["version"])
        old = self._snapshot
        changed = sorted(k for k in set(old.values) | set(new.values) if old.values.get(k, _MISSING) != new.values.get(k, _MISSING))
        self._snapshot = new  # one assignment: a request sees the old or the new snapshot, never a mix
        self._refreshes.append({"time": new.fetched_at, "instance": self.instance, "trigger": trigger,
                                "version": new.version, "changed": changed})
        return changed

    async def _fetch_at_start(self, client: Any) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                await self.fetch(client, trigger="start")
                return
            except (httpx.ConnectError, ConfigUnavailable, UnknownServiceError) as exc:
                # Instances start side by side: the config server may not answer yet.
                if time.monotonic() <= deadline and not isinstance(exc, UnknownServiceError):
                    await asyncio.sleep(0.05)
                    continue
                waited = "" if isinstance(exc, UnknownServiceError) else f" within {self.start_timeout:g} s"
                problem = f"{self.application} could not fetch its configuration from {self.server}{waited}: {exc}"
                if self.fail_fast:
                    raise ConfigUnavailable(problem + " (fail_fast=True)") from None
                self._start_without_server(problem)
                return

    def _start_without_server(self, problem: str) -> None:
        # Spring Cloud Config's default (fail-fast off): start on the built-in defaults and the environment.
        self._snapshot = self._build({}, {}, "none")
        self._refreshes.append({"time": time.time(), "instance": self.instance, "trigger": "start-without-server",
                                "version": "none", "changed": [problem]})

    # -- the bus -------------------------------------------------------------
    def matches(self, destination: str) -> bool:
        """Whether a bus event for ``destination`` concerns this instance (``**``, ``app``, ``app:**``, ``app:instance``)."""
        if destination in ("**", "*", self.application, f"{self.application}:**"):
            return True
        return destination == f"{self.application}:{self.instance}"

    async def _declare(self, broker: Any) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                await broker.declare(self.bus_topic, self.instance)
                return
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def _listen(self, client: Any, broker: Any) -> None:
        while True:
            try:
                deliveries = await broker.pull(self.bus_topic, self.instance, consumer=self.instance, max=10,
                                               lease=10.0, wait=0.5)
            except (httpx.HTTPError, LabsvcError):
                await asyncio.sleep(0.2)  # the broker is away: try again, as a bus client reconnects
                continue
            for delivery in deliveries:
                if self.matches(str(delivery.payload.get("destination", "**"))):
                    try:
                        await self.fetch(client, trigger="bus")
                    except (httpx.HTTPError, LabsvcError):
                        await delivery.nack(requeue=True)
                        continue
                await delivery.ack()

    # -- wiring into a service -----------------------------------------------
    def lifespan(self, app: FastAPI):
        """An async context manager for ``FastAPI(lifespan=...)``: fetch at start, listen on the bus."""
        client_ref = self

        @contextlib.asynccontextmanager
        async def run(_app: FastAPI):
            from labsvc.messaging import HttpBrokerClient
            from labsvc.core.service import app_client

            ctx = getattr(app.state, "labsvc", None)
            if ctx is None:  # served alone (no labsvc network): nobody to ask, run on defaults
                client_ref._start_without_server("not on a labsvc network, so there is no config server to ask")
                yield
                return
            client = app_client(app, timeout=10.0)
            client_ref.instance = ctx.name
            await client_ref._fetch_at_start(client)
            if client_ref.bus:
                broker = HttpBrokerClient(app_client(app, timeout=10.0), client_ref.broker_url)
                await client_ref._declare(broker)
                client_ref._listener = asyncio.create_task(client_ref._listen(client, broker),
                                                           name=f"config-bus-{client_ref.instance}")
            try:
                yield
            finally:
                if client_ref._listener is not None:
                    client_ref._listener.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await client_ref._listener
                    client_ref._listener = None

        return run

    def install(self, app: FastAPI) -> None:
        """Add ``POST /refresh`` and ``GET /config`` (values with secrets masked, and their origin)."""
        from labsvc.core.service import http

        @app.post("/refresh", tags=["config"], summary="Fetch the configuration again (like /actuator/refresh)")
        async def refresh(request: Request) -> dict:
            changed = await self.fetch(http(request, timeout=10.0), trigger="endpoint")
            return {"version": self.version, "changed": changed, "instance": self.instance}

        @app.get("/config", tags=["config"], summary="What this instance runs with, and where each value came from")
        async def show(request: Request) -> dict:
            return {"version": self.version, "profiles": self.profiles, "instance": self.instance,
                    "properties": self.table().to_dict("records"),
                    "ignored_environment": dict(self._snapshot.ignored),
                    "refreshes": self.refreshes.to_dict("records")}

    def __repr__(self) -> str:
        return (f"ConfigClient({self.application!r}, profiles={self.profiles}, label={self.label!r}, "
                f"version={self.version!r})")

