"""labsvc.design's chapter module and private parts: one export list, the notebooks' harnesses, split modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

import labsvc.design
from labsvc.core.errors import ConfigurationError
from labsvc.design import Relationship, lab, topology

PARTS = ["domain", "decomposition", "metrics", "datasets", "plots"]


def test_the_package_exports_each_module_list_once_in_order():
    expected = [name for part in PARTS for name in importlib.import_module(f"labsvc.design.{part}").__all__]
    assert labsvc.design.__all__ == expected


def test_lab_gives_the_topology_harnesses():
    for name in set(lab.__all__) - {"reads_through_api"}:  # notebook 02's experiment is lab's own
        assert getattr(lab, name) is getattr(topology, name), name
    assert {"deploy", "runtime_metrics", "compare_runtime"} <= set(lab.__all__)


def test_change_impact_and_mermaid_keep_their_public_homes():
    from labsvc.design import _change_impact, metrics

    for name in ("change_impact", "mean_services_per_change", "multi_service_change_share"):
        assert getattr(metrics, name) is getattr(_change_impact, name) is getattr(labsvc.design, name)


def test_relationship_normalise_kind_accepts_what_relate_accepts():
    assert Relationship.normalise_kind("Anti Corruption Layer") == "anticorruption-layer"
    with pytest.raises(ConfigurationError, match="unknown relationship kind"):
        Relationship.normalise_kind("friendship")


@pytest.mark.parametrize("name", ["lab", "_change_impact", "_mermaid"])
def test_docstring_examples_run(name):
    module = importlib.import_module(f"labsvc.design.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
