"""Every notebook from 02 to 14 starts from the shop as the notebooks before it left it, and ends with what it added.

A static check of both editions (the notebooks' own tests run the cells): right after the imports, a cell
``at("nbNN")``; before "Your turn", a cell showing ``after("nbNN").detail(<the aspect this notebook adds>)``.
"""

from pathlib import Path

import nbformat
import pytest

from labsvc.shop import STAGES

ROOT = Path(__file__).resolve().parents[1]
ASPECT = {stage.notebook: stage.aspect for stage in STAGES}
NOTEBOOKS = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if 2 <= int(p.name[:2]) <= 14]
BOTH = NOTEBOOKS + [ROOT / "notebooks" / "ko" / p.name for p in NOTEBOOKS]
TURN = ("## Your turn", "## 직접 해 보기")


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "language" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", BOTH, ids=lambda p: f"{p.parent.name}/{p.name[:2]}")
def test_the_notebook_starts_from_the_shop_so_far_and_ends_with_what_it_added(path):
    nb = nbformat.read(path, as_version=4)
    notebook = f"nb{path.name[:2]}"
    code = _code(nb)
    start = code[1].source
    assert start.splitlines()[:2] == ["from labsvc.shop import after, at",
                                      f'at("{notebook}")   # the shop as the notebooks before this one left it'], \
        f"{path.name}: the cell after the imports should show at({notebook!r})"
    ids = [c.id for c in nb.cells]
    end = next((c for c in nb.cells if c.id == "shop-after-code"), None)
    assert end is not None and f'after("{notebook}").detail("{ASPECT[notebook]}")' in end.source, \
        f"{path.name}: a cell 'shop-after-code' should show after({notebook!r}).detail({ASPECT[notebook]!r})"
    turn = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith(TURN))
    assert ids.index("shop-after") < ids.index("shop-after-code") < turn, f"{path.name}: the shop's section comes before Your turn"
    heading = nb.cells[ids.index("shop-after")].source.splitlines()[0]
    assert heading in ("## Your shop after this notebook", "## 이 노트북을 마친 뒤의 쇼핑몰"), heading


def test_every_stage_has_its_notebook():
    assert sorted(f"nb{p.name[:2]}" for p in NOTEBOOKS) == sorted(ASPECT)
