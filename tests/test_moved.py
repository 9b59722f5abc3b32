"""Old import paths (labsvc 0.1) keep working for one release and warn, naming the new path."""

import importlib
import warnings

import pytest

from labsvc.core.network import Network

OLD_TO_NEW = [
    ("labsvc.network", "Network", "labsvc.core.network"),
    ("labsvc.clock", "FakeClock", "labsvc.core.clock"),
    ("labsvc.errors", "ConfigurationError", "labsvc.core.errors"),
    ("labsvc.service", "create_service", "labsvc.core.service"),
    ("labsvc.load", "open_loop", "labsvc.core.load"),
    ("labsvc.balancing", "RoundRobin", "labsvc.discovery.balancing"),
    ("labsvc.security", "TokenIssuer", "labsvc.auth.jwt_tokens"),
    ("labsvc.studio", "Studio", "labsvc.course.studio"),
    ("labsvc.experiments", "breaker_experiment", "labsvc.resilience.lab"),
    ("labsvc.experiments", "NetworkClock", "labsvc.core.experiment"),
    ("labsvc.experiments.discovery", "DiscoveryLab", "labsvc.discovery.lab"),
    ("labsvc.experiments.platform", "heal_experiment", "labsvc.platform.lab"),
    
]


@pytest.mark.parametrize("old, name, new", [row for row in OLD_TO_NEW if row[2]])
def test_an_old_path_gives_the_same_object_and_warns_with_the_new_path(old, name, new):
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} moved to {new}\.{name}; import it from '{new}'"):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)


def test_an_old_path_warns_once_per_name_and_lists_what_it_has():
    import labsvc.network as old

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old.Network  # noqa: B018
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert old.Network is Network  # the second read is quiet
    assert "Network" in dir(old)


def test_a_name_the_old_path_never_had_is_an_attribute_error_naming_both_paths():
    import labsvc.network as old

    with pytest.raises(AttributeError, match="'labsvc.network' \\(moved to 'labsvc.core.network'\\) has no attribute 'nope'"):
        old.nope  # noqa: B018
    import labsvc.experiments as experiments

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        experiments.nope  # noqa: B018
