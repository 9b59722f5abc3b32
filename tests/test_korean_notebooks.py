"""Every Korean notebook runs top to bottom in a fresh kernel, its tables' headers are in Korean, and after
that Run All every exercise runs again (its placeholder is refused, its solution passes).

A header counts when the catalogue (labsvc.course.display_terms) has Korean for it and the table is one
pandas drew (or the shop's summary); documents rendered as HTML of their own (an OpenAPI contract) keep
their field names.

The Korean edition runs the English code (tests/test_translations.py keeps it byte-identical), so one
pass shows that its cells run; the run is shared with tests/test_output_widths.py, which opens what it
showed in JupyterLab at 1280 px. Re-run safety and the values are checked on the English runs.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from exercise_replay import replay_exercises
from labsvc.course.display_terms import translate

KO = sorted((Path(__file__).resolve().parents[1] / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb"))
pytestmark = pytest.mark.slow
_TABLE = re.compile(r'<table[^>]*class="dataframe[^"]*"[^>]*>.*?</table>', re.S)  # pandas' tables (and the shop's)
_HEADER = re.compile(r"<th[^>]*>([^<]+)</th>")


@pytest.mark.parametrize("path", KO, ids=[f"ko/{p.stem}" for p in KO])
def test_the_korean_notebook_runs_top_to_bottom_shows_korean_headers_and_its_exercises_run_again(
        path: Path, notebook_runs, output_text) -> None:
    run = notebook_runs.get(path, kernel=True)
    try:
        assert run.ok, run.report()
        tables = [t for texts in run.outputs for text in texts.values() for t in _TABLE.findall(text)]
        headers = {html.unescape(h) for table in tables for h in _HEADER.findall(table)}
        english = sorted(h for h in headers if translate(h, table=True) != h)  # the catalogue has Korean for these
        assert not english, f"{path.name}: table headers shown in English although translated: {english}"
        problems = replay_exercises(run.client, path, output_text)  # after Run All: placeholder, then solution
        assert not problems, "\n".join(problems)
    finally:
        notebook_runs.release(path)
