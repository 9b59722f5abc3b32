"""Exercises that check themselves.

Every "Your turn" cell in a notebook ends with ``check("<exercise id>",
answer, ...)``. The checker recomputes what the answer should be from the
learner's own experiment where it can (for example from the call log they
pass in), so a right answer is one that agrees with what actually ran, not
a number copied from somewhere.

>>> check("00.instance-url", "http://catalog-2.svc")      # doctest: +SKIP
✅ Right: ...
"""

from __future__ import annotations

import html
import importlib
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["check", "CheckResult", "exercise", "EXERCISES", "Feedback", "environment",
           "set_language", "language", "LANGUAGES", "is_number", "glue"]

from labsvc.course.glue import glue  # noqa: E402 - figures the prose quotes

EXERCISES: dict[str, Callable[..., "Feedback"]] = {}

#: The languages the course is written in: English (``notebooks/``) and Korean (``notebooks/ko/``).
LANGUAGES = ("en", "ko")
_language = "en"


def set_language(code: str) -> str:
    """Show exercise feedback in ``code`` ("en" or "ko"); a Korean notebook's first cell calls this.

    "ko" also makes Hangul in plots render (:func:`labsvc.course.fonts.enable_korean`), and, in IPython,
    shows figures' titles, axis labels and legends and tables' labels in Korean
    (:mod:`labsvc.course.display_terms`); "en" turns that off again.

    >>> set_language("ko"); set_language("en")
    'ko'
    'en'
    """
    global _language
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; choose one of {', '.join(LANGUAGES)}")
    if code == "ko":  # plots may carry Korean labels: add the bundled Hangul font as a fallback
        from labsvc.course.fonts import enable_korean

        enable_korean()
    from labsvc.course import display_terms

    if code == "ko":
        display_terms.install()
    else:
        display_terms.uninstall()
    _language = code
    return code


def language() -> str:
    """The language exercise feedback is shown in (``"en"`` unless :func:`set_language` changed it)."""
    return _language


@dataclass
class Feedback:
    """A checker's verdict: ``message`` in English, ``ko`` the same in Korean (shown when the language is "ko")."""

    ok: bool
    message: str
    ko: str | None = None

    def text(self) -> str:
        """The message in the current language, English when no translation was written."""
        return self.ko if _language == "ko" and self.ko else self.message


@dataclass
class CheckResult:
    """The verdict on one answer; true when the answer is right."""

    exercise: str
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"{self._mark()}: {self.message}"

    def _mark(self) -> str:
        labels = {"en": ("✅ Right", "❌ Not yet"), "ko": ("✅ 정답", "❌ 아직")}[_language]
        return labels[0] if self.ok else labels[1]

    def _repr_html_(self) -> str:
        color, mark = ("#2a9d8f" if self.ok else "#e76f51"), self._mark()
        return (f'<div style="border-left:4px solid {color};padding:4px 8px;margin:4px 0">'
                f"<b>{mark}</b> ({html.escape(self.exercise)}): {html.escape(self.message)}</div>")


def is_number(answer: Any) -> bool:
    """Whether a learner's answer is a number (an int or a float, but not True/False, which Python counts as ints)."""
    return not isinstance(answer, bool) and isinstance(answer, (int, float))


def exercise(exercise_id: str) -> Callable[[Callable[..., Feedback]], Callable[..., Feedback]]:
    """Register a checker function under ``exercise_id`` (e.g. ``"01.blast-radius"``)."""

    def register(fn: Callable[..., Feedback]) -> Callable[..., Feedback]:
        if exercise_id in EXERCISES:
            raise ValueError(f"exercise {exercise_id!r} is registered twice")
        EXERCISES[exercise_id] = fn
        return fn

    return register


def _load_all() -> None:
    """Import every ``labsvc.course.exercises.nbNN`` module, which registers its checkers."""
    import pkgutil

    from labsvc.course import exercises

    for info in pkgutil.iter_modules(exercises.__path__):
        if info.name.startswith("nb"):
            importlib.import_module(f"labsvc.course.exercises.{info.name}")


def check(exercise_id: str, answer: Any, **evidence: Any) -> CheckResult:
    """Check ``answer`` to exercise ``exercise_id``; ``evidence`` is what the checker may need (a call log...)."""
    _load_all()
    checker = EXERCISES.get(exercise_id)
    if checker is None:
        raise KeyError(f"no exercise {exercise_id!r}; known exercises: {sorted(EXERCISES)}")
    if answer is ...:
        return CheckResult(exercise_id, False, Feedback(
            False, "replace the ... with your answer, then run the cell again",
            ko="... 자리에 답을 넣고 셀을 다시 실행하세요").text())
    try:
        feedback = checker(answer, **evidence)
    except TypeError as exc:
        return CheckResult(exercise_id, False, Feedback(
            False, f"the check could not use what you passed ({exc})",
            ko=f"넘겨준 값으로는 확인할 수 없습니다 ({exc})").text())
    return CheckResult(exercise_id, feedback.ok, feedback.text())


def environment() -> "pd.DataFrame":
    """Where this kernel runs and with which versions: the first cell of the course shows it."""
    import os
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import pandas as pd

    rows = [("python", platform.python_version())]
    for package in ("labsvc", "fastapi", "uvicorn", "httpx", "pandas", "matplotlib", "ipywidgets"):
        try:
            rows.append((package, version(package)))
        except PackageNotFoundError:
            rows.append((package, "not installed"))
    where = "Binder" if os.environ.get("BINDER_SERVICE_HOST") or os.environ.get("BINDER_REQUEST") else "local"
    rows.append(("running on", where))
    rows.append(("CPU cores", str(os.cpu_count())))
    return pd.DataFrame(rows, columns=["what", "value"])
