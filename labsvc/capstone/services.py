"""The order system as real services, one per container: a factory for each, configured by its environment.

The notebook runs the capstone on a labsvc network (:class:`~labsvc.capstone.OrderSystem`);
the export (:mod:`labsvc.capstone.export`) runs the same lesson services as
containers, each with ``uvicorn labsvc.capstone.services:<factory> --factory``:

============  ==============================================================
``registry``  the service registry (:mod:`labsvc.discovery.registry_server`)
``broker``    the message broker, with the order events' consumer groups
``catalog``   the catalog (two instances, ``catalog-1`` and ``catalog-2``)
``inventory`` stock and reservations            (database on a volume)
``payment``   the external payment provider     (database on a volume)
``orders``    the place-order saga, with its outbox relay (database on a volume)
``history``   the order history read model (CQRS), with its projector (volume)
``delivery``  deliveries, with its order-event consumer (database on a volume)
``gateway``   the API gateway, finding instances through the registry
============  ==============================================================

What a labsvc network gave the services, the environment gives them here:

- ``LABSVC_SERVICE_URL_TEMPLATE`` (or ``LABSVC_URL_<NAME>``): where
  ``http://<name>.svc`` is (:func:`labsvc.core.service.service_url`);
- ``LABSVC_INSTANCE``: this instance's name (``catalog-1``); it registers
  with the registry as ``LABSVC_INSTANCE_URL`` (default
  ``http://<instance>.svc``) and renews its lease every 30 s, as a Eureka
  client does, and cancels it when it stops;
- ``LABSVC_DATA_DIR``: where each service keeps its SQLite database
  (``<dir>/<owner>.db``, on a named volume, so a restarted container keeps
  its data); without it the database is in memory, as in the notebook;
- ``LABSVC_CAPSTONE_RESILIENCE`` (``on``, the default, or ``off``),
  ``LABSVC_SEED``, ``LABSVC_CATALOG_RELEASE``: the system's settings.

The loops that the notebook runs beside the services (the outbox relay, the
history projector, the delivery consumer) run inside the service they drive,
as a background task of its lifespan. Each factory imports only what its
service needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from labsvc.capstone._config import (
    EVENT_GROUPS, EVENTS_TOPIC, PUMP_BACKOFF, PUMPS, RESILIENCE_OFF, RESILIENCE_ON, Resilience, gateway_routes,
    service_settings,
)
from labsvc.core.errors import ConfigurationError
from labsvc.core.service import ENV_SERVICE_URL_TEMPLATE, has_service_url_map, standalone_client

__all__ = ["registry", "broker", "catalog", "inventory", "payment", "orders", "history", "delivery", "gateway",
           "FACTORIES", "ENV_DATA_DIR", "ENV_INSTANCE_URL"]

ENV_DATA_DIR = "LABSVC_DATA_DIR"
ENV_INSTANCE_URL = "LABSVC_INSTANCE_URL"
REGISTRY_URL = "http://registry.svc"
#: How often the gateway refreshes its copy of the registry (seconds).
DISCOVERY_REFRESH = 2.0


# ------------------------------------------------------------------ the environment
def _resilience() -> Resilience:
    value = os.environ.get("LABSVC_CAPSTONE_RESILIENCE", "on").strip().lower()
    if value not in ("on", "off"):
        raise ConfigurationError(f"LABSVC_CAPSTONE_RESILIENCE={value!r}: use 'on' (the default) or 'off'")
    return RESILIENCE_ON if value == "on" else RESILIENCE_OFF


def _seed() -> int:
    value = os.environ.get("LABSVC_SEED", "0")
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"LABSVC_SEED={value!r} must be a whole number") from None


def _instance(service: str) -> str:
    return os.environ.get("LABSVC_INSTANCE") or f"{service}-{socket.gethostname()}"


def _require_map(service: str) -> None:
    if not has_service_url_map():
        raise ConfigurationError(
            f"{service} calls other services by name, and nothing says where they are: set "
            f"{ENV_SERVICE_URL_TEMPLATE} (e.g. 'http://{{name}}:8000' under Docker Compose) or LABSVC_URL_<NAME> "
            f"for each service it calls")


def _on_disk(app: FastAPI) -> FastAPI:
    """Keep the app's database in ``$LABSVC_DATA_DIR/<owner>.db`` (in memory when the variable is unset)."""
    folder = os.environ.get(ENV_DATA_DIR)
    if not folder:
        return app
    path = Path(folder)
    if not path.is_dir() or not os.access(path, os.W_OK):
        raise ConfigurationError(
            f"{ENV_DATA_DIR}={folder!r} is not a folder this user (uid {os.getuid()}) can write: create it and give "
            f"it to this user (the image's Dockerfile does: mkdir -p {folder} && chown)")
    db = app.state.database
    db.url = f"sqlite:///{path / f'{db.owner}.db'}"  # opened by the app's lifespan, as before
    return app


