"""The SVG drawing of a sequence diagram: lifelines, arrows, notes and frames, from the same lines as the Mermaid.

No renderer outside this module: boxes and text are placed on a grid,
one row per line, with column gaps wide enough for the longest label that
crosses them. Text widths are estimated (``CHAR_WIDTH`` per character),
which is enough for labels of a few dozen characters. Failed calls are red,
asynchronous (broker) arrows blue, notes yellow.
"""

from __future__ import annotations

from html import escape as _xml

from labsvc.observability._sequence_model import Arrow, Note

__all__ = ["draw_svg", "ROW_HEIGHT", "CHAR_WIDTH"]

CHAR_WIDTH = 6.6  # px per character at 12 px sans-serif, a little generous
ROW_HEIGHT = 30
_MARGIN = 20
_BOX_H = 30
_INK, _FAIL, _ASYNC = "#333333", "#c0392b", "#1f5fbf"
_DASHED = {"reply", "async_reply", "reply_cross"}


def _w(text: str) -> float:
    return len(text) * CHAR_WIDTH


def _columns(participants: list[str], lines: list) -> tuple[dict[str, float], dict[str, float]]:
    index = {p: i for i, p in enumerate(participants)}
    box = {p: max(90.0, _w(p) + 24) for p in participants}
    gaps = [max(40.0, (box[a] + box[b]) / 2 + 24) for a, b in zip(participants, participants[1:])]
    for line in lines:
        if isinstance(line, Arrow) and line.src != line.dst:
            a, b = sorted((index[line.src], index[line.dst]))
            need = (_w(line.text) + 30) / (b - a)
            for g in range(a, b):
                gaps[g] = max(gaps[g], need)
        elif isinstance(line, Arrow):  # a call to itself: its label sits to the right
            i = index[line.src]
            if i < len(gaps):
                gaps[i] = max(gaps[i], _w(line.text) + 50)
    x = {participants[0]: _MARGIN + box[participants[0]] / 2}
    for (a, b), gap in zip(zip(participants, participants[1:]), gaps):
        x[b] = x[a] + gap
    return x, box


def _head(x: float, y: float, direction: float, style: str, color: str) -> str:
    back = x - 9 * direction
    if style in ("cross", "reply_cross"):
        return (f'<path d="M{x - 5:.1f},{y - 5:.1f} L{x + 5:.1f},{y + 5:.1f} M{x - 5:.1f},{y + 5:.1f} '
                f'L{x + 5:.1f},{y - 5:.1f}" stroke="{color}" stroke-width="2"/>')
    if style in ("async", "async_reply"):
        return (f'<polyline points="{back:.1f},{y - 5:.1f} {x:.1f},{y:.1f} {back:.1f},{y + 5:.1f}" fill="none" '
                f'stroke="{color}" stroke-width="1.5"/>')
    return f'<polygon points="{back:.1f},{y - 4.5:.1f} {x:.1f},{y:.1f} {back:.1f},{y + 4.5:.1f}" fill="{color}"/>'


def _frame_spans(lines: list, index: dict[str, int]) -> dict[int, tuple[int, int, int]]:
    """For each frame opening (by line number): the leftmost and rightmost column inside, and its nesting height."""
    spans: dict[int, tuple[int, int, int]] = {}
    stack: list[list] = []
    for n, line in enumerate(lines):
        if isinstance(line, (Arrow, Note)):
            cols = [index[line.src], index[line.dst]] if isinstance(line, Arrow) else [index[p] for p in line.over]
            for entry in stack:
                entry[1], entry[2] = min(entry[1], *cols), max(entry[2], *cols)
        elif line.kind in ("loop", "par"):
            stack.append([n, 10**9, -1, 0])
        elif line.kind == "end" and stack:
            start, lo, hi, height = stack.pop()
            spans[start] = (lo if hi >= 0 else 0, hi if hi >= 0 else 0, height)
            if stack:
                stack[-1][3] = max(stack[-1][3], height + 1)
    return spans


