"""start_without_config shows the start of each response body, short enough for a table cell."""

from labsvc.api import lab


def test_a_short_body_is_shown_whole():
    assert lab._glimpse('{"status":"UP"}') == '{"status":"UP"}'


def test_a_long_body_is_cut_with_an_ellipsis_before_pandas_would_cut_it():
    body = '{"status":"UP","service":"catalog","instance":"catalog-1","release":"1.0"}'
    shown = lab._glimpse(body)
    assert shown.endswith("…") and body.startswith(shown[:-1])
    assert len("200 " + shown) <= 50      # pandas shortens table cells past 50 characters
