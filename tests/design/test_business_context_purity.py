"""labsvc.design.references.business_context_purity: Mono2Micro's BCP, worked out by hand."""

import math

import pytest

from labsvc.core.errors import ConfigurationError
from labsvc.design import Decomposition
from labsvc.design.references import business_context_purity

USE_CASES = {"Cart": ["checkout"], "Order": ["checkout", "order history"],
             "Product": ["browse", "checkout"], "Price": ["browse"]}


def test_bcp_is_the_mean_log_of_use_cases_per_service():
    good = Decomposition("good", {"Cart": "orders", "Order": "orders", "Product": "catalog", "Price": "catalog"})
    bad = Decomposition("bad", {"Cart": "x", "Product": "x", "Order": "y", "Price": "y"})
    assert business_context_purity(good, USE_CASES) == pytest.approx(math.log(2))
    assert business_context_purity(bad, USE_CASES) == pytest.approx((math.log(2) + math.log(3)) / 2)


def test_one_use_case_per_service_is_pure_and_unknown_counts_as_a_use_case():
    split = Decomposition("pure", {"Cart": "a", "Price": "b"})
    assert business_context_purity(split, USE_CASES) == 0.0
    assert business_context_purity(Decomposition("d", {"Cart": "a", "Ghost": "a"}), USE_CASES) == pytest.approx(
        math.log(2))  # checkout + Unknown


def test_bad_input_says_what_to_fix():
    with pytest.raises(ConfigurationError, match="expected a Decomposition"):
        business_context_purity({"Cart": "a"}, USE_CASES)
    with pytest.raises(ConfigurationError, match="must be a list"):
        business_context_purity(Decomposition("d", {"Cart": "a"}), {"Cart": "checkout"})
    with pytest.raises(ConfigurationError, match="must map each module"):
        business_context_purity(Decomposition("d", {"Cart": "a"}), [("Cart", "checkout")])
