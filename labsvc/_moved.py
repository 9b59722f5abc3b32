"""Old import paths that still work for one release, with a DeprecationWarning.

Release 0.2 moved the network and what it needs into :mod:`labsvc.core`, the
lab harnesses into their guide chapter's ``lab`` module, and the course
tooling into :mod:`labsvc.course` (``CHANGELOG.md`` lists every move). A
module left at an old path is a shim: any name read from it is looked up at
the new path, and the read warns once, naming the new path, so a notebook
written for 0.1 keeps running and says what to change.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable

__all__ = ["moved"]

REMOVED_IN = "0.3"


def moved(old: str, new: str | dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a shim module ``old`` that now lives at ``new``.

    ``new`` is a module path, or a map from each name to the module it now
    lives in (a package whose names went to several places).
    """
    warned: set[str] = set()

    def where(name: str) -> str:
        if isinstance(new, str):
            return new
        if name not in new:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        return new[name]

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        target = importlib.import_module(where(name))
        try:
            value = getattr(target, name)
        except AttributeError:
            raise AttributeError(f"module {old!r} (moved to {target.__name__!r}) has no attribute {name!r}") from None
        if name not in warned:
            warned.add(name)
            warnings.warn(f"{old}.{name} moved to {target.__name__}.{name}; import it from {target.__name__!r} "
                          f"(the old path goes in labsvc {REMOVED_IN})", DeprecationWarning, stacklevel=2)
        return value

    def __dir__() -> list[str]:
        if not isinstance(new, str):
            return sorted(new)
        module = importlib.import_module(new)
        return sorted(getattr(module, "__all__", None) or dir(module))

    return __getattr__, __dir__
