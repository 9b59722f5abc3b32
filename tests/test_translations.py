"""The Korean edition cannot drift from the English one: each kind of drift is caught, sync repairs the code.

The first part builds small notebooks in tmp_path and shows every kind of
drift :mod:`labsvc.course.translations` reports; the second checks the repository's
own ``notebooks/ko/`` against ``notebooks/``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from labsvc.course.translations import (LANGUAGE_CELL, Drift, check_tree, compare, en_sha256, language_cell, main,
                                 sync, sync_notebook)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def cell(kind: str, source: str, cell_id: str):
    new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    made = new(source)
    made.id = cell_id
    return made


def english():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [cell("markdown", "# Title\n\nSome prose.", "m1"), cell("code", "x = 1\nx", "c1"),
                cell("markdown", "## Section", "m2"), cell("code", "print(x)  # show it", "c2")]
    return nb


def translate(en):
    """A correct Korean edition of ``en``: language cell, code copied, markdown translated and hashed."""
    ko = copy.deepcopy(en)
    for c in ko.cells:
        if c.cell_type == "markdown":
            c.metadata["labsvc"] = {"en_sha256": en_sha256(c.source)}
            c.source = "번역: " + c.source
    ko.cells.insert(0, language_cell())
    return ko


def kinds(drifts):
    return [(d.kind, d.cell) for d in drifts]


# --- each kind of drift -----------------------------------------------------------------------------------

def test_a_faithful_translation_has_no_drift():
    en = english()
    assert compare(en, translate(en)) == []


def test_code_cell_edited_in_english_only():
    en = english()
    ko = translate(en)
    en.cells[1].source = "x = 2\nx"
    assert kinds(compare(en, ko)) == [("code-differs", "c1")]


def test_code_translated_by_mistake():
    en = english()
    ko = translate(en)
    ko.cells[4].source = "print(x)  # 보여 주기"  # even a comment: code is byte-identical
    assert kinds(compare(en, ko)) == [("code-differs", "c2")]


def test_english_markdown_changed_since_translation_is_stale():
    en = english()
    ko = translate(en)
    en.cells[2].source = "## Section, renamed"
    drifts = compare(en, ko)
    assert kinds(drifts) == [("stale", "m2")]
    assert "renamed" in str(drifts[0])


def test_markdown_without_a_hash_is_untranslated():
    en = english()
    ko = translate(en)
    del ko.cells[1].metadata["labsvc"]
    assert kinds(compare(en, ko)) == [("untranslated", "m1")]


def test_cell_added_and_removed_in_english():
    en = english()
    ko = translate(en)
    en.cells.insert(2, cell("markdown", "A new paragraph.", "m1b"))
    del en.cells[4]  # c2 gone from English
    assert sorted(kinds(compare(en, ko))) == [("cell-added", "m1b"), ("cell-removed", "c2")]


def test_cells_reordered_or_retyped():
    en = english()
    ko = translate(en)
    ko.cells[1], ko.cells[2] = ko.cells[2], ko.cells[1]
    assert kinds(compare(en, ko)) == [("order-differs", "c1")]
    ko = translate(en)
    ko.cells[3].cell_type = "raw"
    assert kinds(compare(en, ko)) == [("type-differs", "m2")]


@pytest.mark.parametrize("broken", ["missing", "untagged", "other-language"])
def test_first_cell_must_be_the_language_cell(broken):
    en = english()
    ko = translate(en)
    if broken == "missing":
        del ko.cells[0]
    elif broken == "untagged":
        ko.cells[0].metadata = {}
    else:
        ko.cells[0].source = LANGUAGE_CELL.replace('"ko"', '"en"')
    assert ("no-language-cell", ko.cells[0].id) in kinds(compare(en, ko))


def test_kernelspec_must_match():
    en = english()
    ko = translate(en)
    ko.metadata["kernelspec"] = {"name": "python2"}
    assert kinds(compare(en, ko)) == [("kernelspec-differs", None)]


def write_tree(tmp_path, english_names, korean_names):
    folder = tmp_path / "notebooks"
    (folder / "ko").mkdir(parents=True)
    for name in english_names:
        nbformat.write(english(), folder / name)
    for name in korean_names:
        nbformat.write(translate(english()), folder / "ko" / name)
    return folder


def test_a_notebook_in_one_language_only(tmp_path):
    folder = write_tree(tmp_path, ["00_a.ipynb", "01_b.ipynb"], ["00_a.ipynb", "02_c.ipynb"])
    drifts = check_tree(folder)
    assert [(d.kind, d.notebook) for d in drifts] == [("no-korean-edition", "01_b.ipynb"),
                                                      ("no-english-notebook", "02_c.ipynb")]


def test_check_tree_names_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="--notebooks"):
        check_tree(tmp_path / "nowhere")


# --- sync: code follows English, prose is never invented ----------------------------------------------------

def test_sync_copies_changed_added_and_removed_code_and_leaves_markdown_to_a_translator():
    en = english()
    ko = translate(en)
    en.cells[1].source = "x = 2\nx"                              # changed
    en.cells.insert(2, cell("code", "y = x + 1", "c1b"))         # added after c1
    en.cells.insert(3, cell("markdown", "New prose.", "m1c"))    # added prose: not invented
    del en.cells[5]                                              # c2 removed
    synced, changed = sync_notebook(en, ko)
    assert changed
    assert [c.id for c in synced.cells] == ["ko-language", "m1", "c1", "c1b", "m2"]
    assert synced.cells[2].source == "x = 2\nx" and synced.cells[3].source == "y = x + 1"
    assert synced.cells[1].source.startswith("번역: ")            # translations untouched
    assert kinds(compare(en, synced)) == [("cell-added", "m1c")]
    assert ko.cells[2].source == "x = 1\nx"                       # the input was not modified


def test_sync_puts_a_missing_language_cell_first_and_is_idempotent():
    en = english()
    ko = translate(en)
    del ko.cells[0]
    synced, changed = sync_notebook(en, ko)
    assert changed and synced.cells[0].source == LANGUAGE_CELL
    again, changed_again = sync_notebook(en, synced)
    assert not changed_again and again == synced
    assert compare(en, synced) == []


def test_sync_and_check_on_disk_and_the_command_line(tmp_path, capsys):
    folder = write_tree(tmp_path, ["00_a.ipynb"], ["00_a.ipynb"])
    en = nbformat.read(folder / "00_a.ipynb", as_version=4)
    en.cells[3].source = "print(x + 1)"
    en.cells[2].source = "## Section (changed)"
    nbformat.write(en, folder / "00_a.ipynb")
    assert main(["--notebooks", str(folder), "check"]) == 1
    out = capsys.readouterr().out
    assert "code-differs" in out and "stale" in out and "2 drift(s)" in out
    written, left = sync(folder)
    assert written == [folder / "ko" / "00_a.ipynb"]
    assert kinds(left) == [("stale", "m2")]
    ko = nbformat.read(folder / "ko" / "00_a.ipynb", as_version=4)
    assert ko.cells[4].source == "print(x + 1)"
    assert main(["--notebooks", str(folder), "hash", str(folder / "00_a.ipynb"), "m2"]) == 0
    assert capsys.readouterr().out.strip() == en_sha256("## Section (changed)")
    ko.cells[3].metadata["labsvc"]["en_sha256"] = en_sha256(en.cells[2].source)  # the translator updates it
    nbformat.write(ko, folder / "ko" / "00_a.ipynb")
    assert main(["--notebooks", str(folder), "check"]) == 0
    assert main(["--notebooks", str(folder), "hash", str(folder / "00_a.ipynb"), "nope"]) == 2


def test_en_sha256_hashes_the_joined_source():
    assert en_sha256(["# A\n", "b"]) == en_sha256("# A\nb")
    assert Drift("stale", "x.ipynb", "m1").kind in Drift.KINDS


# --- the repository's Korean edition ------------------------------------------------------------------------

ENGLISH = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
KOREAN = sorted(p.name for p in (NOTEBOOKS / "ko").glob("*.ipynb"))


@pytest.mark.parametrize("name", ENGLISH)
def test_every_english_notebook_has_a_korean_edition(name):
    assert (NOTEBOOKS / "ko" / name).is_file(), f"translate notebooks/{name} into notebooks/ko/{name}"


@pytest.mark.parametrize("name", KOREAN)
def test_korean_notebook_is_in_step_with_english(name):
    assert (NOTEBOOKS / name).is_file(), f"notebooks/ko/{name} has no English notebooks/{name}"
    drifts = compare(nbformat.read(NOTEBOOKS / name, as_version=4),
                     nbformat.read(NOTEBOOKS / "ko" / name, as_version=4), name)
    assert not drifts, ("run `python -m labsvc.course.translations sync`, then translate what is left:\n"
                        + "\n".join(map(str, drifts)))


@pytest.mark.parametrize("name", KOREAN)
def test_korean_notebook_links_point_to_korean_notebooks(name):
    import re

    nb = nbformat.read(NOTEBOOKS / "ko" / name, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    links = re.findall(r"\]\(([^)\s]+\.ipynb)\)", text)
    wrong = [link for link in links if "/" in link and not link.startswith("../ko/")]
    assert not wrong, f"{name}: link the Korean notebooks (same folder), not {wrong}"
    broken = [link for link in links if "/" not in link and not (NOTEBOOKS / link).is_file()]
    assert not broken, f"{name}: links to notebooks the course does not have: {broken}"


def test_korean_readme_maps_the_korean_edition_and_opens_it_on_binder():
    import re

    readme, readme_ko = (ROOT / "README.md").read_text(encoding="utf-8"), (ROOT / "README.ko.md").read_text(encoding="utf-8")
    assert "(README.ko.md)" in readme
    binder = re.compile(r"\((https://mybinder\.org/v2/[^?)]+)\?urlpath=lab/tree/([^)]+)\)")
    (base_en, _), (base_ko, target) = binder.search(readme).groups(), binder.search(readme_ko).groups()
    assert base_ko == base_en and target == "notebooks/ko/00_start_here.ipynb"
    linked = set(re.findall(r"\(notebooks/ko/([^)]+\.ipynb)\)", readme_ko))
    assert linked, "README.ko.md links no Korean notebook"
    assert not [n for n in linked if not (NOTEBOOKS / n).is_file()], "README.ko.md links notebooks the course does not have"
    assert set(KOREAN) <= linked, f"README.ko.md does not link {sorted(set(KOREAN) - linked)}"
    assert "make lab" in readme_ko and "make test" in readme_ko
    assert (ROOT / "docs" / "instructors.ko.md").is_file() and "(docs/instructors.ko.md)" in readme_ko
