"""Figures quoted in the prose are the ones the notebook computed."""

import pytest

from labsvc.core.errors import ConfigurationError
from labsvc.course import glue
from labsvc.course.glue import GLUED, quotes, stale_quotes


def test_glue_records_the_formatted_text_and_returns_the_value():
    assert glue("t.p99", 212.4, "{:.0f} ms") == 212.4
    assert GLUED["t.p99"] == "212 ms"


def test_a_quotation_that_differs_from_the_computed_figure_is_reported_with_both():
    glue("t.share", 0.142, "{:.0%}")
    cells = [
        {"cell_type": "markdown", "id": "a", "source": "Errors: <!-- glue t.share -->14%<!-- /glue --> of calls."},
        {"cell_type": "markdown", "id": "b", "source": ["p99 <!-- glue t.p99 -->", "250 ms<!-- /glue -->"]},
        {"cell_type": "markdown", "id": "c", "source": "<!-- glue t.missing -->1<!-- /glue -->"},
        {"cell_type": "code", "id": "d", "source": "<!-- glue t.p99 -->0<!-- /glue -->"},
    ]
    glue("t.p99", 212.4, "{:.0f} ms")
    assert stale_quotes(cells, GLUED) == [
        "cell b: quotes 't.p99' as '250 ms'; the notebook computed '212 ms'",
        "cell c: quotes 't.missing', which the notebook never glued",
    ]
    assert quotes(cells[0]["source"]) == [("t.share", "14%")]


def test_bad_names_and_formats_say_what_to_write():
    with pytest.raises(ConfigurationError, match="use letters"):
        glue("p 99", 1)
    with pytest.raises(ConfigurationError, match="does not fit"):
        glue("p99", "x", "{:.0f}")