def draw_svg(title: str | None, participants: list[str], lines: list) -> str:
    """An SVG document drawing ``lines`` between ``participants`` (left to right)."""
    index = {p: i for i, p in enumerate(participants)}
    x, box = _columns(participants, lines)
    spans = _frame_spans(lines, index)
    body: list[str] = []
    right = max(x[p] + box[p] / 2 for p in participants)
    top = _MARGIN + (24 if title else 0)
    y = top + _BOX_H + 18
    open_frames: list[tuple[int, float]] = []
    for n, line in enumerate(lines):
        if isinstance(line, Arrow):
            color = _FAIL if line.style in ("cross", "reply_cross") else (_ASYNC if "async" in line.style else _INK)
            dash = ' stroke-dasharray="5,3"' if line.style in _DASHED else ""
            x1, x2 = x[line.src], x[line.dst]
            text = _xml(line.text)
            if x1 == x2:
                body.append(f'<path d="M{x1:.1f},{y + 14:.1f} h30 v14 h-30" fill="none" stroke="{color}"{dash}/>')
                body.append(_head(x1, y + 28, -1, line.style, color))
                body.append(f'<text x="{x1 + 36:.1f}" y="{y + 24:.1f}" fill="{color}">{text}</text>')
                right = max(right, x1 + 40 + _w(line.text))
                y += ROW_HEIGHT + 10
                continue
            body.append(f'<text x="{(x1 + x2) / 2:.1f}" y="{y + 12:.1f}" text-anchor="middle" fill="{color}">{text}</text>')
            body.append(f'<line x1="{x1:.1f}" y1="{y + 18:.1f}" x2="{x2:.1f}" y2="{y + 18:.1f}" stroke="{color}" '
                        f'stroke-width="1.3"{dash}/>')
            body.append(_head(x2, y + 18, 1 if x2 > x1 else -1, line.style, color))
            y += ROW_HEIGHT
        elif isinstance(line, Note):
            xs = [x[p] for p in line.over]
            width = max(_w(line.text) + 16, max(xs) - min(xs) + 40)
            cx = (min(xs) + max(xs)) / 2
            body.append(f'<rect x="{cx - width / 2:.1f}" y="{y + 3:.1f}" width="{width:.1f}" height="20" '
                        f'fill="#fff8c4" stroke="#c9b458"/>')
            body.append(f'<text x="{cx:.1f}" y="{y + 17:.1f}" text-anchor="middle">{_xml(line.text)}</text>')
            right = max(right, cx + width / 2)
            y += 28
        elif line.kind in ("loop", "par"):
            open_frames.append((n, y))
            y += 26
        elif line.kind == "and" and open_frames:
            n0, _ = open_frames[-1]
            lo, hi, height = spans[n0]
            pad = 14 + 8 * height
            body.append(f'<line x1="{x[participants[lo]] - pad:.1f}" y1="{y + 6:.1f}" '
                        f'x2="{x[participants[hi]] + pad:.1f}" y2="{y + 6:.1f}" stroke="#888" stroke-dasharray="3,3"/>')
            y += 14
        elif line.kind == "end" and open_frames:
            n0, y0 = open_frames.pop()
            lo, hi, height = spans[n0]
            pad = 14 + 8 * height
            left_x, right_x = x[participants[lo]] - pad - 60 * (lo == hi), x[participants[hi]] + pad + 60 * (lo == hi)
            label = f"{lines[n0].kind} {lines[n0].text}".strip()
            body.append(f'<rect x="{left_x:.1f}" y="{y0 + 2:.1f}" width="{right_x - left_x:.1f}" '
                        f'height="{y - y0 + 4:.1f}" fill="none" stroke="#888"/>')
            body.append(f'<rect x="{left_x:.1f}" y="{y0 + 2:.1f}" width="{_w(label) + 12:.1f}" height="17" '
                        f'fill="#eeeeee" stroke="#888"/>')
            body.append(f'<text x="{left_x + 6:.1f}" y="{y0 + 15:.1f}" font-weight="bold">{_xml(label)}</text>')
            right = max(right, right_x)
            y += 12
    bottom = y + 8
    width = right + _MARGIN
    head: list[str] = []
    if title:
        head.append(f'<text x="{_MARGIN}" y="{_MARGIN + 6}" font-size="14" font-weight="bold">{_xml(title)}</text>')
    for p in participants:
        w = box[p]
        head.append(f'<line x1="{x[p]:.1f}" y1="{top + _BOX_H:.1f}" x2="{x[p]:.1f}" y2="{bottom:.1f}" stroke="#999" '
                    f'stroke-dasharray="4,4"/>')
        head.append(f'<rect x="{x[p] - w / 2:.1f}" y="{top}" width="{w:.1f}" height="{_BOX_H}" rx="3" '
                    f'fill="#eaf0fb" stroke="#4a6fa5"/>')
        head.append(f'<text x="{x[p]:.1f}" y="{top + 19}" text-anchor="middle">{_xml(p)}</text>')
    height = bottom + _MARGIN
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="12">'
            f'<title>{_xml(title or "sequence diagram")}</title>'
            f'<rect width="100%" height="100%" fill="white"/>' + "".join(head) + "".join(body) + "</svg>")
