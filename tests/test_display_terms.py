"""The Korean edition shows figures' and tables' texts in Korean (labsvc.course.display_terms)."""

import ast
import io
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from IPython.core.formatters import DisplayFormatter
from matplotlib.figure import Figure

from labsvc.course import display_terms, set_language
from labsvc.course.display_terms import KO, TEMPLATE_TEXTS, TEMPLATES, translate
from test_terminology import table as terminology

ROOT = Path(__file__).resolve().parents[1]


def words(fig):
    """Title, axis labels, suptitle and legend entries of ``fig``, as drawn."""
    found = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    for ax in fig.axes:
        found += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        if ax.get_legend() is not None:
            found += [t.get_text() for t in ax.get_legend().get_texts()]
    return [w for w in found if w]


@pytest.fixture
def shell(monkeypatch):
    """A stand-in for the IPython shell: a real DisplayFormatter whose PNG printer records the figure's texts."""
    formatter = DisplayFormatter()
    drawn = []

    def png(fig):
        drawn.append(words(fig))
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()

    formatter.formatters["image/png"].for_type(Figure, png)
    fake = SimpleNamespace(display_formatter=formatter, drawn=drawn)
    monkeypatch.setattr(display_terms, "_shell", lambda: fake)
    yield fake
    set_language("en")


def latency_frame():
    return pd.DataFrame({"due": [0.0, 0.1, 0.2, 0.3], "latency": [0.001, 0.002, 0.050, 0.001],
                         "ok": [True, True, False, True]})


def test_a_figure_is_drawn_with_korean_texts_and_keeps_its_english(shell):
    from labsvc.core.plots import plot_latency
    from labsvc.resilience.plots import plot_retry_storm

    set_language("ko")
    assert display_terms.installed(shell)
    latency = plot_latency(latency_frame())
    storm = plot_retry_storm(pd.DataFrame({"policy": ["naive", "naive"], "layer": ["a", "b"], "per_request": [1.0, 3.0]}))
    english = [words(latency), words(storm)]
    for fig in (latency, storm):
        shell.display_formatter.format(fig)
    assert shell.drawn[0][:3] == ["지연 시간", "시간 (s)", "지연 시간 (ms)"]
    assert "성공" in shell.drawn[0] and "실패" in shell.drawn[0]
    assert shell.drawn[1][:3] == ["계층별 사용자 요청당 호출 수 (c가 실패 중)", "계층 (users -> a -> b -> c)", "사용자 요청당 호출 수"]
    assert "단순" in shell.drawn[1]  # a legend entry
    assert [words(latency), words(storm)] == english  # the figures themselves are unchanged


def test_a_dataframe_is_shown_with_korean_labels_and_keeps_its_english_columns(shell):
    set_language("ko")
    frame = pd.DataFrame({"service": ["orders", "catalog"], "availability": [0.99, 1.0], "p50_ms": [3.0, 1.0]})
    frame.index.name = "design"
    data, _ = shell.display_formatter.format(frame)
    html = data["text/html"]
    assert "서비스" in html and "가용성" in html and "설계" in html
    assert "p50_ms" in html  # a code identifier stays as it is
    assert "orders" in html  # cells are never translated
    assert list(frame.columns) == ["service", "availability", "p50_ms"] and frame.index.name == "design"
    assert "가용성" in data["text/plain"]


def test_a_styler_is_shown_with_korean_headers_and_its_styles_still_apply(shell):
    set_language("ko")
    frame = pd.DataFrame({"check": ["a"], "held": [True], "detail": ["x"]})
    styler = frame.style.set_properties(subset=["detail"], **{"color": "red"}).hide(axis="index")
    html = shell.display_formatter.format(styler)[0]["text/html"]
    assert "검사" in html and "상세" in html and "color: red" in html
    assert "검사" not in styler.to_html()


def test_english_leaves_everything_english(shell):
    from labsvc.core.plots import plot_latency

    set_language("ko")
    set_language("en")
    assert not display_terms.installed(shell)
    assert "format" not in vars(shell.display_formatter)
    shell.display_formatter.format(plot_latency(latency_frame()))
    assert shell.drawn[0][:3] == ["latency", "time (s)", "latency (ms)"]
    html = shell.display_formatter.format(pd.DataFrame({"availability": [1.0]}))[0]["text/html"]
    assert "availability" in html and "가용성" not in html


def test_set_language_outside_ipython_changes_no_display(monkeypatch):
    monkeypatch.setattr(display_terms, "_shell", lambda: None)
    assert set_language("ko") == "ko" and set_language("en") == "en"
    assert display_terms.install() is False and display_terms.uninstall() is False


def test_translation_rules():
    assert translate("round robin: 33 failed requests") == "라운드 로빈: 실패한 요청 33건"
    assert translate(" crash catalog-2") == " 크래시 catalog-2"  # padding kept, the instance name kept
    assert translate("orders") == "주문 수" and translate("orders", table=True) == "orders"  # a service in a table
    assert translate("p99_ms", table=True) == "p99_ms" and translate("PLACED", table=True) == "PLACED"
    assert translate("not in the catalogue") == "not in the catalogue" and translate(3) == 3


def _split(text):
    """A terminology cell without its parentheses, split into its terms: 'a / b, c' -> ['a', 'b', 'c']."""
    text = re.sub(r"\([^)]*\)", "", text)
    return [part.strip() for part in re.split(r"\s*/\s*|,\s*", text) if part.strip()]


def _norm(text):
    return re.sub(r"\s+", " ", text.replace("-", " ")).lower()


