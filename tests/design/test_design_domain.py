"""Subdomains, bounded contexts and context maps."""

from __future__ import annotations

import pandas as pd
import pytest

from labsvc.design import (
    RELATIONSHIP_KINDS,
    SUBDOMAIN_KINDS,
    BoundedContext,
    ContextMap,
    Subdomain,
    UnknownContextError,
)
from labsvc.core.errors import ConfigurationError, LabsvcError

CORE = Subdomain("Sales", "core")
GENERIC = Subdomain("Payments", "generic")


def small_map() -> ContextMap:
    return ContextMap(
        [
            BoundedContext("catalog", CORE, {"Product": "what a customer buys"}, owns=["Product"]),
            BoundedContext("inventory", Subdomain("Stock", "supporting"),
                           {"Product": "the supplier's article", "Item": "a unit on the shelf"},
                           owns=["Item"]),
            BoundedContext("payment", GENERIC),
            BoundedContext("payment-provider", GENERIC, external=True),
        ],
        name="mini shop",
    )


# -- subdomains and contexts ----------------------------------------------------


@pytest.mark.parametrize("kind", SUBDOMAIN_KINDS)
def test_subdomain_kinds(kind):
    assert Subdomain("x", kind.upper()).kind == kind


def test_subdomain_rejects_unknown_kind_and_lists_valid_ones():
    with pytest.raises(ConfigurationError) as info:
        Subdomain("Billing", "important")
    message = str(info.value)
    assert "'important'" in message
    assert all(k in message for k in SUBDOMAIN_KINDS)
    assert isinstance(info.value, (LabsvcError, ValueError))


def test_subdomain_needs_a_name():
    with pytest.raises(ConfigurationError, match="non-empty"):
        Subdomain("  ", "core")


def test_bounded_context_glossary_and_kind():
    bc = BoundedContext("inventory", Subdomain("Stock", "supporting"),
                        {"Item": "a unit", "Product": "an article"}, owns="Item")
    assert bc.kind == "supporting"
    assert bc.owns == ("Item",)  # a single string is one entity, not five letters
    table = bc.glossary()
    assert list(table.columns) == ["context", "term", "meaning"]
    assert table["term"].tolist() == ["Item", "Product"]  # sorted
    with pytest.raises(TypeError):
        bc.language["Item"] = "changed"  # read-only


def test_bounded_context_validation():
    with pytest.raises(ConfigurationError, match="Subdomain"):
        BoundedContext("x", "core")
    with pytest.raises(ConfigurationError, match="str terms"):
        BoundedContext("x", CORE, {"Product": 3})


# -- context map ----------------------------------------------------------------


def test_relate_accepts_common_spellings():
    cm = small_map()
    assert cm.relate("catalog", "inventory", "Shared Kernel").kind == "shared-kernel"
    assert cm.relate("payment-provider", "payment", "OHS").kind == "open-host-service"
    assert cm.relate("payment-provider", "payment", "acl").kind == "anticorruption-layer"
    assert cm.relate("payment", "catalog", "customer_supplier").kind == "customer-supplier"
    assert [r.label for r in cm.relationships] == ["SK", "OHS", "ACL", "C/S"]


def test_unknown_relationship_kind_lists_valid_kinds():
    with pytest.raises(ConfigurationError) as info:
        small_map().relate("catalog", "inventory", "friendship")
    assert all(k in str(info.value) for k in RELATIONSHIP_KINDS)


def test_unknown_context_is_a_clear_lookup_error():
    with pytest.raises(UnknownContextError) as info:
        small_map().relate("catalog", "shipping", "conformist")
    message = str(info.value)
    assert "'shipping'" in message and "catalog, inventory, payment, payment-provider" in message
    assert isinstance(info.value, LookupError) and isinstance(info.value, ConfigurationError)
    with pytest.raises(UnknownContextError):
        small_map()["nope"]


def test_relationship_rules():
    cm = small_map()
    with pytest.raises(ConfigurationError, match="two different"):
        cm.relate("catalog", "catalog", "partnership")
    cm.relate("catalog", "inventory", "partnership")
    with pytest.raises(ConfigurationError, match="already"):
        cm.relate("inventory", "catalog", "partnership")  # symmetric: same pair reversed
    cm.relate("inventory", "catalog", "customer-supplier")  # another kind is fine
    with pytest.raises(ConfigurationError, match="unique name"):
        cm.add(BoundedContext("catalog", CORE))


def test_frames_and_graph():
    cm = small_map()
    cm.relate("catalog", "inventory", "partnership", note="plan together")
    cm.relate("payment-provider", "payment", "conformist")
    rel = cm.relationships_frame()
    assert list(rel.columns) == ["upstream", "downstream", "kind", "label", "symmetric", "note"]
    assert rel["symmetric"].tolist() == [True, False]
    assert rel.loc[0, "note"] == "plan together"
    ctx = cm.contexts_frame()
    assert ctx.set_index("context").loc["payment-provider", "external"]
    assert ctx.set_index("context").loc["catalog", "owns"] == "Product"
    g = cm.to_networkx()
    assert g.number_of_nodes() == 4 and g.number_of_edges() == 2
    assert g.nodes["inventory"]["kind"] == "supporting"


def test_glossary_puts_the_same_word_side_by_side():
    table = small_map().glossary()
    product = table[table["term"] == "Product"]
    # one term, two contexts, two meanings: the reason for a boundary
    assert product["context"].tolist() == ["catalog", "inventory"]
    assert product["meaning"].nunique() == 2
    assert ContextMap().glossary().empty


def test_mermaid_text():
    cm = small_map()
    cm.relate("catalog", "inventory", "shared-kernel")
    cm.relate("payment-provider", "payment", "ACL")
    text = cm.to_mermaid()
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert '    catalog["catalog<br/>core: Sales"]' in lines
    # ids are made Mermaid-safe, external contexts say so
    assert '    payment_provider["payment-provider<br/>generic: Payments<br/>(external)"]' in lines
    assert "    catalog <-->|SK| inventory" in lines  # symmetric: two heads
    assert "    payment_provider -->|ACL| payment" in lines  # upstream -> downstream
    assert "    class catalog core" in lines
    assert "    class payment_provider external" in lines
    assert cm.to_mermaid("TB").startswith("flowchart TB")
    with pytest.raises(ConfigurationError):
        cm.to_mermaid("diagonal")


def test_mermaid_ids_are_unique_and_safe():
    cm = ContextMap([BoundedContext("a b", CORE), BoundedContext("a_b", CORE),
                     BoundedContext("end", CORE), BoundedContext("9x", CORE),
                     BoundedContext('say "hi"', CORE)])
    text = cm.to_mermaid()
    assert ' a_b["a b<br/>' in text and ' a_b_2["a_b<br/>' in text
    assert ' c_end["end<br/>' in text and ' c_9x["9x<br/>' in text
    assert "#quot;hi#quot;" in text


def test_repr_markdown_is_a_mermaid_block():
    cm = small_map()
    md = cm._repr_markdown_()
    assert md.startswith("```mermaid\nflowchart LR\n") and md.endswith("\n```")
    assert "4 contexts" in repr(cm)


def test_contexts_mapping_is_read_only():
    cm = small_map()
    assert list(cm.contexts) == ["catalog", "inventory", "payment", "payment-provider"]
    with pytest.raises(TypeError):
        cm.contexts["x"] = None
    assert "catalog" in cm and len(cm) == 4
    assert isinstance(cm.relationships_frame(), pd.DataFrame)
