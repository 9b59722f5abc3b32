"""Subdomains, bounded contexts and the context map that relates them.

This module holds the vocabulary of strategic domain-driven design that the
guide uses in 설계 방법 (design method), 도메인 주도 설계 (domain-driven design),
Bounded Context and 서비도메인으로 분할 하기 (splitting into subdomains):

* a **subdomain** (서브도메인) is a part of the business; it is *core* (what sets
  the business apart), *supporting* (needed, but not a differentiator) or
  *generic* (every business needs it, so buy or reuse it);
* a **bounded context** (경계 컨텍스트) is the boundary inside which one model and
  one ubiquitous language (유비쿼터스 언어) hold; the same word may mean something
  else next door;
* a **context map** (컨텍스트 맵) names how two bounded contexts relate, for
  example customer-supplier or anticorruption layer.

Everything here is plain data with validation; rendering returns text
(Mermaid, written by the private ``_mermaid`` module) or DataFrames, and
:func:`labsvc.design.plot_context_map` draws a figure.

Example:

    >>> from labsvc.design import Subdomain, BoundedContext, ContextMap
    >>> sales = BoundedContext("sales", Subdomain("Online sales", "core"))
    >>> pay = BoundedContext("payment", Subdomain("Payments", "generic"))
    >>> cm = ContextMap([sales, pay])
    >>> cm.relate("payment", "sales", "anticorruption-layer").kind
    'anticorruption-layer'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import networkx as nx
import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.design._mermaid import flowchart

__all__ = [
    "SUBDOMAIN_KINDS",
    "RELATIONSHIP_KINDS",
    "SYMMETRIC_RELATIONSHIP_KINDS",
    "Subdomain",
    "BoundedContext",
    "Relationship",
    "ContextMap",
    "UnknownContextError",
]

#: The three kinds of subdomain, in order of how much they matter to the business.
SUBDOMAIN_KINDS: tuple[str, ...] = ("core", "supporting", "generic")

#: Context-map relationship kinds (canonical spelling), from Evans' and
#: Vernon's strategic design patterns.
RELATIONSHIP_KINDS: tuple[str, ...] = (
    "partnership",
    "shared-kernel",
    "customer-supplier",
    "conformist",
    "anticorruption-layer",
    "open-host-service",
    "published-language",
)

#: Kinds where neither side is upstream: the two teams are peers.
SYMMETRIC_RELATIONSHIP_KINDS: frozenset[str] = frozenset({"partnership", "shared-kernel"})

# Short labels used on diagrams (the abbreviations the DDD literature uses).
_ABBREVIATIONS = {
    "partnership": "Partnership",
    "shared-kernel": "SK",
    "customer-supplier": "C/S",
    "conformist": "CF",
    "anticorruption-layer": "ACL",
    "open-host-service": "OHS",
    "published-language": "PL",
}

# Accept the spellings people actually type ("Shared Kernel", "ACL", "ohs").
_KIND_ALIASES = {
    "sk": "shared-kernel",
    "cs": "customer-supplier",
    "customer/supplier": "customer-supplier",
    "cf": "conformist",
    "acl": "anticorruption-layer",
    "anti-corruption-layer": "anticorruption-layer",
    "ohs": "open-host-service",
    "pl": "published-language",
}


class UnknownContextError(ConfigurationError, LookupError):
    """A context map refers to a bounded context it does not contain."""


def _normalise_kind(kind: str) -> str:
    """Return the canonical relationship kind, or raise listing the valid ones."""
    if not isinstance(kind, str):
        raise ConfigurationError(
            f"relationship kind must be a string, got {kind!r}; "
            f"use one of {', '.join(RELATIONSHIP_KINDS)}"
        )
    key = re.sub(r"[\s_]+", "-", kind.strip().lower())
    key = _KIND_ALIASES.get(key, key)
    if key not in RELATIONSHIP_KINDS:
        raise ConfigurationError(
            f"unknown relationship kind {kind!r}; "
            f"use one of {', '.join(RELATIONSHIP_KINDS)}"
        )
    return key


def _check_name(what: str, name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"{what} name must be a non-empty string, got {name!r}")
    return name


@dataclass(frozen=True)
class Subdomain:
    """A part of the business, classified by how much it sets the business apart.

    ``kind`` is one of :data:`SUBDOMAIN_KINDS`:

    * ``core`` (핵심): the differentiator, worth building and your best people;
    * ``supporting`` (지원): related to what the business does, but not what
      makes it win; build it simply;
    * ``generic`` (일반): not specific to this business; buy it or use a
      ready-made service (for example an external payment provider).

    >>> Subdomain("Order management", "core").kind
    'core'
    >>> Subdomain("Payments", "GENERIC").kind   # case does not matter
    'generic'
    """

    name: str
    kind: str
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("subdomain", self.name)
        kind = self.kind.strip().lower() if isinstance(self.kind, str) else self.kind
        if kind not in SUBDOMAIN_KINDS:
            raise ConfigurationError(
                f"subdomain {self.name!r}: unknown kind {self.kind!r}; "
                f"use one of {', '.join(SUBDOMAIN_KINDS)}"
            )
        # frozen dataclass: normalise through object.__setattr__
        object.__setattr__(self, "kind", kind)


@dataclass(frozen=True, eq=False)
class BoundedContext:
    """A boundary inside which one model and one ubiquitous language apply.

    Args:
        name: short identifier, e.g. ``"catalog"``.
        subdomain: the :class:`Subdomain` this context implements.
        language: the context's ubiquitous language, ``{term: meaning}``.
            The same term may have another meaning in another context; that
            is the point of drawing the boundary.
        owns: the entities whose data this context owns (and no one else
            writes).
        description: one line on what the context does.
        external: True for a context run by someone else (a payment
            provider, a carrier); it has no code of ours.

    >>> bc = BoundedContext("catalog", Subdomain("Catalog", "core"),
    ...                     language={"Product": "what a customer can buy"},
    ...                     owns=["Product"])
    >>> bc.glossary()[["term", "meaning"]].values.tolist()
    [['Product', 'what a customer can buy']]
    """

    name: str
    subdomain: Subdomain
    language: Mapping[str, str] = field(default_factory=dict)
    owns: tuple[str, ...] = ()
    description: str = ""
    external: bool = False

    def __post_init__(self) -> None:
        _check_name("bounded context", self.name)
        if not isinstance(self.subdomain, Subdomain):
            raise ConfigurationError(
                f"bounded context {self.name!r}: subdomain must be a Subdomain, "
                f"got {self.subdomain!r}; e.g. Subdomain('Catalog', 'core')"
            )
        language = dict(self.language)
        for term, meaning in language.items():
            if not isinstance(term, str) or not isinstance(meaning, str):
                raise ConfigurationError(
                    f"bounded context {self.name!r}: language must map str terms "
                    f"to str meanings, got {term!r}: {meaning!r}"
                )
        owns = (self.owns,) if isinstance(self.owns, str) else tuple(self.owns)
        # read-only views, so a context cannot be changed behind a map's back
        object.__setattr__(self, "language", MappingProxyType(language))
        object.__setattr__(self, "owns", owns)

    @property
    def kind(self) -> str:
        """The subdomain kind (core, supporting or generic)."""
        return self.subdomain.kind

    def glossary(self) -> pd.DataFrame:
        """The ubiquitous language as a table: columns context, term, meaning."""
        return pd.DataFrame(
            [(self.name, t, m) for t, m in sorted(self.language.items())],
            columns=["context", "term", "meaning"],
        )

    def __repr__(self) -> str:
        return (
            f"BoundedContext({self.name!r}, {self.subdomain.kind} subdomain "
            f"{self.subdomain.name!r}, {len(self.language)} terms, owns={list(self.owns)})"
        )


@dataclass(frozen=True)
class Relationship:
    """One edge of a context map.

    ``upstream`` is the context whose model or service the other depends on
    (the supplier, the open host); ``downstream`` is the one that depends on
    it. For the symmetric kinds (partnership, shared kernel) the order does not
    matter and ``upstream``/``downstream`` are just the two sides.
    """

    upstream: str
    downstream: str
    kind: str
    note: str = ""

    @property
    def symmetric(self) -> bool:
        """True when neither side is upstream (partnership, shared kernel)."""
        return self.kind in SYMMETRIC_RELATIONSHIP_KINDS

    @property
    def label(self) -> str:
        """The short diagram label, e.g. ``"ACL"`` or ``"C/S"``."""
        return _ABBREVIATIONS[self.kind]

    @staticmethod
    def normalise_kind(kind: str) -> str:
        """The canonical spelling of a relationship kind, or a ConfigurationError listing the valid ones.

        Accepts what :meth:`ContextMap.relate` accepts (any case, spaces or
        underscores, and abbreviations such as ``"ACL"`` or ``"OHS"``).

        >>> Relationship.normalise_kind("Shared Kernel"), Relationship.normalise_kind("ACL")
        ('shared-kernel', 'anticorruption-layer')
        """
        return _normalise_kind(kind)


class ContextMap:
    """Bounded contexts and the relationships between them.

    >>> from labsvc.design import Subdomain, BoundedContext, ContextMap
    >>> core = Subdomain("Sales", "core")
    >>> cm = ContextMap([BoundedContext("catalog", core), BoundedContext("order", core)])
    >>> _ = cm.relate("catalog", "order", "customer-supplier")
    >>> print(cm.to_mermaid().splitlines()[0])
    flowchart LR
    >>> cm.relationships_frame()[["upstream", "downstream", "kind"]].values.tolist()
    [['catalog', 'order', 'customer-supplier']]

    In a notebook, a context map as the last expression of a cell shows as a
    Mermaid diagram (JupyterLab 4.1+ renders ```mermaid blocks).
    """

    def __init__(self, contexts: Iterable[BoundedContext] = (), name: str = "context map"):
        self.name = name
        self._contexts: dict[str, BoundedContext] = {}
        self._relationships: list[Relationship] = []
        for context in contexts:
            self.add(context)

    # -- building -----------------------------------------------------------

    def add(self, context: BoundedContext) -> BoundedContext:
        """Add a bounded context; its name must be new on this map."""
        if not isinstance(context, BoundedContext):
            raise ConfigurationError(f"expected a BoundedContext, got {context!r}")
        if context.name in self._contexts:
            raise ConfigurationError(
                f"context map already has a bounded context named {context.name!r}; "
                "give each context a unique name"
            )
        self._contexts[context.name] = context
        return context

    def relate(self, upstream: str, downstream: str, kind: str, note: str = "") -> Relationship:
        """Record that ``downstream`` depends on ``upstream`` in the way ``kind`` says.

        ``kind`` is one of :data:`RELATIONSHIP_KINDS`; common spellings such as
        ``"Shared Kernel"``, ``"ACL"`` or ``"OHS"`` are accepted. Unknown
        context names raise :class:`UnknownContextError` listing the known ones.

        Two contexts may have several relationships of different kinds (an
        upstream open host service *and* a downstream anticorruption layer is
        a common pair), but the same kind is recorded once per pair.
        """
        kind = _normalise_kind(kind)
        for side in (upstream, downstream):
            if side not in self._contexts:
                raise UnknownContextError(
                    f"context map has no bounded context {side!r}; known contexts: "
                    f"{', '.join(self._contexts) or '(none)'}. Add it first with .add(...)"
                )
        if upstream == downstream:
            raise ConfigurationError(
                f"a relationship needs two different contexts, got {upstream!r} twice"
            )
        rel = Relationship(upstream, downstream, kind, note)
        for old in self._relationships:
            same_pair = (old.upstream, old.downstream) == (upstream, downstream) or (
                rel.symmetric and (old.upstream, old.downstream) == (downstream, upstream)
            )
            if same_pair and old.kind == kind:
                raise ConfigurationError(
                    f"{upstream!r} -> {downstream!r} already has a {kind!r} relationship"
                )
        self._relationships.append(rel)
        return rel

    def restricted_to(self, names: Iterable[str], name: str | None = None) -> ContextMap:
        """A new map with only the contexts ``names`` and the relationships between them.

        Handy to look at one part of a large map, e.g. the order-management
        subdomains. Unknown names raise :class:`UnknownContextError`.

        >>> from labsvc.design import Subdomain, BoundedContext, ContextMap
        >>> core = Subdomain("Sales", "core")
        >>> cm = ContextMap([BoundedContext(n, core) for n in ("a", "b", "c")])
        >>> _ = cm.relate("a", "b", "customer-supplier"); _ = cm.relate("b", "c", "conformist")
        >>> [r.kind for r in cm.restricted_to(["a", "b"]).relationships]
        ['customer-supplier']
        """
        keep = [names] if isinstance(names, str) else list(dict.fromkeys(names))
        for n in keep:
            self[n]  # raises with the list of known contexts
        out = ContextMap([self._contexts[n] for n in keep], name=name or self.name)
        out._relationships = [r for r in self._relationships if r.upstream in keep and r.downstream in keep]
        return out

    # -- reading ------------------------------------------------------------

    @property
    def contexts(self) -> Mapping[str, BoundedContext]:
        """The bounded contexts by name, in the order they were added (read-only)."""
        return MappingProxyType(self._contexts)

    @property
    def relationships(self) -> tuple[Relationship, ...]:
        """The relationships in the order they were recorded."""
        return tuple(self._relationships)

    def __getitem__(self, name: str) -> BoundedContext:
        try:
            return self._contexts[name]
        except KeyError:
            raise UnknownContextError(
                f"context map has no bounded context {name!r}; known contexts: "
                f"{', '.join(self._contexts) or '(none)'}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._contexts

    def __len__(self) -> int:
        return len(self._contexts)

    def __repr__(self) -> str:
        return (
            f"ContextMap({self.name!r}, {len(self._contexts)} contexts, "
            f"{len(self._relationships)} relationships)"
        )

    def contexts_frame(self) -> pd.DataFrame:
        """One row per context: context, subdomain, kind, external, owns, terms, description."""
        return pd.DataFrame(
            [
                (
                    c.name,
                    c.subdomain.name,
                    c.kind,
                    c.external,
                    ", ".join(c.owns),
                    len(c.language),
                    c.description,
                )
                for c in self._contexts.values()
            ],
            columns=["context", "subdomain", "kind", "external", "owns", "terms", "description"],
        )

    def relationships_frame(self) -> pd.DataFrame:
        """One row per relationship: upstream, downstream, kind, label, symmetric, note."""
        return pd.DataFrame(
            [
                (r.upstream, r.downstream, r.kind, r.label, r.symmetric, r.note)
                for r in self._relationships
            ],
            columns=["upstream", "downstream", "kind", "label", "symmetric", "note"],
        )

    def glossary(self) -> pd.DataFrame:
        """Every context's ubiquitous language in one table (context, term, meaning).

        Sorting by term puts the same word from different contexts side by
        side, which is how a learner spots a term that means two things.
        """
        frames = [c.glossary() for c in self._contexts.values()]
        if not frames:
            return pd.DataFrame(columns=["context", "term", "meaning"])
        out = pd.concat(frames, ignore_index=True)
        return out.sort_values(["term", "context"], kind="stable").reset_index(drop=True)

    def to_networkx(self) -> nx.MultiDiGraph:
        """The map as a graph: one node per context, one edge upstream -> downstream per relationship.

        Nodes carry ``subdomain``, ``kind`` and ``external``; edges carry
        ``kind``, ``label`` and ``symmetric``. A multigraph, because a pair may
        have several relationships.
        """
        g = nx.MultiDiGraph(name=self.name)
        for c in self._contexts.values():
            g.add_node(c.name, subdomain=c.subdomain.name, kind=c.kind, external=c.external)
        for r in self._relationships:
            g.add_edge(r.upstream, r.downstream, key=r.kind, kind=r.kind, label=r.label,
                       symmetric=r.symmetric)
        return g

    # -- rendering ----------------------------------------------------------

    def to_mermaid(self, direction: str = "LR") -> str:
        """The map as Mermaid flowchart text.

        Arrows point from upstream to downstream; symmetric relationships use a
        two-headed arrow. Nodes are styled by subdomain kind, external contexts
        get a dashed border.

        >>> from labsvc.design import Subdomain, BoundedContext, ContextMap
        >>> g = Subdomain("Payments", "generic")
        >>> cm = ContextMap([BoundedContext("pay", g), BoundedContext("psp", g, external=True)])
        >>> _ = cm.relate("psp", "pay", "ACL")
        >>> print(cm.to_mermaid())  # doctest: +NORMALIZE_WHITESPACE
        flowchart LR
            pay["pay<br/>generic: Payments"]
            psp["psp<br/>generic: Payments<br/>(external)"]
            psp -->|ACL| pay
            classDef core fill:#fde2b3,stroke:#c77c02
            classDef supporting fill:#d7e8fb,stroke:#2f6db5
            classDef generic fill:#e6e6e6,stroke:#666666
            classDef external stroke-dasharray:5 5
            class pay,psp generic
            class psp external
        """
        return flowchart(self._contexts.values(), self._relationships, direction, kinds=SUBDOMAIN_KINDS)

    def _repr_markdown_(self) -> str:
        # Jupyter shows this; JupyterLab >= 4.1 and GitHub render the block.
        return f"```mermaid\n{self.to_mermaid()}\n```"
