"""The precedence of property sources, written down in precedence() and checked against resolve()."""

from __future__ import annotations

import pytest

from labsvc.config import ConfigRepository, flatten, precedence, resolve
from labsvc.core.errors import ConfigurationError


def layered() -> ConfigRepository:
    repo = ConfigRepository()
    for name in ["application", "application-dev", "application-eu", "greeting", "greeting-dev", "greeting-eu"]:
        repo.put(name, {"who": name, f"only.{name}": True})
    return repo


def test_precedence_order_is_spring_cloud_configs_profile_specific_sources_first():
    """Highest first: {application}-{profile}, application-{profile}, {application}, application.

    Spring Cloud Config's server loads the sources as Spring Boot does (spring.config.name
    ``application,{application}``): profile-specific files beat plain ones whoever owns them,
    the application's own file beats the shared one of the same kind, and the later profile wins.
    """
    assert precedence("greeting", "prod") == ["greeting-prod", "application-prod", "greeting", "application"]
    assert precedence("greeting") == ["greeting-default", "application-default", "greeting", "application"]
    assert precedence("greeting", ["dev", "eu"]) == [
        "greeting-eu", "application-eu", "greeting-dev", "application-dev", "greeting", "application"]
    assert precedence("application", "dev") == ["application-dev", "application"]


@pytest.mark.parametrize("profiles,winner", [
    ("dev,eu", "greeting-eu"), ("eu,dev", "greeting-dev"), ("dev", "greeting-dev"), ("prod", "greeting"),
    ("prod,eu", "greeting-eu"),
])
def test_the_highest_source_wins_each_key(profiles, winner):
    values = resolve(layered().environment("greeting", profiles))
    assert values["who"] == winner
    # every source still contributes the keys nobody above it sets
    assert {k for k in values if k.startswith("only.")} >= {"only.application", "only.greeting"}


def test_removing_sources_one_by_one_walks_down_the_written_order():
    repo = layered()
    order = precedence("greeting", "dev,eu")
    seen = []
    for name in order:
        seen.append(resolve(repo.environment("greeting", "dev,eu"))["who"])
        repo.delete(name)
    assert seen == order
    assert resolve(repo.environment("greeting", "dev,eu")) == {}


def test_a_shared_profile_source_beats_the_applications_plain_source_but_not_its_profile_source():
    repo = ConfigRepository()
    repo.put("application-prod", {"greeting.message": "shared prod"})
    repo.put("greeting", {"greeting.message": "own"})
    assert resolve(repo.environment("greeting", "prod"))["greeting.message"] == "shared prod"
    assert resolve(repo.environment("greeting", "dev"))["greeting.message"] == "own"
    repo.put("greeting-prod", {"greeting.message": "own prod"})
    assert resolve(repo.environment("greeting", "prod"))["greeting.message"] == "own prod"


def test_labels_are_separate_versions_of_the_whole_set():
    repo = ConfigRepository()
    assert repo.put("greeting", {"a": 1}) == 1
    assert repo.put("greeting", {"a": 2}) == 2
    assert repo.put("greeting", {"a": "old"}, label="release-1") == 1
    main, release = repo.environment("greeting"), repo.environment("greeting", label="release-1")
    assert (resolve(main)["a"], main["version"], main["label"]) == (2, "2", "main")
    assert (resolve(release)["a"], release["version"]) == ("old", "1")
    assert main["propertySources"][0]["name"] == "main:greeting"
    with pytest.raises(ConfigurationError, match="no label 'v9'"):
        repo.environment("greeting", label="v9")
    assert repo.history["version"].tolist() == [1, 2, 1]


def test_nested_properties_are_flattened_and_bad_names_explained():
    assert flatten({"a": {"b": {"c": 1}}, "d": 2}) == {"a.b.c": 1, "d": 2}
    repo = ConfigRepository()
    with pytest.raises(ConfigurationError, match="source name"):
        repo.put("Greeting Prod", {})
    with pytest.raises(ConfigurationError, match="profile"):
        precedence("greeting", "Prod!")
    with pytest.raises(ConfigurationError, match="mapping"):
        repo.put("greeting", ["not", "a", "mapping"])
