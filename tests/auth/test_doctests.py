"""The examples in the docstrings of labsvc.auth, labsvc.config and labsvc.core.tls run and say what they show."""

import doctest
import importlib

import pytest

MODULES = ["labsvc.auth._keys", "labsvc.auth._tokens", "labsvc.auth._token_service", "labsvc.auth._client",
           "labsvc.config._repository", "labsvc.config._cipher", "labsvc.config._client", "labsvc.core.tls"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
