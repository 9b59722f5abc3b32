"""Checkers for notebook 02 (domain, subdomains and bounded contexts)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..course import Feedback, exercise
from ..design.domain import RELATIONSHIP_KINDS, SUBDOMAIN_KINDS, BoundedContext, _normalise_kind
from ..errors import ConfigurationError

#: The shop's contexts the learner classifies in exercise 1.
TO_CLASSIFY = ("catalog", "order", "inventory", "delivery", "payment", "notification", "search", "customer")

#: Terms the ``returns`` context of exercise 2 must define.
RETURNS_TERMS = ("Return", "Item", "Refund", "Condition")
MIN_WORDS = 5

#: Exercise 3: integrations and the relationship kind each describes.
INTEGRATIONS: dict[str, tuple[str, str]] = {
    "carrier-tracking": (
        "Delivery shows parcel status exactly as the carrier's API returns it. The carrier will not change "
        "its model for us, and we do not translate it.", "conformist"),
    "payment-adapter": (
        "Our payment module wraps the provider's API and translates its messages into our own Payment and "
        "Refund model, so a change at the provider stays in one place.", "anticorruption-layer"),
    "catalog-prices": (
        "Order needs current prices from the catalog; the catalog team plans its API changes around what "
        "the order team asks for.", "customer-supplier"),
    "product-events": (
        "The catalog publishes documented product-changed events in an agreed format; search, and anyone "
        "else, can consume them.", "published-language"),
    "sku-library": (
        "Catalog and inventory share one small, jointly owned piece of model: the SKU code and the "
        "product-to-item mapping. Neither changes it without the other.", "shared-kernel"),
}


def _as_kind_map(answer) -> dict[str, str] | None:
    if not isinstance(answer, Mapping):
        return None
    return {str(k).strip(): str(v).strip().lower() for k, v in answer.items()}


@exercise("02.classify")
def classify(answer, contexts: pd.DataFrame) -> Feedback:
    """``answer`` is ``{context: "core" | "supporting" | "generic"}`` for :data:`TO_CLASSIFY`."""
    given = _as_kind_map(answer)
    if given is None:
        return Feedback(False, "answer with a dict {context: kind}, e.g. {'catalog': 'core', ...}")
    truth = dict(zip(contexts["context"], contexts["subdomain_kind"]))
    missing = [c for c in TO_CLASSIFY if c not in given]
    if missing:
        return Feedback(False, f"classify every one of {list(TO_CLASSIFY)}; missing {missing}")
    bad_kind = {c: k for c, k in given.items() if k not in SUBDOMAIN_KINDS}
    if bad_kind:
        return Feedback(False, f"kinds are {', '.join(SUBDOMAIN_KINDS)}; got {bad_kind}")
    wrong = [c for c in TO_CLASSIFY if given[c] != truth[c]]
    if wrong:
        return Feedback(False, f"{len(wrong)} of {len(TO_CLASSIFY)} differ from the shop's design, e.g. "
                               f"{wrong[0]!r}: ask whether it is what makes this shop win (core), needed but "
                               "ordinary here (supporting), or the same in every business (generic)")
    return Feedback(True, "core: catalog and order, where the shop competes; the rest supports them or "
                          "could be bought (payment, notification, customer accounts).")


@exercise("02.ubiquitous-language")
def ubiquitous_language(answer, glossary: pd.DataFrame | None = None) -> Feedback:
    """``answer`` is a :class:`BoundedContext` named ``returns`` (or its language as a dict)."""
    if isinstance(answer, BoundedContext):
        if answer.name != "returns":
            return Feedback(False, f"name the context 'returns', not {answer.name!r}")
        language = dict(answer.language)
    elif isinstance(answer, Mapping):
        language = {str(k): str(v) for k, v in answer.items()}
    else:
        return Feedback(False, "answer with BoundedContext('returns', Subdomain(...), language={term: meaning})")
    terms = {t.strip().lower(): (t, m) for t, m in language.items()}
    missing = [t for t in RETURNS_TERMS if t.lower() not in terms]
    if missing:
        return Feedback(False, f"the language must define {list(RETURNS_TERMS)}; missing {missing}")
    short = [t for t in RETURNS_TERMS if len(terms[t.lower()][1].split()) < MIN_WORDS]
    if short:
        return Feedback(False, f"say what {short} mean *in this context*, in at least {MIN_WORDS} words each")
    if glossary is not None:
        others = {(str(t).lower(), str(m).strip().lower()) for t, m in zip(glossary["term"], glossary["meaning"])}
        copied = [t for t in RETURNS_TERMS if (t.lower(), terms[t.lower()][1].strip().lower()) in others]
        if copied:
            return Feedback(False, f"{copied}: copied from another context's glossary. What does the word mean "
                                   "for the people handling returns?")
    return Feedback(True, "a context's own language: 'Item' here is the unit that came back, with its "
                          "condition, not the catalog's listing or the warehouse's count.")


@exercise("02.relationship")
def relationship(answer) -> Feedback:
    """``answer`` is ``{integration id: relationship kind}`` for every id of :data:`INTEGRATIONS`."""
    if not isinstance(answer, Mapping):
        return Feedback(False, "answer with a dict {integration id: kind}, one entry per id of INTEGRATIONS")
    missing = [k for k in INTEGRATIONS if k not in answer]
    if missing:
        return Feedback(False, f"give a kind for every integration; missing {missing}")
    wrong = []
    for key, (_, kind) in INTEGRATIONS.items():
        try:
            given = _normalise_kind(answer[key])
        except ConfigurationError:
            return Feedback(False, f"{answer[key]!r} is not a kind; use one of {', '.join(RELATIONSHIP_KINDS)}")
        if given != kind:
            wrong.append(key)
    if wrong:
        return Feedback(False, f"look again at {wrong}: who adapts to whom, who translates, who is upstream?")
    return Feedback(True, "each kind says who adapts: conformist (we take their model), anticorruption "
                          "layer (we translate), customer-supplier (upstream plans for us), published "
                          "language (a documented format), shared kernel (a jointly owned piece).")