def _with_task(app: FastAPI, start: Any) -> FastAPI:
    """Run ``start()`` (which returns an async ``stop``) alongside the app's own lifespan."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any):
        async with inner(a) as state:
            stop = await start()
            try:
                yield state
            finally:
                await stop()

    app.router.lifespan_context = lifespan
    return app


class _Alone:
    """What a :class:`~labsvc.data.Pump` needs from a network, for a service that runs alone."""

    started = True

    def client(self, caller: str, timeout: float | None = 10.0):
        return standalone_client(caller, timeout=timeout)


def _with_pump(app: FastAPI, service: str) -> FastAPI:
    from labsvc.data import Pump

    (path, caller, body, key), = [(p, c, b, k) for s, p, c, b, k in PUMPS if s == service]

    async def start():
        pump = Pump(_Alone(), f"http://{service}.svc{path}", caller=caller, body=dict(body),
                    done=lambda a: a[key] == 0, backoff=PUMP_BACKOFF)
        pump.start()
        return pump.stop

    return _with_task(app, start)


def _registered(app: FastAPI, service: str) -> FastAPI:
    """Register this instance with the registry service while the app runs (renew, re-register, cancel)."""
    from labsvc.core.errors import UnknownInstanceError
    from labsvc.discovery import DEFAULT_RENEWAL_INTERVAL, HttpRegistryClient

    instance = _instance(service)
    url = os.environ.get(ENV_INSTANCE_URL) or f"http://{instance}.svc"

    async def keep(stopping: asyncio.Event) -> None:
        registry = HttpRegistryClient(standalone_client(service, timeout=2.0), REGISTRY_URL)
        registered = False
        while not stopping.is_set():
            try:
                if registered:
                    await registry.heartbeat(service, instance)
                else:
                    await registry.register(service, instance, url)
                    registered = True
                wait = DEFAULT_RENEWAL_INTERVAL
            except UnknownInstanceError:  # the registry forgot us (it restarted): register again now
                registered, wait = False, 0.0
            except Exception:  # noqa: BLE001 - the registry is not up yet, or unreachable: try again soon
                wait = 1.0
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), wait)
        if registered:  # a clean stop says goodbye at once (a crash does not: its lease runs out)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(registry.cancel(service, instance), 1.0)

    async def start():
        stopping = asyncio.Event()
        task = asyncio.get_running_loop().create_task(keep(stopping), name=f"register {instance}")

        async def stop() -> None:
            stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 3.0)

        return stop

    return _with_task(app, start)


class _RegistryView:
    """The gateway's copy of the registry: refreshed every :data:`DISCOVERY_REFRESH` seconds, and kept
    while the registry cannot be reached (a Eureka client serves its cache too)."""

    def __init__(self, refresh: float = DISCOVERY_REFRESH) -> None:
        from labsvc.discovery import HttpRegistryClient

        self.registry = HttpRegistryClient(standalone_client("gateway", timeout=1.0), REGISTRY_URL)
        self.refresh = refresh
        self._cache: dict[str, list] = {}
        self._at: float | None = None

    async def alookup(self, service: str) -> list:
        now = time.monotonic()
        if self._at is None or now - self._at >= self.refresh:
            try:
                self._cache = await self.registry.snapshot()
            except Exception:
                if self._at is None:
                    raise
            self._at = now
        return list(self._cache.get(service, []))


# ------------------------------------------------------------------ the services
def registry() -> FastAPI:
    """The service registry (Eureka's semantics), its registrations in memory."""
    from labsvc.discovery import registry_service

    return registry_service()


def broker() -> FastAPI:
    """The broker, with the order events' consumer groups declared (messages live in its memory)."""
    from labsvc.messaging import broker_service

    app = broker_service()
    for group in EVENT_GROUPS:
        app.state.broker.declare(EVENTS_TOPIC, group)
    return app


def catalog() -> FastAPI:
    """One catalog instance (release ``LABSVC_CATALOG_RELEASE``, 1.0 by default), registered as ``catalog``."""
    from labsvc.capstone import catalog as catalog_module

    _require_map("catalog")
    release = os.environ.get("LABSVC_CATALOG_RELEASE", "1.0")
    return _registered(catalog_module.create_app(catalog_module.Settings(release=release)), "catalog")


def inventory() -> FastAPI:
    """Stock and reservations, its database on disk."""
    from labsvc.data import inventory as module

    return _on_disk(module.create_app(service_settings("inventory", _resilience(), seed=_seed())))


def payment() -> FastAPI:
    """The external payment provider, its charges on disk."""
    from labsvc.data import payment as module

    return _on_disk(module.create_app(service_settings("payment", _resilience(), seed=_seed())))


def orders() -> FastAPI:
    """The order service: the place-order saga over inventory and payment, its outbox relayed to the broker."""
    from labsvc.data import saga_orchestrator

    _require_map("orders")
    app = _on_disk(saga_orchestrator.create_app(service_settings("orders", _resilience(), seed=_seed())))
    return _registered(_with_pump(app, "orders"), "orders")


def history() -> FastAPI:
    """The order history read model, projected from the order events."""
    from labsvc.data import order_history

    _require_map("history")
    return _registered(_with_pump(_on_disk(order_history.create_app()), "history"), "history")


def delivery() -> FastAPI:
    """Deliveries: every approved order gets one, from the order events."""
    from labsvc.data import delivery as module

    _require_map("delivery")
    return _with_pump(_on_disk(module.create_app(service_settings("delivery", _resilience(), seed=_seed()))),
                      "delivery")


def gateway() -> FastAPI:
    """The API gateway: ``/catalog``, ``/orders``, ``/history``, instances found through the registry."""
    from labsvc.gateway import Gateway

    _require_map("gateway")
    r = _resilience()
    return Gateway(gateway_routes(r, _seed()), discovery=_RegistryView(), seed=_seed(),
                   retry_other_instance=r.retries > 1).app


#: Every service's factory, by service name.
FACTORIES = {f.__name__: f for f in (registry, broker, catalog, inventory, payment, orders, history, delivery, gateway)}
