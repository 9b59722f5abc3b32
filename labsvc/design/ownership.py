"""One team and one repository per bounded context, and what sharing a context's tables costs.

The guide's Bounded Context section (도메인 주도 설계, 1) Bounded Context)
lists one team per bounded context and a separate code repository for each,
holding the context's domain model, database schema, UI and API. Conway's law
(M. E. Conway, "How Do Committees Invent?", *Datamation*, April 1968) is the
reason: a system's structure ends up copying the communication structure of
the organisation that builds it, so a service boundary that no team boundary
backs up does not stay a boundary.

* :func:`ownership_table` lays the shop's contexts out as context -> team ->
  repository -> service(s) -> the tables and entities it owns.
* :func:`shared_table_impact` counts, over a change history, how many teams
  each change needs when every team owns its tables, and how many once the
  services that read another service's tables (:func:`~labsvc.design.criteria.foreign_table_access`)
  share them: the reader's team must follow every change to those tables.

>>> import networkx as nx
>>> from labsvc.design import Decomposition
>>> g = nx.DiGraph([("ship", "order_repo"), ("order_api", "order_repo")])
>>> g.nodes["order_repo"]["layer"] = "persistence"
>>> d = Decomposition("d", {"ship": "delivery", "order_api": "order", "order_repo": "order"})
>>> shared_table_impact(g, [{"order_api", "order_repo"}], d)[["teams", "teams_if_shared"]].values.tolist()
[[1, 2]]
"""

from __future__ import annotations

import networkx as nx
import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.design._change_impact import Changes, change_impact, change_sets
from labsvc.design.criteria import foreign_table_access
from labsvc.design.datasets import ShopDataset
from labsvc.design.decomposition import Decomposition

__all__ = ["ownership_table", "shared_table_impact"]


def ownership_table(shop: ShopDataset, decomposition: Decomposition | None = None,
                    layer: str = "persistence") -> pd.DataFrame:
    """One row per bounded context the shop builds itself: who owns what.

    Columns: ``context``; ``team`` and ``repository``, named after the
    context by convention (``"catalog team"``, ``"shop-catalog"``: one of
    each per context); ``services``, the services of ``decomposition``
    (default ``shop.decompositions["ddd"]``) that hold the context's modules;
    ``modules`` (how many); ``tables``, the context's modules of layer
    ``layer`` (its tables); ``owns``, the entities the context owns. External
    contexts (the payment provider, the carrier) are left out: another
    company's team owns them.
    """
    if not isinstance(shop, ShopDataset):
        raise ConfigurationError(f"ownership_table expects the shop dataset, got {type(shop).__name__}; "
                                 "pass load_shop()")
    split = shop.decompositions["ddd"] if decomposition is None else decomposition
    assignment = dict(split.assignment)
    missing = sorted(set(shop.modules["module"]) - set(assignment))
    if missing:
        raise ConfigurationError(f"decomposition {split.name!r} does not assign the shop modules "
                                 f"{', '.join(missing[:5])}; pass a decomposition of shop.graph")
    rows = []
    for context in shop.contexts.loc[~shop.contexts["external"], "context"]:
        mods = shop.modules[shop.modules["bounded_context"] == context]
        rows.append({
            "context": context,
            "team": f"{context} team",
            "repository": f"shop-{context}",
            "services": ", ".join(sorted({assignment[m] for m in mods["module"]})),
            "modules": len(mods),
            "tables": ", ".join(mods.loc[mods["layer"] == layer, "module"]),
            "owns": ", ".join(shop.entities.loc[shop.entities["context"] == context, "entity"]),
        })
    return pd.DataFrame(rows, columns=["context", "team", "repository", "services", "modules", "tables", "owns"])


def shared_table_impact(graph: nx.DiGraph, changes: Changes, decomposition: Decomposition,
                        layer: str = "persistence") -> pd.DataFrame:
    """Teams each change needs, with every team owning its tables and with tables shared.

    One team per service of ``decomposition``. One row per change of
    ``changes``: ``change_id``; ``touched``, the services whose modules it
    changes; ``teams``, how many (each team owns its tables and code);
    ``readers``, the other services that read a table module (layer
    ``layer``) the change alters, straight from the tables rather than
    through the owner's API; and ``teams_if_shared``, ``teams`` plus those
    readers, whose code breaks or must be re-checked when the tables change.
    """
    impact = change_impact(changes, decomposition)
    foreign = foreign_table_access(graph, decomposition, layer=layer)
    read_by: dict[str, set[str]] = {}
    for row in foreign.itertuples(index=False):
        read_by.setdefault(row.table_module, set()).add(row.service)
    sets = change_sets(changes)
    readers = []
    for cid, touched in zip(impact["change_id"], impact["touched"]):
        extra = set().union(*(read_by.get(m, set()) for m in sets[cid])) - set(touched)
        readers.append(tuple(sorted(extra)))
    frame = impact[["change_id", "touched", "services"]].rename(columns={"services": "teams"})
    frame["readers"] = readers
    frame["teams_if_shared"] = frame["teams"] + frame["readers"].map(len)
    return frame
