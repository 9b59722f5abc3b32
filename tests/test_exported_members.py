"""The public API of ``labsvc`` changes only on purpose (as httpx does it)."""

import labsvc

EXPECTED = [
    "Client", "Clock", "ConfigurationError", "DuplicateInstanceError", "Exponential", "FakeClock", "Fault", "Fixed",
    "Instance", "InstanceDownError", "LabsvcError", "LoadRun", "LogNormal", "MonotonicClock", "Network",
    "NetworkStateError", "Normal", "PartitionError", "Problem", "ProcessModeError", "Service", "Uniform",
    "UnknownInstanceError", "UnknownServiceError", "__version__", "check", "closed_loop", "create_service", "http",
    "open_loop", "problem",
]


def test_exported_names_are_the_documented_ones():
    assert sorted(labsvc.__all__) == sorted(EXPECTED)


def test_every_exported_name_resolves_and_has_a_docstring():
    for name in labsvc.__all__:
        value = getattr(labsvc, name)
        if name != "__version__":
            assert value.__doc__, f"labsvc.{name} has no docstring"


def test_unknown_attribute_says_so():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        labsvc.nope  # noqa: B018
