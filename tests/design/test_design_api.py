"""The public API of labsvc.design does not change by accident, and its examples run."""

from __future__ import annotations

import doctest
import importlib

import pytest

import labsvc.design

EXPORTED = {
    # domain
    "SUBDOMAIN_KINDS", "RELATIONSHIP_KINDS", "SYMMETRIC_RELATIONSHIP_KINDS", "Subdomain",
    "BoundedContext", "Relationship", "ContextMap", "UnknownContextError",
    # decompositions
    "Decomposition", "DecompositionError", "single_service", "one_per_module", "by_column",
    "by_layer", "suggest_by_communities",
    # metrics
    "METRICS", "log_weights", "inter_service_weight", "inter_service_share",
    "service_dependencies", "coupling_matrix", "service_graph", "service_cohesion", "cohesion",
    "edge_density", "modularity", "structural_modularity", "interface_number",
    "largest_service_share", "size_cv", "non_extreme_distribution", "change_impact",
    "mean_services_per_change", "multi_service_change_share", "compare",
    # datasets
    "DATASETS_ENV", "MONOLITHS", "datasets_dir", "build_graph", "ShopDataset", "MonolithDataset",
    "load_shop", "load_monolith",
    # plots
    "KIND_COLORS", "plot_context_map", "plot_decomposition", "plot_comparison",
}

MODULES = ["domain", "decomposition", "metrics", "datasets", "plots"]


def test_exported_names():
    assert set(labsvc.design.__all__) == EXPORTED
    assert len(labsvc.design.__all__) == len(EXPORTED)  # no duplicates
    for name in EXPORTED:
        assert getattr(labsvc.design, name) is not None


def test_every_module_export_is_reexported():
    for name in MODULES:
        module = importlib.import_module(f"labsvc.design.{name}")
        assert set(module.__all__) <= EXPORTED, name


def test_public_callables_have_docstrings():
    for name in EXPORTED:
        obj = getattr(labsvc.design, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name


@pytest.mark.parametrize("name", ["__init__", *MODULES, "_graph"])
def test_docstring_examples_run(name):
    module = labsvc.design if name == "__init__" else importlib.import_module(f"labsvc.design.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0 or name == "plots"
