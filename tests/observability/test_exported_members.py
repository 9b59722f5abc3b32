"""labsvc.observability exports what its docstring describes, each name documented."""

import labsvc.observability as obs


def test_every_exported_name_resolves_and_has_a_docstring():
    assert len(obs.__all__) == len(set(obs.__all__))
    for name in obs.__all__:
        value = getattr(obs, name)
        if callable(value):
            assert value.__doc__, f"labsvc.observability.{name} has no docstring"


def test_doctests_run():
    import doctest
    import importlib

    for name in ("_quantile", "_slo", "_scrape", "_logquery", "_tracing", "_metrics", "_observer", "lab"):
        module = importlib.import_module(f"labsvc.observability.{name}")
        result = doctest.testmod(module)
        assert result.failed == 0, f"{name}: {result.failed} doctest(s) failed"
