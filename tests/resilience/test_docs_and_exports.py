"""labsvc.resilience exports what it documents, loads the lab and plots on first use, and its examples run."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

import labsvc.resilience as resilience

MODULES = ["labsvc.resilience", "labsvc.resilience._guard", "labsvc.resilience.timeout", "labsvc.resilience.retry",
           "labsvc.resilience.circuit_breaker", "labsvc.resilience.bulkhead", "labsvc.resilience.fallback",
           "labsvc.resilience._filters", "labsvc.resilience._config", "labsvc.resilience.plots"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0


def test_every_exported_name_resolves_and_has_a_docstring():
    assert len(resilience.__all__) == len(set(resilience.__all__))
    for name in resilience.__all__:
        value = getattr(resilience, name)
        if callable(value):
            assert value.__doc__, f"labsvc.resilience.{name} has no docstring"


def test_the_lab_and_its_plots_are_exported_and_the_same_objects():
    lab = importlib.import_module("labsvc.resilience.lab")
    plots = importlib.import_module("labsvc.resilience.plots")
    assert set(lab.__all__) <= set(resilience.__all__)
    assert set(plots.__all__) <= set(lab.__all__) | {"plot_state_timeline"}
    for name in lab.__all__:
        assert getattr(resilience, name) is getattr(lab, name)
    assert lab.plot_breaker is plots.plot_breaker and lab.plot_fanout.__module__ == "labsvc.resilience.plots"


def test_unknown_attribute_says_so():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        resilience.nope  # noqa: B018


def test_the_patterns_import_without_matplotlib_or_the_lab():
    code = ("import sys, labsvc.resilience; "
            "print(sorted(m for m in ('matplotlib', 'labsvc.resilience.lab', 'labsvc.resilience.plots') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
