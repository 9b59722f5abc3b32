"""The precedence of property sources, written down in precedence() and checked against resolve()."""

from __future__ import annotations

import pytest

from labsvc.config import ConfigRepository, flatten, precedence, resolve
from labsvc.errors import ConfigurationError


def layered() -> ConfigRepository:
    repo = ConfigRepository()
    for name in ["application", "application-dev", "application-eu", "greeting", "greeting-dev", "greeting-eu"]:
        repo.put(name, {"who": name, f"only.{name}": True})
    return repo


def test_precedence_is_app_profile_then_app_then_shared_profile_then_shared_and_later_profiles_win():
    assert precedence("greeting") == ["greeting-default", "greeting", "application-default", "application"]
    assert precedence("greeting", ["dev", "eu"]) == [
        "greeting-eu", "greeting-dev", "greeting", "application-eu", "application-dev", "application"]
    assert precedence("application", "dev") == ["application-dev", "application"]


@pytest.mark.parametrize("profiles,winner", [
    ("dev,eu", "greeting-eu"), ("eu,dev", "greeting-dev"), ("dev", "greeting-dev"), ("prod", "greeting"),
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


def test_a_shared_profile_never_beats_the_applications_own_source():
    repo = ConfigRepository()
    repo.put("application-prod", {"greeting.message": "shared prod"})
    repo.put("greeting", {"greeting.message": "own"})
    assert resolve(repo.environment("greeting", "prod"))["greeting.message"] == "own"
    assert resolve(repo.environment("other", "prod"))["greeting.message"] == "shared prod"


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
