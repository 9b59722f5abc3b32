"""Several services in one deployable unit: one ASGI app that hands each request to the service it names.

Merging two services (the opposite of splitting one) keeps both services'
code and APIs but runs them as one unit: one process, one set of instances,
one deploy, one fate. On a network this is a service with aliases
(:meth:`labsvc.core.network.Network.add` ``aliases=``) running a
:func:`colocated` app. A request keeps the host it was sent to
(``inventory.svc`` or ``inventory-1.svc``), so the unit knows which of its
services was called; a host that names none of them (the unit's own
instance name) goes to the first.

>>> app = colocated({"orders": orders_app, "inventory": inventory_app})   # doctest: +SKIP
>>> net.add("orders", lambda: colocated({...}), aliases=["inventory"])    # doctest: +SKIP

Each service keeps its own ASGI lifespan (its database, its background
tasks) and its own lifespan state: the unit's startup starts them in order,
its shutdown stops them in reverse order, and a crash of the unit ends them
all at once.
"""

from __future__ import annotations

from typing import Any, Callable

from labsvc.core._instances import INSTANCE_SUFFIX
from labsvc.core.asgi import Lifespan, LifespanError
from labsvc.core.errors import ConfigurationError

__all__ = ["Colocated", "colocated", "service_of_host"]

def service_of_host(host: str) -> str:
    """The service a host names: ``inventory-2.svc:80`` -> ``inventory``.

    >>> service_of_host("inventory-2.svc:80"), service_of_host("orders.svc")
    ('inventory', 'orders')
    """
    name = host.split(":", 1)[0]
    if name.endswith(".svc"):
        name = name[: -len(".svc")]
    return INSTANCE_SUFFIX.sub("", name)


class Colocated:
    """An ASGI app running several services' apps as one unit (see the module's docstring).

    ``apps`` maps each service name to its ASGI app, the unit's own service
    first. ``state`` mirrors the first app's ``state`` (its settings, its
    release), so code that reads ``instance.app.state`` keeps working.
    """

    def __init__(self, apps: dict[str, Callable[..., Any]]) -> None:
        if not isinstance(apps, dict) or len(apps) < 2:
            raise ConfigurationError("colocated(...) takes a dict of at least two {service name: ASGI app}; "
                                     "one service needs no merging")
        self.apps = dict(apps)
        self.first = next(iter(self.apps))
        self._lifespans: dict[str, Lifespan] = {}

    @property
    def state(self) -> Any:
        return getattr(self.apps[self.first], "state", None)

    def app_for(self, scope: dict) -> tuple[str, Callable[..., Any]]:
        """The service a request is for, by its ``Host`` header, and that service's app."""
        host = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), "")
        name = service_of_host(host)
        if name not in self.apps:
            name = self.first
        return name, self.apps[name]

    async def __call__(self, scope: dict, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        name, app = self.app_for(scope)
        lifespan = self._lifespans.get(name)
        if lifespan is not None:  # each service sees its own lifespan state, as when it runs alone
            scope = {**scope, "state": dict(lifespan.state)}
        await app(scope, receive, send)

    async def _lifespan(self, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        try:
            await self._lifespan_messages(receive, send)
        except BaseException:  # the unit crashed (its lifespan was cancelled): every service in it goes down
            for lifespan in self._lifespans.values():
                lifespan.abort()
            self._lifespans.clear()
            raise

    async def _lifespan_messages(self, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for name, app in self.apps.items():
                        lifespan = self._lifespans[name] = Lifespan(app)
                        await lifespan.startup()
                except LifespanError as exc:
                    await send({"type": "lifespan.startup.failed", "message": f"{name}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                failed = []
                for name in reversed(list(self._lifespans)):
                    try:
                        await self._lifespans.pop(name).shutdown()
                    except LifespanError as exc:
                        failed.append(f"{name}: {exc}")
                await send({"type": "lifespan.shutdown.failed", "message": "; ".join(failed)} if failed
                           else {"type": "lifespan.shutdown.complete"})
                return

    def __repr__(self) -> str:
        return f"<Colocated {' + '.join(self.apps)}>"


def colocated(apps: dict[str, Callable[..., Any]]) -> Colocated:
    """One app for several services: requests go to the app of the service their host names."""
    return Colocated(apps)
