"""Korean plot labels render with the bundled NanumGothic, and English plots keep their font."""

import warnings

import matplotlib
import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from labsvc import course
from labsvc.course.fonts import KOREAN_FONT, enable_korean, korean_font_path

LABEL = "가용성 (availability)"


@pytest.fixture
def rc():
    """Each test changes rcParams inside a context that restores them, and leaves the language English."""
    with matplotlib.rc_context():
        yield matplotlib.rcParams
    course.set_language("en")


def render_korean_figure() -> list[str]:
    """Draw a figure with Hangul in its title, axis label and tick labels; return the warnings raised."""
    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.bar(["주문", "배송"], [0.99, 0.95])
    ax.set_title("기능별 " + LABEL)
    ax.set_ylabel(LABEL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        FigureCanvasAgg(fig).draw()
    return [str(w.message) for w in caught]


def font_drawing(char: str, text) -> str:
    """The family matplotlib draws ``char`` of Text artist ``text`` with: the first font in its fallback list that has the glyph."""
    paths = font_manager.fontManager._find_fonts_by_props(text.get_fontproperties())
    for path in paths:
        if FT2Font(str(path)).get_char_index(ord(char)):
            return font_manager.get_font(path).family_name
    return "none"


def test_without_the_fallback_hangul_is_missing(rc):
    # The control: the check below can fail, since the default font has no Hangul.
    rc["font.family"] = ["sans-serif"]
    missing = [m for m in render_korean_figure() if "missing from font" in m]
    assert missing and "DejaVu Sans" in missing[0]


def test_korean_labels_render_without_missing_glyphs(rc):
    assert enable_korean() == KOREAN_FONT
    messages = render_korean_figure()
    assert not [m for m in messages if "Glyph" in m and "missing" in m], messages


def test_hangul_is_drawn_with_nanumgothic_and_latin_with_dejavu(rc):
    enable_korean()
    fig = Figure()
    title = fig.add_subplot().set_title(LABEL)
    assert font_drawing("가", title) == "NanumGothic"
    assert font_drawing("a", title) == "DejaVu Sans"  # English text looks as before


def test_set_language_ko_enables_the_font_and_is_idempotent(rc):
    rc["font.family"] = ["sans-serif"]
    course.set_language("ko")
    course.set_language("ko")
    assert list(rc["font.family"]) == ["sans-serif", "NanumGothic"]
    assert not [m for m in render_korean_figure() if "missing from font" in m]


def test_english_leaves_the_font_family_alone(rc):
    rc["font.family"] = ["sans-serif"]
    course.set_language("en")
    assert list(rc["font.family"]) == ["sans-serif"]


def test_the_font_file_is_the_pinned_wheels_nanumgothic():
    path = korean_font_path()
    assert path.name == "NanumGothic.ttf" and "koreanize_matplotlib" in path.parts
    assert FT2Font(str(path)).family_name == "NanumGothic"
