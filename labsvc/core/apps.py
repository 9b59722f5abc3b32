"""What an app spec is: the one place that decides it.

A service is given as one of three things:

- an ASGI app object (a FastAPI app): every instance shares that object;
- a *factory*, a callable of no arguments that returns a new app: each
  instance gets its own app, so instances never share in-memory state and a
  restarted instance starts clean (what a new container does);
- an import string ``"module:attr"`` naming either of the above (process
  mode needs one: a child process imports it).

The network (:mod:`labsvc.core.network`), the process transport and its
child (:mod:`labsvc.core.serve`), the platform (:mod:`labsvc.platform`) and
the export all ask this module, so they cannot disagree.

>>> from fastapi import FastAPI
>>> spec = AppSpec.of(FastAPI)            # a class is an app, not a factory
>>> spec.factory
False
>>> AppSpec.of(lambda: FastAPI()).factory
True
"""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass
from typing import Any

from labsvc.core.errors import ConfigurationError, ProcessModeError

__all__ = ["AppSpec", "resolve", "is_factory", "import_string", "load_app", "shared"]


def resolve(spec: Any) -> Any:
    """Import ``'module:attr'`` strings; return apps and factories as they are."""
    if isinstance(spec, str):
        module_name, _, attr = spec.partition(":")
        if not attr:
            raise ConfigurationError(f"{spec!r} is not an import string; write it as 'package.module:attribute'")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    if isinstance(spec, _Shared):
        return spec.app
    return spec


def is_factory(spec: Any) -> bool:
    """A factory is a callable taking no required positional arguments that returns an ASGI app."""
    if isinstance(spec, _Shared):
        return False
    obj = resolve(spec)
    if not callable(obj):
        raise ConfigurationError(
            f"{obj!r} is not an ASGI app or an app factory; pass a FastAPI app, a function that "
            f"returns one, or an import string 'module:attr'"
        )
    if inspect.isclass(obj):
        return False
    target = obj if inspect.isfunction(obj) or inspect.ismethod(obj) else getattr(obj, "__call__", obj)
    try:
        params = [
            p for p in inspect.signature(target).parameters.values()
            if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    return len(params) == 0


def import_string(spec: Any) -> str:
    """The ``module:attr`` string that lets a child process import ``spec``.

    Raises :class:`~labsvc.core.errors.ProcessModeError` when the app lives
    only in this process (for example in a notebook cell).
    """
    if isinstance(spec, _Shared):
        spec = spec.app
    if isinstance(spec, str):
        return spec
    module = getattr(spec, "__module__", None)
    qualname = getattr(spec, "__qualname__", None)
    is_function = callable(spec) and hasattr(spec, "__code__")
    if module and qualname and module != "__main__" and "<locals>" not in qualname and is_function:
        return f"{module}:{qualname}"
    # An app object: look for the module attribute that holds it.
    for name, mod in list(sys.modules.items()):
        if name == "__main__" or mod is None or name.startswith(("fastapi", "starlette", "pydantic", "IPython")):
            continue
        try:
            items = list(vars(mod).items())
        except TypeError:
            continue
        for attr, value in items:
            if value is spec and not attr.startswith("_"):
                return f"{name}:{attr}"
    raise ProcessModeError(
        f"process mode starts each instance as 'python -m labsvc serve module:attr', so the app must be "
        f"importable; {spec!r} was defined in the notebook. Move it into a module and pass 'module:attr' "
        f"(or a factory function defined in that module)"
    )


def load_app(target: Any) -> Any:
    """The app to serve for ``target``: a factory is called once, an app is returned as it is."""
    obj = resolve(target)
    return obj() if is_factory(obj) else obj


class _Shared:
    """A spec that hands every instance the same app object."""

    __slots__ = ("app",)

    def __init__(self, app: Any) -> None:
        self.app = app

    def __repr__(self) -> str:
        return f"shared({self.app!r})"


def shared(app: Any) -> Any:
    """A spec whose instances all run ``app`` (an object, not a factory), even where a factory is expected."""
    return _Shared(resolve(app))


@dataclass(frozen=True)
class AppSpec:
    """A checked app spec: what it was given as, and whether each instance gets its own app."""

    spec: Any
    factory: bool

    @classmethod
    def of(cls, spec: Any) -> "AppSpec":
        """Check ``spec`` (an app, a factory or ``'module:attr'``) once; raises ConfigurationError if it is none."""
        return cls(spec, is_factory(spec))

    @property
    def shared_app(self) -> Any:
        """The one app every instance runs, or None when each instance gets its own."""
        return None if self.factory else resolve(self.spec)

    def new_app(self) -> Any:
        """The app of a new (or restarted) instance: a fresh one from a factory, else the shared object."""
        return resolve(self.spec)() if self.factory else resolve(self.spec)

    @property
    def import_string(self) -> str:
        """``module:attr`` for a child process (ProcessModeError if it was defined in a notebook cell)."""
        return import_string(self.spec)