def _catalogue():
    """(English, Korean) of every catalogue entry and template, placeholders removed."""
    pairs = list(KO.items()) + [(en.replace("{#}", " ").replace("{}", " "), ko) for en, ko in TEMPLATE_TEXTS]
    return [(en, ko) for en, ko in pairs]


def test_the_catalogue_uses_the_terminology_tables_korean_terms():
    problems = []
    for english_cell, korean_cell, avoid in terminology().values():
        en_parts, ko_parts = _split(english_cell), _split(korean_cell)
        for i, part in enumerate(en_parts):
            wanted = [ko_parts[i]] if len(en_parts) == len(ko_parts) else ko_parts
            if part.isupper():  # an acronym (RED) is matched as written, so "red" the colour is not it
                pattern = re.compile(rf"\b{re.escape(part)}\b")
                hits = [(en, ko) for en, ko in _catalogue() if pattern.search(en)]
            else:
                pattern = re.compile(rf"\b{re.escape(_norm(part))}(?:s|es)?\b")
                hits = [(en, ko) for en, ko in _catalogue() if pattern.search(_norm(en))]
            problems += [f"{en!r} -> {ko!r} lacks {wanted}" for en, ko in hits if not any(w in ko for w in wanted)]
        for en, ko in _catalogue():
            problems += [f"{en!r} -> {ko!r} uses {bad!r}" for bad in avoid if bad in ko]
    assert problems == []


_TEXT_CALLS = {"set_title", "set_xlabel", "set_ylabel", "suptitle", "supxlabel", "supylabel"}
_LABELLED = {"plot", "scatter", "bar", "barh", "step", "axhline", "axvline", "axvspan", "fill_between", "hist",
             "stairs", "errorbar", "shade"}


def _samples(node):
    """The strings an expression can give: literals, f-strings with 7 for each value, both sides of `a or b`..."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else "7" for v in node.values)]
    if isinstance(node, ast.BoolOp):
        return [s for value in node.values for s in _samples(value)]
    if isinstance(node, ast.IfExp):
        return _samples(node.body) + _samples(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in _samples(node.left) for b in _samples(node.right)]
    return []


def plot_texts():
    """(file, text) of every title, axis label and legend label written in labsvc's plotting code."""
    found = []
    for path in sorted((ROOT / "labsvc").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "matplotlib" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            exprs = []
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in _TEXT_CALLS and node.args:
                    exprs.append(node.args[0])
                if node.func.attr in _LABELLED or (isinstance(node.func, ast.Name) and node.func.id == "shade"):
                    exprs += [k.value for k in node.keywords if k.arg == "label"]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "shade":
                exprs += [k.value for k in node.keywords if k.arg == "label"]
            elif isinstance(node, ast.FunctionDef) and node.name.startswith("plot"):
                args = node.args.args[len(node.args.args) - len(node.args.defaults):] + node.args.kwonlyargs
                defaults = list(node.args.defaults) + list(node.args.kw_defaults)
                exprs += [d for a, d in zip(args, defaults) if d is not None and a.arg in ("title", "xlabel", "ylabel")]
            found += [(path.relative_to(ROOT).as_posix(), s) for e in exprs for s in _samples(e)]
    return found


def covered(text):
    """In the catalogue, or matched by a template other than the last, catch-all one ("{}: {}")."""
    if text.strip() in KO or not re.search(r"[A-Za-z]{2}", text.replace("7", "")):
        return True
    return any(pattern.match(text.strip()) for pattern, _ in TEMPLATES[:-1])


def test_every_title_and_label_in_the_plotting_code_is_in_the_catalogue():
    texts = plot_texts()
    assert len(texts) > 100
    assert [f"{path}: {text!r}" for path, text in texts if not covered(text)] == []


def test_the_shop_each_notebook_starts_from_is_shown_in_korean(shell):
    from labsvc.course.shop_terms import ADDS, ASPECTS, korean_line
    from labsvc.shop import STAGES, after, at

    set_language("ko")
    data, _ = shell.display_formatter.format(at("nb08"))
    assert "노트북 08 시작 시점의 쇼핑몰" in data["text/html"] and "이 노트북이 더하는 것" in data["text/html"]
    assert "서비스 디스커버리" not in data["text/html"]  # notebook 08 adds it: not in the shop yet
    assert "<th>항목</th>" in data["text/html"] and "The shop" not in data["text/plain"]
    assert set(ADDS) == {s.notebook for s in STAGES} and set(ASPECTS) == {s.aspect for s in STAGES}
    lines = after("nb14").summary()["the shop has"]
    for line in lines:  # every line with words in it is Korean; lines of names only (services, routes) stay
        korean = korean_line(line)
        assert korean != line or not re.search(r"\b(?:of|in|per|and|services?|settings|containers|experiments)\b", line), line
    set_language("en")
    assert shell.display_formatter.format(at("nb08"))[0]["text/plain"].startswith("The shop at the start of notebook 08")


def test_a_pandas_table_inside_another_objects_html_gets_korean_headers(shell):
    class Report:
        def _repr_html_(self):
            return "<b>report</b>" + pd.DataFrame({"availability": [1.0], "p50_ms": [2.0]}).to_html(index=False)

    set_language("ko")
    page = shell.display_formatter.format(Report())[0]["text/html"]
    assert "<b>report</b>" in page and ">가용성</th>" in page and ">p50_ms</th>" in page
    set_language("en")
    assert ">availability</th>" in shell.display_formatter.format(Report())[0]["text/html"]
