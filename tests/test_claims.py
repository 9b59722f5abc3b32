"""docs/claims.md lists every figure the English notebooks cite, and every listed figure is still cited.

A **cited figure** (the rule of ``labsvc.course.claims``, also in docs/claims.md) is a number written in
digits with a unit or a multiplier (``90 s``, ``2 x 90 s``, ``14.4x``, ``85 %``, ``5 minutes``,
``99.9 %``, ``70,000 requests per second``) in the prose of a markdown cell of an English notebook, in a
sentence that names a source (a known system or document such as Eureka, resilience4j, Kubernetes,
Linkerd, Finagle, Envoy, Istio, NGINX, an RFC, the SRE book or workbook, Prometheus, wrk, a paper) or holds
a link. Not counted: numbers in glue spans (computed by the notebook), in code (fenced or inline), in
headings, in link targets, and numbers without a unit ("exercise 2", "three instances", "RFC 9457").

A failure names the notebook, the cell id and the figure, so that fixing docs/claims.md is mechanical.
"""

from pathlib import Path

import nbformat
import pytest

from labsvc.course.claims import (
    Figure, cited_figures, figures_in, normalize, parse_claims, sentences, unlisted, vanished,
)

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ROOT / "docs" / "claims.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _markdown_cells(path):
    return {c.get("id"): c.source for c in nbformat.read(str(path), as_version=4).cells
            if c.cell_type == "markdown"}


@pytest.fixture(scope="module")
def claims():
    return parse_claims(CLAIMS.read_text(encoding="utf-8"))


# -- the list and the notebooks -------------------------------------------------------------------------------


def test_every_cited_figure_in_an_english_notebook_has_a_row(claims):
    cited = {path.stem: cited_figures(path) for path in NOTEBOOKS}
    problems = unlisted(cited, claims)
    assert not problems, "cited figures missing from docs/claims.md:\n" + "\n".join(problems)


def test_every_row_still_finds_its_figure_in_its_cell(claims):
    notebooks = {path.stem: _markdown_cells(path) for path in NOTEBOOKS}
    problems = vanished(notebooks, claims)
    assert not problems, "rows of docs/claims.md that no longer match a notebook:\n" + "\n".join(problems)


def test_the_list_covers_the_fifteen_notebooks_and_every_row_names_a_source(claims):
    assert len(NOTEBOOKS) == 15
    assert len(claims) >= 20
    for claim in claims:
        assert claim.claim and claim.source, f"docs/claims.md line {claim.line}: fill in the claim and its source"
    sourced = [c for c in claims if "http" in c.source]
    assert {c.notebook[:2] for c in sourced} >= {"07", "08", "09", "10", "11", "13"}


# -- the detector on small strings ----------------------------------------------------------------------------


def _cited(text):
    return [f.figure for f in figures_in(text) if f.attributed]


def test_a_figure_attributed_to_a_named_system_is_a_claim():
    assert _cited("Eureka's 90 s lease outlives the instance.") == ["90 s"]
    assert _cited("resilience4j opens the breaker at 50 % failures after a 60 s wait.") == ["50 %", "60 s"]
    assert _cited("RFC 9110 lets a client wait 5 minutes.") == ["5 minutes"]
    assert _cited("The workbook's 14.4x page fires.") == ["14.4x"]
    assert _cited("Kubernetes doubles it: 2 x 90 s at most.") == ["2 x 90 s"]


def test_a_link_attributes_and_its_url_holds_no_figure():
    text = "The proxy adds 2.65 ms ([docs](https://example.org/v1.10/ops/30s-90ms/))."
    assert _cited(text) == ["2.65 ms"]
    assert _cited("See <https://example.org/latency-10ms>, a page.") == []


def test_a_glue_span_is_not_a_claim_even_next_to_a_source():
    assert figures_in("Eureka evicted it after <!-- glue lab.evicted -->360 s<!-- /glue -->.") == []
    assert _cited("Eureka waits <!-- glue x -->90 s<!-- /glue --> and then 60 s.") == ["60 s"]


