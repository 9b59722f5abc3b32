"""Keep the Korean edition (``notebooks/ko/``) in step with the English notebooks.

A Korean notebook has the English notebook's file name and is the English
notebook plus one thing in front:

- its first cell is a code cell tagged ``language`` whose source is exactly
  :data:`LANGUAGE_CELL` (it switches exercise feedback to Korean);
- then the English cells, in the same order, with the same cell ids and types;
- code cells are byte-identical to the English ones;
- markdown cells are translated, and each carries the SHA-256 of the English
  source it was translated from in ``metadata.labsvc.en_sha256``, so a
  translation whose English has changed since is flagged as stale.

This module finds every way the two editions can drift apart (:func:`compare`,
:func:`check_tree`) and repairs the part that needs no translator
(:func:`sync`: code cells are copied from English, since code is the same in
both editions). It never writes prose: a markdown cell that is missing,
stale or untranslated is reported for a translator to write.

From the repository root::

    python -m labsvc.course.translations check   # list every drift; exit status 1 if there is any
    python -m labsvc.course.translations sync    # copy code cells from English, then list what is left
    python -m labsvc.course.translations hash notebooks/01_monolith_vs_microservices.ipynb c04
                                          # the en_sha256 to store after translating cell c04

>>> en_sha256("# Overview")[:12]
'e1cb7d861aec'
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["LANGUAGE_CELL", "LANGUAGE_TAG", "Drift", "en_sha256", "language_cell", "compare", "check_tree",
           "sync_notebook", "sync", "main"]

#: The exact source of a Korean notebook's first cell.
LANGUAGE_CELL = 'from labsvc.course import set_language\nset_language("ko")'
#: The tag that marks that cell in its metadata (``"metadata": {"tags": ["language"]}``).
LANGUAGE_TAG = "language"
#: The id the language cell gets when :func:`language_cell` makes one.
LANGUAGE_CELL_ID = "ko-language"

_KINDS = {
    "no-korean-edition": "the English notebook has no Korean edition in notebooks/ko/",
    "no-english-notebook": "a Korean notebook with no English notebook of the same name",
    "no-language-cell": "the first cell is not the language cell",
    "kernelspec-differs": "the notebook's kernelspec differs from the English one's",
    "cell-added": "a cell of the English notebook is missing from the Korean one",
    "cell-removed": "a cell of the Korean notebook is no longer in the English one",
    "order-differs": "the cells are not in the English notebook's order",
    "type-differs": "a cell's type differs from the English cell's",
    "code-differs": "a code cell differs from the English one (run sync)",
    "untranslated": "a markdown cell has no en_sha256 (not marked as translated)",
    "stale": "the English markdown changed since the cell was translated",
}


@dataclass(frozen=True)
class Drift:
    """One difference between a Korean notebook and its English original.

    ``kind`` is one of the keys of ``Drift.KINDS`` (e.g. ``"stale"``), ``notebook`` the
    file name, ``cell`` the cell id it concerns (``None`` for the whole notebook).
    """

    kind: str
    notebook: str
    cell: str | None = None
    detail: str = ""

    KINDS = _KINDS

    def __str__(self) -> str:
        where = f"{self.notebook}" + (f" cell {self.cell}" if self.cell else "")
        text = f"{where}: {self.kind}: {_KINDS[self.kind]}"
        return f"{text} ({self.detail})" if self.detail else text


def en_sha256(source: str | list[str]) -> str:
    """The hex SHA-256 of an English cell's source (a string, or nbformat's list of lines), UTF-8."""
    text = "".join(source) if isinstance(source, list) else source
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def language_cell() -> nbformat.NotebookNode:
    """A fresh language cell: the first cell every Korean notebook has."""
    cell = nbformat.v4.new_code_cell(LANGUAGE_CELL, metadata={"tags": [LANGUAGE_TAG]})
    cell.id = LANGUAGE_CELL_ID
    return cell


def _is_language_cell(cell) -> bool:
    return (cell.cell_type == "code" and LANGUAGE_TAG in cell.get("metadata", {}).get("tags", [])
            and cell.source == LANGUAGE_CELL)


def _stored_hash(cell) -> str | None:
    return cell.get("metadata", {}).get("labsvc", {}).get("en_sha256")


def compare(en: nbformat.NotebookNode, ko: nbformat.NotebookNode, name: str = "notebook") -> list[Drift]:
    """Every drift of Korean notebook ``ko`` from English notebook ``en`` (empty when in step)."""
    drifts: list[Drift] = []
    if en.metadata.get("kernelspec") != ko.metadata.get("kernelspec"):
        drifts.append(Drift("kernelspec-differs", name, None,
                            f"{ko.metadata.get('kernelspec')} vs {en.metadata.get('kernelspec')}"))
    cells = list(ko.cells)
    if not cells or not _is_language_cell(cells[0]):
        drifts.append(Drift("no-language-cell", name, cells[0].get("id") if cells else None,
                            f"want a code cell tagged {LANGUAGE_TAG!r} with source {LANGUAGE_CELL!r}"))
    else:
        cells = cells[1:]
    en_by_id = {cell.id: cell for cell in en.cells}
    ko_by_id = {cell.id: cell for cell in cells}
    for cell in en.cells:
        if cell.id not in ko_by_id:
            drifts.append(Drift("cell-added", name, cell.id, f"{cell.cell_type}: {cell.source[:60]!r}"))
    for cell in cells:
        if cell.id not in en_by_id:
            drifts.append(Drift("cell-removed", name, cell.id, f"{cell.cell_type}: {cell.source[:60]!r}"))
    shared_en = [cell.id for cell in en.cells if cell.id in ko_by_id]
    shared_ko = [cell.id for cell in cells if cell.id in en_by_id]
    if shared_en != shared_ko:
        first = next(i for i, (a, b) in enumerate(zip(shared_en, shared_ko)) if a != b)
        drifts.append(Drift("order-differs", name, shared_ko[first],
                            f"English has {shared_en[first]} at this place"))
    for cell_id in shared_en:
        e, k = en_by_id[cell_id], ko_by_id[cell_id]
        if e.cell_type != k.cell_type:
            drifts.append(Drift("type-differs", name, cell_id, f"{k.cell_type} vs English {e.cell_type}"))
        elif e.cell_type == "code":
            if e.source != k.source:
                drifts.append(Drift("code-differs", name, cell_id))
        elif e.cell_type == "markdown":
            stored = _stored_hash(k)
            if stored is None:
                drifts.append(Drift("untranslated", name, cell_id))
            elif stored != en_sha256(e.source):
                drifts.append(Drift("stale", name, cell_id, f"English now begins {e.source[:60]!r}"))
    return drifts


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _pairs(notebooks: Path) -> tuple[list[tuple[Path, Path]], list[Drift]]:
    english = {p.name: p for p in notebooks.glob("*.ipynb")}
    korean = {p.name: p for p in (notebooks / "ko").glob("*.ipynb")}
    missing = [Drift("no-korean-edition", name, None, f"add notebooks/ko/{name}")
               for name in sorted(set(english) - set(korean))]
    missing += [Drift("no-english-notebook", name, None, f"remove notebooks/ko/{name} or add notebooks/{name}")
                for name in sorted(set(korean) - set(english))]
    return [(english[n], korean[n]) for n in sorted(set(english) & set(korean))], missing


def check_tree(notebooks: Path | str = "notebooks") -> list[Drift]:
    """Every drift between ``notebooks/*.ipynb`` and ``notebooks/ko/*.ipynb``, notebook by notebook."""
    notebooks = Path(notebooks)
    if not notebooks.is_dir():
        raise FileNotFoundError(f"no folder {notebooks}; run from the repository root or pass --notebooks")
    pairs, drifts = _pairs(notebooks)
    for en_path, ko_path in pairs:
        drifts += compare(_read(en_path), _read(ko_path), en_path.name)
    return drifts


def sync_notebook(en: nbformat.NotebookNode, ko: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, bool]:
    """Copy code from ``en`` into a copy of ``ko``; return (the new Korean notebook, whether it changed).

    Code needs no translator, so sync brings the Korean code cells to exactly
    the English ones: a code cell whose English source changed is overwritten,
    an English code cell the Korean notebook lacks is inserted after the cell
    that precedes it in English, a Korean code cell no longer in English is
    removed, a missing language cell is put first, the kernelspec is copied.
    Markdown cells are left as they are: whatever drift remains there is for a
    translator (see :func:`compare`).
    """
    ko = copy.deepcopy(ko)
    before = nbformat.writes(ko)
    ko.metadata["kernelspec"] = copy.deepcopy(en.metadata.get("kernelspec"))
    cells = list(ko.cells)
    if cells and _is_language_cell(cells[0]):
        head, cells = cells[0], cells[1:]
    else:
        head = language_cell()
    en_by_id = {cell.id: cell for cell in en.cells}
    cells = [cell for cell in cells if not (cell.cell_type == "code" and cell.id not in en_by_id)]
    ko_ids = {cell.id for cell in cells}
    for cell in cells:
        e = en_by_id.get(cell.id)
        if e is not None and e.cell_type == "code" and cell.cell_type == "code":
            cell.source = e.source
    for index, e in enumerate(en.cells):
        if e.cell_type != "code" or e.id in ko_ids:
            continue
        new = copy.deepcopy(e)
        new.outputs, new.execution_count = [], None
        previous = next((p.id for p in reversed(en.cells[:index]) if p.id in ko_ids), None)
        at = 0 if previous is None else next(i for i, c in enumerate(cells) if c.id == previous) + 1
        cells.insert(at, new)
        ko_ids.add(new.id)
    ko.cells = [head, *cells]
    return ko, nbformat.writes(ko) != before


def sync(notebooks: Path | str = "notebooks") -> tuple[list[Path], list[Drift]]:
    """Run :func:`sync_notebook` on every Korean notebook; return (files rewritten, drift left)."""
    notebooks = Path(notebooks)
    pairs, _ = _pairs(notebooks)
    written = []
    for en_path, ko_path in pairs:
        ko, changed = sync_notebook(_read(en_path), _read(ko_path))
        if changed:
            nbformat.write(ko, ko_path)
            written.append(ko_path)
    return written, check_tree(notebooks)


def main(argv: list[str] | None = None) -> int:
    """The command line: ``check``, ``sync`` or ``hash NOTEBOOK CELL_ID``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m labsvc.course.translations", description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", default="notebooks", help="the English notebooks' folder (default: notebooks)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="list every drift of notebooks/ko/ from notebooks/; exit 1 if any")
    sub.add_parser("sync", help="copy code cells from English into the Korean notebooks, then list the drift left")
    hash_cmd = sub.add_parser("hash", help="print the en_sha256 of an English cell")
    hash_cmd.add_argument("notebook")
    hash_cmd.add_argument("cell_id")
    args = parser.parse_args(argv)
    if args.command == "hash":
        nb = _read(Path(args.notebook))
        cell = next((c for c in nb.cells if c.id == args.cell_id), None)
        if cell is None:
            print(f"{args.notebook} has no cell {args.cell_id!r}; its ids are {[c.id for c in nb.cells]}", file=sys.stderr)
            return 2
        print(en_sha256(cell.source))
        return 0
    if args.command == "sync":
        written, drifts = sync(args.notebooks)
        for path in written:
            print(f"synced code cells: {path}")
    else:
        drifts = check_tree(args.notebooks)
    for drift in drifts:
        print(drift)
    print(f"{len(drifts)} drift(s) between {args.notebooks}/ and {args.notebooks}/ko/")
    return 1 if drifts else 0


if __name__ == "__main__":
    sys.exit(main())
