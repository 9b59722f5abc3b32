"""Settings shared by the whole test suite (kept small: fixtures live beside their tests)."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's top folder (where pyproject.toml is)."""
    return REPO_ROOT
