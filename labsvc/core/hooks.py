"""Where other packages attach to the network without the core importing them.

The core (``labsvc.core``) imports nothing outside itself. Two kinds of hook
let the floors above it plug in:

- an :class:`Instrumentation` given to :meth:`labsvc.core.network.Network.instrument`
  is consulted at the network's seams: the hop of every client, the app of
  every in-process instance, and the environment of every process-mode
  child (whose :mod:`labsvc.core.serve` then calls the function named in
  :data:`ENV_INSTRUMENT`). :mod:`labsvc.observability` is one;
- a *plugin* is a name registered with an import string
  (:func:`register_plugin`); the core resolves it only when it is used.
  ``labsvc/__init__.py`` registers ``observe`` and ``span_frame``, so that
  ``net.observe()`` and ``net.spans`` reach :mod:`labsvc.observability`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from labsvc.core.apps import resolve
from labsvc.core.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.core._instances import Instance

__all__ = ["Instrumentation", "ENV_INSTRUMENT", "register_plugin", "plugin"]

# In a process-mode child: 'module:function', called as function(app, hop, service, instance) -> (app, hop).
ENV_INSTRUMENT = "LABSVC_INSTRUMENT"

_PLUGINS: dict[str, str] = {}


class Instrumentation:
    """What a network consults at its seams once :meth:`Network.instrument` attached it.

    Each method returns what it was given by default; override the ones you
    need. A network with no instrumentation pays one attribute test per hop.
    """

    def client_hop(self, hop: Callable, service: str, instance: str | None = None) -> Callable:
        """The hop that a client of ``service`` (as ``instance``, if known) should use."""
        return hop

    def server_app(self, instance: "Instance") -> Any:
        """The app to call for a request to in-process ``instance`` (``instance.app`` wrapped, or as it is)."""
        return instance.app

    def child_env(self, instance: "Instance") -> dict[str, str]:
        """Environment variables of ``instance``'s process-mode child; set :data:`ENV_INSTRUMENT` to act there."""
        return {}


def register_plugin(name: str, target: str) -> None:
    """Make ``name`` resolve to ``target`` (``'module:attr'``), imported on first use."""
    if not isinstance(target, str) or ":" not in target:
        raise ConfigurationError(f"plugin {name!r}: give an import string 'package.module:attr', not {target!r}")
    _PLUGINS[name] = target


def plugin(name: str) -> Any:
    """The object registered as ``name`` (imported now)."""
    try:
        target = _PLUGINS[name]
    except KeyError:
        raise ConfigurationError(
            f"no plugin named {name!r} is registered (known: {sorted(_PLUGINS) or 'none'}); "
            f"'import labsvc' registers the course's plugins"
        ) from None
    return resolve(target)