def test_ordinary_numbering_and_numbers_without_a_unit_are_not_figures():
    text = ("Exercise 2 of notebook 05 starts three instances; Eureka answers HTTP 503 and RFC 9457 "
            "explains section 3.")
    assert figures_in(text) == []
    assert figures_in("Envoy's 503s and the 1990s.") == []
    assert figures_in("Linkerd compounds it: 1.1 × 1.1 × 1.1 ≈ 1.33, and 0.95 × total.") == []


def test_a_figure_without_a_source_in_its_sentence_is_found_but_not_cited():
    found = figures_in("Eureka is a registry. An instance renews every 30 s.")
    assert found == [Figure("30 s", "An instance renews every 30 s.", False)]


def test_code_and_headings_are_not_prose():
    text = "## 5. Eureka in 90 s\n\nSpring sets `timeout=\"2 s\"` here:\n\n```python\nwait(90) # 90 s per Eureka\n```\n"
    assert figures_in(text) == []


def test_units_ranges_and_rates():
    figures = [f.figure for f in figures_in(
        "Prometheus scrapes every 15-60 s; Istio saw 70,000 requests per second, a 99.9 % SLO, 2 GB and "
        "1.5 to 2 times the cost, per NGINX.")]
    assert figures == ["15-60 s", "70,000 requests per second", "99.9 %", "2 GB", "1.5 to 2 times"]


def test_sentences_split_paragraphs_list_items_and_table_rows():
    text = "First one, e.g. this. Second one!\n- an item\n  continued\n| a | b |\n\nThird"
    assert sentences(text) == ["First one, e.g. this.", "Second one!", "- an item continued", "| a | b |", "Third"]


def test_normalize_ignores_spacing_and_the_multiplication_sign():
    assert normalize("2 × 90 s") == normalize("2 x 90s")
    assert normalize("14.4×") == normalize("14.4 x")
    assert normalize("1.5 to 2 times") == "1.5 to 2times"  # "to" keeps its spaces
    assert normalize(" 90  s ") == "90s"


# -- the list's parser and the messages -----------------------------------------------------------------------

LIST = """Intro with a | pipe that is not a table.

| notebook | cell | figure(s) | claim | source |
|---|---|---|---|---|
| 08_x | c02 | 30 s; `90 s` | Eureka's lease | https://github.com/Netflix/eureka/wiki |

| English | 한국어 |
|---|---|
| lease | 임대 |
"""


def test_parse_claims_reads_only_tables_with_the_three_columns():
    [claim] = parse_claims(LIST)
    assert (claim.notebook, claim.cell, claim.figures, claim.line) == ("08_x", "c02", ("30 s", "90 s"), 5)
    assert claim.source == "https://github.com/Netflix/eureka/wiki"


def test_an_unlisted_figure_is_reported_with_notebook_cell_and_figure():
    cited = {"08_x": {"c02": [Figure("30 s", "every 30 s", True), Figure("60 s", "Eureka: every 60 s", True)]},
             "10_y": {"c18": [Figure("20 %", "Linkerd: 20 %", True)]}}
    problems = unlisted(cited, parse_claims(LIST))
    assert len(problems) == 2
    assert problems[0].startswith("08_x cell c02: figure '60 s' is cited but not in docs/claims.md")
    assert "| 08_x | c02 | 60 s |" in problems[0]
    assert problems[1].startswith("10_y cell c18: figure '20 %'")


def test_a_row_whose_figure_or_cell_is_gone_is_reported():
    notebooks = {"08_x": {"c02": "Eureka renews every 30 s."}}
    assert vanished(notebooks, parse_claims(LIST)) == [
        "docs/claims.md line 5: 08_x cell c02 no longer cites '90 s'; update or remove the row"]
    assert vanished({"08_x": {}}, parse_claims(LIST)) == [
        "docs/claims.md line 5: 08_x has no markdown cell 'c02'; move or remove the row"]
    assert vanished({}, parse_claims(LIST)) == ["docs/claims.md line 5: notebook '08_x' does not exist"]


def test_a_figure_cited_twice_in_one_cell_is_reported_once_and_code_is_shown_as_an_ellipsis():
    [figure, again] = [f for f in figures_in("Eureka's `timer` runs every 30 s. Ribbon refreshes every 30 s.")]
    assert figure.sentence == "Eureka's `…` runs every 30 s."
    assert len(unlisted({"08_x": {"c09": [figure, again]}}, [])) == 1
