"""Find the figures the course's prose cites from a source, and check them against ``docs/claims.md``.

A **cited figure** is a number with a unit or a multiplier, in the prose of a
markdown cell, in a sentence that names where it comes from. Precisely:

1. **Where:** markdown cells only. Before looking, the cell loses its glue
   spans (``<!-- glue name -->212 ms<!-- /glue -->``: computed by the notebook,
   not cited), HTML comments, fenced code blocks, inline code (`` `timeout="2s"` ``),
   ``<summary>`` labels and heading lines (``## 5. ...``). Link targets are kept
   only as the fact that the sentence has a link; numbers inside a URL do not count.
2. **A figure:** digits (``90``, ``1,000``, ``99.9``), optionally a range
   (``1-20``, ``1.5 to 2``) or a product (``2 x 90``, ``2 × 90``), followed by a
   unit from :data:`UNITS`: time (``ms``, ``µs``, `` s``, ``seconds``, ``minutes``,
   ``hours``, ``days``...), a share (``%``, ``percent``), a multiplier (``14.4x``,
   ``6×``, ``times``), a size (``KB``, ``MB``...) or a rate (``rps``, ``req/s``,
   ``requests per second``). A number without a unit is never a figure, so
   ordinary numbering is not: "exercise 2", "notebook 05", "section 3",
   "three instances", "HTTP 503", "RFC 9457". Numbers written as words are not
   figures either ("five minutes"): the course writes cited figures in digits.
3. **Cited:** the sentence containing the figure names a source: a system or
   document from :data:`SOURCES` (resilience4j, Eureka, Kubernetes, Spring,
   Linkerd, Finagle, Envoy, NGINX, an RFC, the SRE book or workbook, Cloud
   Foundry, RabbitMQ, wrk2, OpenTelemetry, Prometheus, a paper...) or contains a
   link. A sentence ends at ``.``, ``!`` or ``?`` followed by a space and a
   capital letter, or at a blank line; each list item and each table row is a
   sentence of its own.

:func:`cited_figures` finds them in a notebook; :func:`parse_claims` reads the
rows of ``docs/claims.md`` (tables whose columns include ``notebook``,
``cell`` and ``figure(s)``); :func:`unlisted` and :func:`vanished` say, one
line per problem, what is missing from the list or no longer in its notebook.

>>> [f.figure for f in figures_in("Eureka evicts an instance after 90 s without renewals.")]
['90 s']
>>> figures_in("Exercise 2 takes three instances and <!-- glue t -->90 s<!-- /glue -->.")
[]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["Figure", "Claim", "UNITS", "SOURCES", "prose", "sentences", "figures_in", "cited_figures",
           "parse_claims", "unlisted", "vanished", "normalize"]

#: Units that make a number a figure (case-sensitive, longest first, then a word boundary). Seconds and hours
#: written ``s`` and ``h`` count too, after a space only ("90 s", not "503s", "1990s"); ``x`` and ``×`` are a
#: multiplier written right after the number with no number following ("14.4x", "6×"; not "1.1 × 1.1",
#: "0.95 × total").
UNITS = (
    "requests per second", "requests/s", "req/s", "rps", "RPS", "qps", "QPS",
    "milliseconds", "millisecond", "microseconds", "microsecond", "seconds", "second", "secs", "sec",
    "minutes", "minute", "mins", "min", "hours", "hour", "days", "day", "weeks", "week",
    "ms", "µs", "us", "ns",
    "percent", "%",
    "times",
    "KiB", "MiB", "GiB", "KB", "kB", "MB", "GB", "bytes",
)

#: Names that attribute a figure to a source (case-insensitive, whole words), besides links.
SOURCES = (
    r"resilience4j", r"Eureka", r"Kubernetes", r"Spring", r"Linkerd", r"Finagle", r"Envoy", r"NGINX", r"Istio",
    r"Zuul", r"Hystrix", r"Ribbon", r"Netflix", r"Consul", r"Kafka", r"RabbitMQ", r"Cloud Foundry", r"Heroku",
    r"AWS", r"Google", r"gRPC", r"RFC\s*\d+", r"SRE (?:book|workbook)", r"Site Reliability (?:Engineering|Workbook)",
    r"workbook", r"wrk2", r"wrk", r"OpenTelemetry", r"Prometheus", r"Jaeger", r"Zipkin", r"PostgreSQL", r"Redis",
    r"Debezium", r"Pact", r"OpenAPI", r"Stripe", r"Docker", r"Argo Rollouts", r"Flagger", r"Twelve-Factor",
    r"Dapper", r"paper", r"et al\.", r"benchmark", r"documentation",
)

_NUMBER = r"\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:\.\d+)?"
_UNIT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_FIGURE = re.compile(
    rf"(?<![\w.,/#§-])(?:(?:{_NUMBER})\s*[x×]\s*)?(?:{_NUMBER})(?:\s*(?:-|–|to)\s*(?:{_NUMBER}))?"
    rf"(?:\s?(?:{_UNIT})|\s(?:s|h)|[x×])(?!\w)(?!(?<=[x×])\s*\d)")
_SOURCE = re.compile(r"(?<![\w-])(?:" + "|".join(SOURCES) + r")(?![\w-])", re.I)
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))+\)")  # [text](url), the url may hold one (...) pair
_URL = re.compile(r"<?https?://[^\s)>]+>?")
_GLUE = re.compile(r"<!--\s*glue\s+[^>]*?-->.*?<!--\s*/glue\s*-->", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
_INLINE_CODE = re.compile(r"`+[^`]*`+")
_SUMMARY = re.compile(r"<summary>.*?</summary>", re.S)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_LINK_MARK = "\u2020link"  # stands for a removed link target: the sentence keeps the fact that it had one
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')*_]*\s+(?=[\"'(*_]*[A-Z0-9])")
_ABBREVIATIONS = re.compile(r"(?:e\.g|i\.e|etc|vs|cf|al|Fig|No)\.$")
_BLOCK_START = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|\|)")


@dataclass(frozen=True)
class Figure:
    """A figure found in a sentence: the figure as written, the sentence, and whether the sentence names a source."""

    figure: str
    sentence: str
    attributed: bool


@dataclass(frozen=True)
class Claim:
    """One row of ``docs/claims.md``: which notebook and cell cite which figures, and where the figures come from."""

    notebook: str
    cell: str
    figures: tuple[str, ...]
    claim: str
    source: str
    line: int


def normalize(figure: str) -> str:
    """A figure as compared: spaces collapsed, ``×`` read as ``x``, a space between number and unit dropped.

    >>> normalize("2 × 90 s") == normalize("2 x 90s")
    True
    """
    text = re.sub(r"\s+", " ", figure.strip().replace("×", "x").replace("–", "-"))
    return text.replace(" to ", "\0").replace(" ", "").replace("\0", " to ")


def prose(markdown: str) -> str:
    """The prose of a markdown cell, with what is not prose taken out (see the module's rules, point 1)."""
    text = _GLUE.sub(" ", markdown)
    text = _COMMENT.sub(" ", text)
    text = _FENCE.sub(" ", text)
    text = _INLINE_CODE.sub(" CODE ", text)
    text = _SUMMARY.sub(" ", text)
    text = _LINK.sub(lambda m: f"{m.group(1)} {_LINK_MARK}", text)
    text = _URL.sub(f" {_LINK_MARK} ", text)
    text = _TAG.sub(" ", text)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def sentences(markdown: str) -> list[str]:
    """The sentences of a markdown cell's prose: list items and table rows stand alone, paragraphs are split."""
    blocks: list[list[str]] = []
    for line in prose(markdown).splitlines():
        if not line.strip():
            blocks.append([])
        elif _BLOCK_START.match(line) or not blocks:
            blocks.append([line.strip()])
        else:
            blocks[-1].append(line.strip())
    result = []
    for block in blocks:
        text = " ".join(block).strip()
        if not text:
            continue
        start = 0
        for match in _SENTENCE_END.finditer(text):
            if _ABBREVIATIONS.search(text[start:match.start()]):
                continue
            result.append(text[start:match.start()].strip())
            start = match.end()
        result.append(text[start:].strip())
    return [s for s in result if s]


def figures_in(markdown: str) -> list[Figure]:
    """Every figure in the prose of ``markdown``, with its sentence and whether that sentence names a source."""
    found = []
    for sentence in sentences(markdown):
        attributed = _LINK_MARK in sentence or bool(_SOURCE.search(sentence))
        shown = re.sub(r"\s+", " ", sentence.replace(_LINK_MARK, "(link)").replace("CODE", "`…`"))
        for match in _FIGURE.finditer(sentence):
            found.append(Figure(re.sub(r"\s+", " ", match.group(0)), shown, attributed))
    return found


def cited_figures(notebook: str | Path) -> dict[str, list[Figure]]:
    """Cell id -> the cited figures (attributed, see the rules) in that markdown cell of ``notebook``."""
    nb = nbformat.read(str(notebook), as_version=4)
    cited = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            figures = [f for f in figures_in(cell.source) if f.attributed]
            if figures:
                cited[cell.get("id")] = figures
    return cited


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def parse_claims(markdown: str) -> list[Claim]:
    """The rows of every table in ``markdown`` (docs/claims.md) that has ``notebook``, ``cell`` and figure columns.

    Several figures in one row are separated by ``;``. Backticks around a value are ignored.
    """
    claims, header = [], None
    for number, line in enumerate(markdown.splitlines(), start=1):
        if not line.lstrip().startswith("|"):
            header = None
            continue
        cells = [c.strip("`") for c in _cells(line)]
        if header is None:
            names = [c.lower() for c in cells]
            if {"notebook", "cell"} <= set(names) and any(n.startswith("figure") for n in names):
                header = {n.split("(")[0].strip(): i for i, n in enumerate(names)}
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        column = {key: cells[i] if i < len(cells) else "" for key, i in header.items()}
        figures = tuple(f.strip().strip("`") for f in column.get("figure", "").split(";") if f.strip())
        claims.append(Claim(column["notebook"], column["cell"], figures, column.get("claim", ""),
                            column.get("source", ""), number))
    return claims


def unlisted(cited: dict[str, dict[str, list[Figure]]], claims: list[Claim]) -> list[str]:
    """One line per cited figure (notebook -> cell -> figures) that no row of ``claims`` lists."""
    listed = {(c.notebook, c.cell, normalize(f)) for c in claims for f in c.figures}
    problems, reported = [], set()
    for notebook, cells in cited.items():
        for cell, figures in cells.items():
            for figure in figures:
                key = (notebook, cell, normalize(figure.figure))
                if key not in listed and key not in reported:
                    reported.add(key)
                    problems.append(f"{notebook} cell {cell}: figure {figure.figure!r} is cited but not in "
                                    f"docs/claims.md; add a row | {notebook} | {cell} | {figure.figure} | ... | "
                                    f"(sentence: {figure.sentence!r})")
    return problems


def vanished(notebooks: dict[str, dict[str, str]], claims: list[Claim]) -> list[str]:
    """One line per row of ``claims`` whose notebook, cell or figure is gone (``notebooks``: name -> cell -> source)."""
    problems = []
    for claim in claims:
        cells = notebooks.get(claim.notebook)
        if cells is None:
            problems.append(f"docs/claims.md line {claim.line}: notebook {claim.notebook!r} does not exist")
            continue
        if claim.cell not in cells:
            problems.append(f"docs/claims.md line {claim.line}: {claim.notebook} has no markdown cell "
                            f"{claim.cell!r}; move or remove the row")
            continue
        present = {normalize(f.figure) for f in figures_in(cells[claim.cell])}
        for figure in claim.figures:
            if normalize(figure) not in present:
                problems.append(f"docs/claims.md line {claim.line}: {claim.notebook} cell {claim.cell} no longer "
                                f"cites {figure!r}; update or remove the row")
        if not claim.figures:
            problems.append(f"docs/claims.md line {claim.line}: the row names no figure")
    return problems
