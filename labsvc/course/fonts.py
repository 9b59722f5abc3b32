"""Korean text in plots: NanumGothic as a per-glyph fallback behind the usual font.

matplotlib's default font (DejaVu Sans) has no Hangul, so a Korean title or
label comes out as empty boxes with a "Glyph ... missing from font(s)"
warning. The pinned ``koreanize-matplotlib`` wheel ships the NanumGothic
TTF files (SIL Open Font License), so every environment that installs
labsvc's pins (``make lab``, Binder, CI) has the same font, without any
system package. Importing ``koreanize_matplotlib`` would replace the plot
font everywhere; instead :func:`enable_korean` only registers the file with
matplotlib's font manager and appends ``"NanumGothic"`` to
``font.family``. matplotlib (3.6 and later) then draws each glyph with the
first family that has it: Latin text still uses DejaVu Sans, so English plots
look as before, and only the Hangul comes from NanumGothic.

:func:`labsvc.course.set_language` calls :func:`enable_korean` when a Korean
notebook's first cell switches to "ko".

>>> enable_korean()                                    # doctest: +SKIP
'NanumGothic'
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["KOREAN_FONT", "korean_font_path", "enable_korean"]

#: The family name matplotlib knows the bundled Korean font by.
KOREAN_FONT = "NanumGothic"
_FONT_FILE = "NanumGothic.ttf"
_registered: set[str] = set()


def korean_font_path() -> Path:
    """Where the NanumGothic TTF of the pinned ``koreanize-matplotlib`` wheel is (found without importing it)."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the Korean plot font comes with the pinned koreanize-matplotlib package, which is not installed; "
            "run `make install` (or `pip install -e .`) to install labsvc's pins")
    path = Path(spec.origin).parent / "fonts" / _FONT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the koreanize-matplotlib package; reinstall it")
    return path


def enable_korean(rc=None) -> str:
    """Register NanumGothic and add it as the fallback family of ``rc`` (default: matplotlib.rcParams).

    Safe to call more than once: the font file is registered once, and the
    family is appended only if it is not in ``font.family`` yet. Returns the
    family name.
    """
    import matplotlib
    from matplotlib import font_manager

    path = str(korean_font_path())
    if path not in _registered:
        font_manager.fontManager.addfont(path)
        _registered.add(path)
    rc = matplotlib.rcParams if rc is None else rc
    families = rc["font.family"]
    families = [families] if isinstance(families, str) else list(families)
    if KOREAN_FONT not in families:
        rc["font.family"] = [*families, KOREAN_FONT]
    return KOREAN_FONT
