"""datasets/shop/generate.py is deterministic: it regenerates the committed files byte for byte."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SHOP = Path(__file__).resolve().parents[2] / "datasets" / "shop"


@pytest.fixture(scope="module")
def generator():
    # generate.py is a script beside its data, not part of the package
    spec = importlib.util.spec_from_file_location("shop_generate", SHOP / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerates_identical_files(generator, tmp_path):
    written = generator.generate(tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted(p.name for p in SHOP.glob("*.csv"))
    for name in names:
        assert (tmp_path / name).read_bytes() == (SHOP / name).read_bytes(), name


def test_generation_is_repeatable_and_seeded(generator, tmp_path):
    generator.generate(tmp_path / "one")
    generator.generate(tmp_path / "two")
    generator.generate(tmp_path / "other", seed=generator.SEED + 1)
    for name in ("dependencies.csv", "changes.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
        # another seed draws other weights and changes: the seed is what fixes them
        assert (tmp_path / "one" / name).read_bytes() != (tmp_path / "other" / name).read_bytes()
    # the hand-written tables do not depend on the seed
    assert (tmp_path / "one" / "modules.csv").read_bytes() == (tmp_path / "other" / "modules.csv").read_bytes()


def test_main_writes_to_out(generator, tmp_path, capsys):
    generator.main(["--out", str(tmp_path)])
    assert (tmp_path / "changes.csv").is_file()
    assert "changes.csv" in capsys.readouterr().out
