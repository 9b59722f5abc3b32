"""The Korean edition uses one Korean term per concept: the one in docs/terminology.md."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "terminology.md"
KOREAN = sorted((ROOT / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb"))
_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|(?:\s*([^|]*?)\s*\|)?\s*$")
#: English words that must not stand bare in Korean prose (only in parentheses after their Korean term, or in code).
TRANSLATE = ("stale",)


def key(text: str) -> str:
    """A term without what it puts in parentheses, hyphens as spaces, lower case: 'Open-loop load (x)' -> 'open loop load'."""
    return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)", "", text).replace("-", " ")).strip().lower()


def table() -> dict[str, tuple[str, str, list[str]]]:
    """English key -> (English, Korean, variants to avoid), from docs/terminology.md."""
    rows, seen_header = {}, False
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        en, ko, avoid = match.group(1), match.group(2), match.group(3) or ""
        if en == "English" or set(en) <= {"-"}:
            seen_header = True
            continue
        if seen_header:
            rows[key(en)] = (en, ko, [v.strip() for v in avoid.split(",") if v.strip()])
    return rows


def key_terms(path: Path) -> list[tuple[str, str]]:
    """(English, Korean) of every row of the notebook's 핵심 용어 table, whichever column order it uses."""
    found = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown" or "핵심 용어" not in cell.source:
            continue
        order = None
        for line in cell.source[cell.source.index("핵심 용어"):].splitlines():
            match = _ROW.match(line)
            if not match:
                if order and line.startswith("#"):
                    break
                continue
            a, b = match.group(1), match.group(2)
            if a in ("English", "한국어"):
                order = a
            elif order and not set(a) <= {"-"}:
                found.append((a, b) if order == "English" else (b, a))
    return found


def prose(path: Path):
    """(cell id, Korean markdown with code spans, code blocks and glue spans removed)."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            text = re.sub(r"```.*?```", " ", cell.source, flags=re.S)
            text = re.sub(r"<!-- glue [^>]*-->.*?<!-- /glue -->", " ", text, flags=re.S)
            yield cell.get("id"), re.sub(r"`[^`]*`", " ", text)


def test_the_table_has_one_korean_term_per_english_term():
    rows = table()
    assert len(rows) > 100
    assert rows["eventual consistency"][1] == "최종 일관성" and "최종적 일관성" in rows["eventual consistency"][2]
    assert rows["open loop load"][1] == "오픈 루프 부하"


def test_the_key_term_parser_reads_both_column_orders(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("### 핵심 용어 (Key terms)\n\n| English | 한국어 |\n|---|---|\n| timeout | 타임아웃 |"),
        nbformat.v4.new_markdown_cell("### 핵심 용어\n\n| 한국어 | English |\n|---|---|\n| 응집도 | cohesion |\n\n### 다음"),
    ])
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert key_terms(path) == [("timeout", "타임아웃"), ("cohesion", "응집도")]


@pytest.mark.parametrize("path", KOREAN, ids=lambda p: p.stem)
def test_every_key_term_comes_from_the_table(path):
    rows = table()
    terms = key_terms(path)
    assert terms, f"{path.name} has no 핵심 용어 table"
    wrong = []
    for en, ko in terms:
        row = rows.get(key(en))
        if row is None:
            wrong.append(f"{en!r} is not in docs/terminology.md (add it there first)")
        elif key(row[1]) != key(ko):
            wrong.append(f"{en!r}: the notebook says {ko!r}, docs/terminology.md says {row[1]!r}")
    assert not wrong, f"{path.name}: " + "; ".join(wrong)


@pytest.mark.parametrize("path", KOREAN, ids=lambda p: p.stem)
def test_no_variant_to_avoid_and_no_untranslated_word_in_korean_prose(path):
    avoid = {variant: row[1] for row in table().values() for variant in row[2]}
    found = []
    for cell_id, text in prose(path):
        for variant, term in avoid.items():
            if variant in text:
                found.append(f"cell {cell_id}: {variant!r} (write {term!r})")
        sentences = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("|"))  # tables pair languages
        for word in TRANSLATE:
            for match in re.finditer(rf"\b{word}\b", sentences, flags=re.I):
                before = sentences[:match.start()].rstrip()
                if not before.endswith("("):
                    found.append(f"cell {cell_id}: untranslated {word!r} (write the Korean term, the English in parentheses)")
    assert not found, f"{path.name}: " + "; ".join(found)
