"""The guide's process map and pattern table (labsvc.course.guide) and the notebooks that carry them."""

from pathlib import Path

import nbformat
import pytest

from labsvc.course.guide import (PATTERNS, STEPS, UnknownNotebookError, pattern_row, pattern_table,
                                 pattern_table_markdown, process_map, step_line, step_of, tool_note)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The 구분 column of the guide's table (마이크로서비스 아키텍처 패턴), in its order.
GUIDE_ROWS = ["Configuration Management", "Service Discovery", "Load Balancing", "API Gateway", "Service Security",
              "Centralized Logging", "Centralized Metrics", "Distributed Tracing", "Resilience & Fault Tolerance",
              "Auto Scaling & Self Healing", "Packaging, Deployment & Scheduling", "Job Management"]


def _cell(path: Path, cell_id: str) -> str:
    return next(c.source for c in nbformat.read(path, as_version=4).cells if c.get("id") == cell_id)


def test_every_notebook_is_on_exactly_one_step_in_order():
    placed = [nb for step in STEPS for nb in step.notebooks]
    assert placed == [f"{i:02d}" for i in range(15)]
    assert [s.number for s in STEPS] == list(range(len(STEPS)))
    assert step_of("13").guide_heading == "PaaS환경에서 배포 패턴"


def test_an_unknown_notebook_is_refused_by_name():
    with pytest.raises(UnknownNotebookError, match="00 to 14"):
        step_of("15")
    with pytest.raises(UnknownNotebookError, match="no row"):
        tool_note("03")
    with pytest.raises(KeyError, match="Load Balancing"):
        pattern_row("Service Mesh")


def test_the_pattern_table_follows_the_guide_row_by_row():
    assert [p.pattern for p in PATTERNS] == GUIDE_ROWS
    table = pattern_table()
    assert len(table) == 12 and table.columns[1] == "the guide's tool"
    retired = {p.guide_tool for p in PATTERNS if p.status.startswith("retired")}
    assert retired == {"Ribbon", "Zuul", "Hystrix, Turbine & Ribbon", "Spring Cloud Security"}
    assert pattern_row("Resilience & Fault Tolerance").spring_today.endswith("Resilience4j")
    assert pattern_row("Load Balancing").spring_today == "Spring Cloud LoadBalancer"
    assert pattern_row("API Gateway").spring_today == "Spring Cloud Gateway"
    for lang in ("en", "ko"):
        markdown = pattern_table_markdown(lang)
        assert markdown.count("\n") == 13  # header, rule, 12 rows


def test_the_map_draws_every_step_and_links_them_in_order():
    text = process_map()
    assert text.startswith("flowchart TD")
    for step in STEPS:
        assert f'S{step.number}["<b>{step.number} · {step.en}</b>' in text
    assert "S0 --> S1 --> S2 --> S3" in text and "S4 --> S5 --> S6 --> S7" in text and "row1 --> row2" in text
    assert "서브도메인" in process_map("ko")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_header_names_its_step_and_its_rows_of_the_table(path):
    number = path.stem[:2]
    for lang, nb_path in (("en", path), ("ko", path.parent / "ko" / path.name)):
        header = _cell(nb_path, "c00")
        assert step_line(number, lang) in header, f"{nb_path.relative_to(ROOT)}: header lacks its process step"
        if any(p.notebook == number for p in PATTERNS):
            assert tool_note(number, lang) in header, f"{nb_path.relative_to(ROOT)}: header lacks its pattern rows"


def test_notebook_00_carries_the_map_and_the_table_as_the_library_draws_them():
    for lang, nb_path in (("en", NOTEBOOKS[0]), ("ko", NOTEBOOKS[0].parent / "ko" / NOTEBOOKS[0].name)):
        cell = _cell(nb_path, "c00m")
        assert f"```mermaid\n{process_map(lang)}\n```" in cell
        assert pattern_table_markdown(lang) in cell
