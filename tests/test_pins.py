"""One set of exact pins, written in three places that must not drift apart.

pyproject.toml is what `make` installs, binder/environment.yml is what Binder
builds, environment.yml is for conda users. A pin added to pyproject.toml is
checked here without editing this file.
"""

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENV_FILES = ["binder/environment.yml", "environment.yml"]
PYTHON = "3.11"

# name[extras]==version, nothing else (no ranges, no markers, no wildcards).
EXACT_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[A-Za-z0-9.+!_-]+)$")


def canonical(name: str) -> str:
    """PEP 503 name: `PyYAML`, `pyyaml` and `py_yaml` are the same package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins_from(requirements: list[str], where: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = EXACT_PIN.match(requirement.strip())
        assert match, f"{where}: {requirement!r} is not an exact pin; write it as name==version"
        name = canonical(match["name"])
        assert name not in pins, f"{where}: {name} is listed twice"
        pins[name] = match["version"]
    return pins


def load_pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def pyproject_pins() -> dict[str, str]:
    project = load_pyproject()["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return pins_from(requirements, "pyproject.toml")


def load_env(relpath: str) -> dict:
    return yaml.safe_load((ROOT / relpath).read_text(encoding="utf-8"))


def split_env(relpath: str) -> tuple[list[str], list[str]]:
    """The conda-level dependencies and the pip section of an environment file."""
    conda, pip = [], []
    for dependency in load_env(relpath)["dependencies"]:
        if isinstance(dependency, dict):
            assert set(dependency) == {"pip"}, f"{relpath}: unexpected section {dependency}"
            pip += [str(item) for item in dependency["pip"]]
        else:
            conda.append(str(dependency))
    return conda, pip


def test_every_pyproject_dependency_is_an_exact_pin():
    project = load_pyproject()["project"]
    assert project["dependencies"], "pyproject.toml lists no runtime dependencies"
    assert "test" in project.get("optional-dependencies", {}), "pyproject.toml has no [test] extra"
    pins = pyproject_pins()  # fails on the first requirement that is not name==version
    runtime = pins_from(project["dependencies"], "pyproject.toml")
    for name, requirements in project["optional-dependencies"].items():
        overlap = set(runtime) & set(pins_from(requirements, f"pyproject.toml [{name}]"))
        assert not overlap, f"[{name}] repeats runtime dependencies {sorted(overlap)}"
    assert len(pins) >= len(runtime)


def test_build_system_is_setuptools():
    build = load_pyproject()["build-system"]
    assert build["build-backend"] == "setuptools.build_meta"
    assert any(canonical(re.split(r"[<>=!~ ]", req)[0]) == "setuptools" for req in build["requires"])


def test_requires_python_admits_the_environment_python():
    assert load_pyproject()["project"]["requires-python"] == f">={PYTHON}"


@pytest.mark.parametrize("relpath", ENV_FILES)
def test_environment_file_uses_python_311_from_conda_forge(relpath):
    env = load_env(relpath)
    assert env["channels"] == ["conda-forge"], f"{relpath}: use conda-forge only"
    conda, _ = split_env(relpath)
    assert f"python={PYTHON}" in conda, f"{relpath}: pin python={PYTHON}"
    assert "pip" in conda, f"{relpath}: list pip so the pip section can be installed"
    others = sorted(set(conda) - {f"python={PYTHON}", "pip"})
    assert not others, f"{relpath}: put {others} in pyproject.toml and the pip section instead"


@pytest.mark.parametrize("relpath", ENV_FILES)
def test_environment_file_has_the_pyproject_pins(relpath):
    _, pip = split_env(relpath)
    editable = [item for item in pip if item.startswith("-e")]
    pins = pins_from([item for item in pip if not item.startswith("-e")], relpath)
    expected = pyproject_pins()
    missing = {name: version for name, version in expected.items() if name not in pins}
    extra = {name: version for name, version in pins.items() if name not in expected}
    differ = {name: (pins[name], expected[name]) for name in pins.keys() & expected.keys() if pins[name] != expected[name]}
    assert not missing, f"{relpath} lacks pins that pyproject.toml has: {missing}"
    assert not extra, f"{relpath} pins packages that pyproject.toml does not: {extra}"
    assert not differ, f"{relpath} disagrees with pyproject.toml (file, pyproject): {differ}"
    if relpath == "environment.yml":
        assert editable == ["-e ."], "environment.yml should install labsvc itself with '-e .'"
    else:
        assert editable == [], "Binder installs labsvc in binder/postBuild, not in the environment"


def test_the_environment_running_the_tests_has_the_pins():
    wrong = {}
    for name, version in pyproject_pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = f"pinned {version}, installed {installed}"
    assert not wrong, f"run `make install` (or pip install -e '.[test]'): {wrong}"


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make lab" in readme
    assert "make test" in readme


def test_ci_runs_make_test():
    script = ROOT / ".ci" / "run"
    commands = [line.strip() for line in script.read_text(encoding="utf-8").splitlines()]
    assert "make test" in commands, ".ci/run must run the README's test command, `make test`"
    assert os.access(script, os.X_OK), "chmod +x .ci/run"


def test_binder_post_build_installs_labsvc_without_touching_the_pins():
    script = ROOT / "binder" / "postBuild"
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash")
    assert "set -euo pipefail" in text
    assert re.search(r"pip install --no-deps .*-e \.$", text, re.MULTILINE)
    assert os.access(script, os.X_OK), "chmod +x binder/postBuild"
