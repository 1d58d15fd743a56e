"""Columns for a terminal: cells measured in display columns, the last column cut to a width.

Width is measured with the standard library's `unicodedata` rather than the `wcwidth` package: an
East Asian Wide or Fullwidth character (CJK, most emoji) takes two columns, a combining mark or a
format character none, anything else one. That is wcwidth's rule for everything but emoji
sequences joined by ZWJ (drawn as one glyph, counted here as their parts), a rare sight in a
Kubernetes name, and it spares the runtime image a dependency.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from reconciler.textsafe import terminal_safe

ELLIPSIS = "…"
MIN_LAST = 16  # a last column narrower than this says nothing: it is left out (the wide output has it)


def char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal."""
    return sum(char_width(c) for c in text)


def cut(text: str, width: int) -> str:
    """`text` in at most `width` columns, ending in an ellipsis when something was cut."""
    if display_width(text) <= width:
        return text
    if width <= 0:
        return ""
    kept, used = [], 0
    for char in text:
        w = char_width(char)
        if used + w > width - 1:
            break
        kept.append(char)
        used += w
    return "".join(kept) + ELLIPSIS


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def wrap(text: str, width: int | None, *, indent: str = "  ") -> list[str]:
    """`text` broken at spaces into lines of at most `width` columns (None: one line); the later
    lines keep the first one's leading spaces plus `indent`. A word longer than a line is cut."""
    if width is None or display_width(text) <= width:
        return [text]
    body = text.lstrip(" ")
    lead = text[: len(text) - len(body)]
    words = body.split(" ")
    lines: list[str] = []
    line = lead + words[0]
    for word in words[1:]:
        if display_width(f"{line} {word}") <= width:
            line = f"{line} {word}"
        else:
            lines.append(line)
            line = lead + indent + word
    lines.append(line)
    return [cut(part, width) for part in lines]


def table(rows: Sequence[Sequence[str]], *, width: int | None = None) -> list[str]:
    """Rows (the first may be a header) as aligned lines, two spaces apart; the last column is cut
    so that each line fits in `width` columns (None: never cut), and left out when fewer than
    MIN_LAST columns would be left for it. Every cell is escaped first: a name is one cell on one
    line."""
    if not rows:
        return []
    safe = [[terminal_safe(cell) for cell in row] for row in rows]
    if width is not None and len(safe[0]) > 1:
        fixed = sum(max(display_width(r[i]) for r in safe) + 2 for i in range(len(safe[0]) - 1))
        if width - fixed < MIN_LAST:
            safe = [r[:-1] for r in safe]
    widths = [max(display_width(r[i]) for r in safe) for i in range(len(safe[0]) - 1)]
    lines = []
    for row in safe:
        cells = [pad(c, w) for c, w in zip(row[:-1], widths, strict=True)]
        prefix = "  ".join([*cells, ""]) if cells else ""
        last = row[-1] if width is None else cut(row[-1], width - display_width(prefix))
        lines.append((prefix + last).rstrip())
    return lines
