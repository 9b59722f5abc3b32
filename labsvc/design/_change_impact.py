"""Change impact: how many services each past change would have touched.

The guide's 설계 방법 (design method) asks for a split where most changes land
in one service, because a change spanning services needs several teams and a
coordinated release. These functions read a change history (sets of modules
changed together) against a :class:`~labsvc.design.Decomposition`; unlike the
other metrics they do not need the dependency graph. They are public through
:mod:`labsvc.design.metrics` and :mod:`labsvc.design`, and
:func:`~labsvc.design.compare` adds their columns when given a history.

>>> from labsvc.design import Decomposition
>>> d = Decomposition("d", {"a": "x", "b": "x", "c": "y"})
>>> mean_services_per_change([{"a", "b"}, {"a", "c"}], d)
1.5
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.design.decomposition import Decomposition, DecompositionError, _preview

Changes = pd.DataFrame | Mapping[object, Iterable[str]] | Iterable[Iterable[str]]


def change_sets(changes: Changes) -> dict[object, frozenset[str]]:
    """Normalise a change history to ``{change_id: frozenset(modules)}``."""
    if isinstance(changes, pd.DataFrame):
        missing = {"change_id", "module"} - set(changes.columns)
        if missing:
            raise ConfigurationError(
                f"change table needs columns change_id and module; missing {sorted(missing)}"
            )
        out = {cid: frozenset(g["module"]) for cid, g in changes.groupby("change_id", sort=False)}
    elif isinstance(changes, Mapping):
        out = {cid: frozenset([mods] if isinstance(mods, str) else mods)
               for cid, mods in changes.items()}
    elif isinstance(changes, (str, bytes)):
        raise ConfigurationError("changes must be several sets of modules, not one string")
    else:
        out = {}
        for i, mods in enumerate(changes):
            if isinstance(mods, str):
                raise ConfigurationError(
                    f"change {i} is the string {mods!r}; each change must be a set of modules, "
                    "e.g. [{'a', 'b'}, {'c'}]"
                )
            out[i] = frozenset(mods)
    if not out:
        raise ConfigurationError("the change history is empty")
    empty = [cid for cid, mods in out.items() if not mods]
    if empty:
        raise ConfigurationError(f"changes with no modules: {_preview(map(str, empty))}")
    return out


def change_impact(changes: Changes, decomposition: Decomposition) -> pd.DataFrame:
    """How many services each past change would have touched.

    ``changes`` is a change history: a table with columns ``change_id`` and
    ``module`` (one row per module changed), a mapping ``{change_id: modules}``
    or a list of sets of modules (ids 0, 1, ...). Returns one row per change:
    ``change_id``, ``modules`` (how many), ``services`` (how many distinct
    services they belong to) and ``touched`` (which, sorted).

    The guide's 설계 방법 (design method) asks for a split where most changes
    land in one service, because a change spanning services needs several
    teams and a coordinated release.

    >>> d = Decomposition("d", {"a": "x", "b": "x", "c": "y"})
    >>> change_impact([{"a", "b"}, {"a", "c"}], d)["services"].tolist()
    [1, 2]
    """
    sets = change_sets(changes)
    svc = dict(decomposition.assignment)
    unknown = set().union(*sets.values()) - set(svc)
    if unknown:
        raise DecompositionError(
            f"the change history mentions modules that decomposition {decomposition.name!r} "
            f"does not assign: {_preview(unknown)}",
            unknown=unknown,
        )
    rows = []
    for cid, mods in sets.items():
        touched = tuple(sorted({svc[m] for m in mods}))
        rows.append((cid, len(mods), len(touched), touched))
    return pd.DataFrame(rows, columns=["change_id", "modules", "services", "touched"])


def mean_services_per_change(changes: Changes, decomposition: Decomposition) -> float:
    """``mean over changes c of |{service(m) : m in c}|`` (1.0 is the ideal)."""
    return float(change_impact(changes, decomposition)["services"].mean())


def multi_service_change_share(changes: Changes, decomposition: Decomposition) -> float:
    """Share of changes that touch more than one service:
    ``|{c : services(c) > 1}| / |changes|`` (0.0 is the ideal)."""
    return float((change_impact(changes, decomposition)["services"] > 1).mean())
