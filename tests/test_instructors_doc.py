"""The instructors' guide (both languages) names every exercise the course checks, so it cannot fall behind."""

from pathlib import Path

import pytest

from labsvc.course import EXERCISES, _load_all

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("doc", ["docs/instructors.md", "docs/instructors.ko.md"])
def test_every_exercise_is_named_in_the_instructors_guide(doc):
    _load_all()
    text = (ROOT / doc).read_text(encoding="utf-8")
    missing = sorted(exercise for exercise in EXERCISES if f"`{exercise}`" not in text)
    assert not missing, f"{doc} does not name these exercises (add them where their notebook is described): {missing}"
