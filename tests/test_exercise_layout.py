"""An exercise's folded hint and solution stand apart from the next exercise: a rule (---) between them."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb"))
# text that follows a closing </details> in the same cell, with no rule and no further <details> in between
RUNS_ON = re.compile(r"</details>\n+(?!\s*(?:---|<details>|$))(?=\S)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_a_solution_is_followed_by_a_rule_before_the_next_text(path):
    joined = [cell.get("id") for cell in nbformat.read(path, as_version=4).cells
              if cell.cell_type == "markdown" and RUNS_ON.search(cell.source)]
    assert not joined, f"{path.name}: cells {joined} run from a solution straight into the next text; put a line '---' between"


def test_the_rule_check_tells_a_joined_cell_from_a_separated_one():
    assert RUNS_ON.search("<details>x</details>\n\n**Exercise 2.** ...")
    assert not RUNS_ON.search("<details>x</details>\n\n---\n\n**Exercise 2.** ...")
    assert not RUNS_ON.search("<details>x</details>\n<details><summary>Solution</summary>y</details>\n")


SOLUTION = re.compile(r"<summary>(?:Solution|풀이)</summary>\s*```python\n(.*?)```", re.S)
ENGLISH = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", ENGLISH, ids=lambda p: p.stem)
def test_korean_solutions_are_the_english_code(path):
    """The Korean edition's exercises run as the English ones do after Run All (tests/notebooks replays those):
    its solution blocks hold the same code, under 풀이."""
    def solutions(p):
        return {c.get("id"): SOLUTION.findall(c.source) for c in nbformat.read(p, as_version=4).cells
                if c.cell_type == "markdown" and "<details>" in c.source}
    english, korean = solutions(path), solutions(path.parent / "ko" / path.name)
    assert any(english.values()), f"{path.name} has no solution blocks"
    differ = [cell for cell, code in english.items() if korean.get(cell) != code]
    assert not differ, f"ko/{path.name}: the solution code in cells {differ} differs from the English (or is not under 풀이)"
