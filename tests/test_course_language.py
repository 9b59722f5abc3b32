"""Exercise feedback speaks the notebook's language.

A Korean notebook's first cell calls ``set_language("ko")``; from then on
``check(...)`` labels its verdict in Korean and every checker's message is
its ``ko=`` text. Three kinds of test:

- behaviour: real checkers answered right and wrong, in "en" and in "ko";
- a static scan of ``labsvc/course/exercises/*.py`` (and ``labsvc/course/__init__.py``): every
  ``Feedback(...)`` call carries a Korean ``ko=`` text, reported by file and line;
- the Korean landing notebook's first cell is what switches the language.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from labsvc import course
from labsvc.course import check, set_language
from labsvc.course.translations import LANGUAGE_CELL

ROOT = Path(__file__).resolve().parents[1]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
FEEDBACK_SOURCES = sorted((ROOT / "labsvc" / "course" / "exercises").glob("nb*.py")) + [ROOT / "labsvc" / "course" / "__init__.py"]


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    set_language("en")


# --- behaviour ------------------------------------------------------------------------------------------

def test_generic_messages_and_labels_follow_the_language():
    set_language("en")
    en = check("00.instance-url", ...)
    assert repr(en).startswith("❌ Not yet") and "replace the ..." in en.message
    assert not HANGUL.search(en.message)
    set_language("ko")
    ko = check("00.instance-url", ...)
    assert repr(ko).startswith("❌ 아직") and HANGUL.search(ko.message)
    assert "❌ 아직" in ko._repr_html_()
    wrong_evidence = check("00.inject-latency", 50.0, not_evidence=1)  # the checker cannot take this argument
    assert not wrong_evidence and HANGUL.search(wrong_evidence.message)


def test_unknown_language_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose one of en, ko"):
        set_language("kr")
    assert course.language() == "en"


# Real checkers, a right and a wrong answer each: the verdict is the same in both languages, the text is not.
CASES = [
    pytest.param("00.instance-url", "http://catalog-2.svc", {}, True, id="00.instance-url-right"),
    pytest.param("00.instance-url", "http://catalog.svc", {}, False, id="00.instance-url-wrong"),
    pytest.param("02.relationship", {"carrier-tracking": "conformist", "payment-adapter": "anticorruption-layer",
                                     "catalog-prices": "customer-supplier", "product-events": "published-language",
                                     "sku-library": "shared-kernel"}, {}, True, id="02.relationship-right"),
    pytest.param("02.relationship", {"carrier-tracking": "partnership"}, {}, False, id="02.relationship-wrong"),
]


@pytest.mark.parametrize(("exercise", "answer", "evidence", "ok"), CASES)
def test_checker_feedback_in_english_and_in_korean(exercise, answer, evidence, ok):
    set_language("en")
    en = check(exercise, answer, **evidence)
    assert en.ok is ok and not HANGUL.search(en.message)
    assert repr(en).startswith("✅ Right" if ok else "❌ Not yet")
    set_language("ko")
    ko = check(exercise, answer, **evidence)
    assert ko.ok is ok
    assert repr(ko).startswith("✅ 정답" if ok else "❌ 아직")
    assert HANGUL.search(ko.message), f"{exercise}: no Korean feedback (add ko=... to its Feedback): {ko.message!r}"


# --- static scan: every Feedback(...) has a Korean text ------------------------------------------------------

def _literal_text(node: ast.expr) -> str | None:
    """The text of a string literal, f-string, concatenation or conditional of those; None if not literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [_literal_text(node.left), _literal_text(node.right)]
        return None if None in parts else "".join(parts)
    if isinstance(node, ast.IfExp):
        parts = [_literal_text(node.body), _literal_text(node.orelse)]
        # both branches must be Korean: keep the text only when each has Hangul
        return None if None in parts else ("" if not all(HANGUL.search(p) for p in parts) else "".join(parts))
    return None


def feedback_without_korean(source: str, filename: str = "<source>") -> list[str]:
    """Every ``Feedback(...)`` call in ``source`` without a Korean ``ko=`` text, as "file:line: why"."""
    problems = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name != "Feedback":
            continue
        ko = next((k.value for k in node.keywords if k.arg == "ko"), node.args[2] if len(node.args) > 2 else None)
        where = f"{filename}:{node.lineno}"
        if ko is None:
            problems.append(f"{where}: Feedback without ko=")
            continue
        text = _literal_text(ko)
        if text is None:
            problems.append(f"{where}: ko= is not a string literal or f-string, so its Korean cannot be checked")
        elif not HANGUL.search(text):
            problems.append(f"{where}: ko= has no Korean text: {text[:60]!r}")
    return sorted(problems, key=lambda p: int(p.split(":")[1]))


def test_the_scan_flags_each_kind_of_missing_korean():
    source = '\n'.join([
        'Feedback(True, "right")',                                # line 1: no ko
        'Feedback(False, "wrong", ko="")',                        # line 2: empty
        'Feedback(False, "wrong", ko="still English")',           # line 3: no Hangul
        'Feedback(False, "wrong", ko=KO_TEXTS["x"])',             # line 4: not literal
        'Feedback(False, f"{n} wrong", ko=f"{n}개 틀림")',           # fine
        'course.Feedback(False, "x", "정답이 아닙니다")',              # fine: positional
        'Feedback(False, "x", ko="맞음" if ok else "틀림")',          # fine: both branches Korean
        'Feedback(False, "x", ko="맞음" if ok else "wrong")',       # line 8: one branch English
    ])
    found = [p.split(":")[1] for p in feedback_without_korean(source)]
    assert found == ["1", "2", "3", "4", "8"]


@pytest.mark.parametrize("path", FEEDBACK_SOURCES, ids=[p.name for p in FEEDBACK_SOURCES])
def test_every_feedback_has_a_korean_text(path):
    problems = feedback_without_korean(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not problems, f"{len(problems)} Feedback(...) without Korean:\n" + "\n".join(problems)


# --- the notebook's first cell sets the language -----------------------------------------------------------

def test_korean_landing_notebooks_first_cell_switches_feedback_to_korean():
    nb = nbformat.read(ROOT / "notebooks" / "ko" / "00_start_here.ipynb", as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code" and first.source == LANGUAGE_CELL
    assert "language" in first.metadata.get("tags", [])
    set_language("en")
    exec(compile(first.source, "notebooks/ko/00_start_here.ipynb[0]", "exec"), {})
    assert course.language() == "ko"
    result = check("00.instance-url", ...)  # the exercise cell as committed, before the learner answers
    assert repr(result).startswith("❌ 아직") and HANGUL.search(result.message)
