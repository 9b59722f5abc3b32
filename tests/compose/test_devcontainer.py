"""The Codespaces path: ``.devcontainer/devcontainer.json`` is valid against the Dev Container schema (offline)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parent / "schemas"


def load(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def _flatten(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The error and, under a oneOf/anyOf, the errors of each alternative (which name the field)."""
    out = [error]
    for sub in error.context or []:
        out += _flatten(sub)
    return out


def errors(config: dict) -> list[str]:
    """Every violation of the specification's schema and of its Codespaces part, as 'path: message'."""
    found = []
    for name, validator in (("devContainer.base.schema.json", jsonschema.Draft201909Validator),
                            ("devContainer.codespaces.schema.json", jsonschema.Draft7Validator)):
        for top in validator(load(name)).iter_errors(config):
            for e in _flatten(top):
                found.append(f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}")
    return found


@pytest.fixture(scope="module")
def config() -> dict:
    return json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text(encoding="utf-8"))


def test_devcontainer_json_is_valid_against_the_schema(config):
    assert errors(config) == []


def test_it_gives_python_3_11_installs_with_make_and_opens_the_first_notebook(config):
    assert "python:" in config["image"] and "3.11" in config["image"]
    assert config["postCreateCommand"] == "make install"
    assert 8888 in config["forwardPorts"]
    opened = config["customizations"]["codespaces"]["openFiles"]
    assert opened == ["notebooks/00_start_here.ipynb"] and (ROOT / opened[0]).is_file()


@pytest.mark.parametrize("break_it, where", [
    (lambda c: c.update(forwardPorts="8888"), "forwardPorts"),
    (lambda c: c["customizations"]["codespaces"].update(openFiles="notebooks/00_start_here.ipynb"),
     "customizations.codespaces.openFiles"),
    (lambda c: c.update(postCreateCommand=42), "postCreateCommand"),
])
def test_a_broken_file_is_rejected_naming_the_field(config, break_it, where):
    broken = copy.deepcopy(config)
    break_it(broken)
    assert any(e.startswith(where) for e in errors(broken)), errors(broken)
