"""Words with their boxes, and lines of them in reading order.

PDF text layers and OCR both give words with boxes and nothing else; these are the values the
layout analysis reads pages from.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.tables import is_figure


@dataclass(frozen=True)
class Word:
    """A word (or, from OCR, a phrase) and its box, in points from the page's top left."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool = False


class Line:
    """Words on one baseline, left to right (a PDF's reading order within the line)."""

    def __init__(self, words: Sequence[Word]) -> None:
        self.words = tuple(words)
        self.text = " ".join(w.text for w in self.words)
        self.x0 = min(w.x0 for w in self.words)
        self.x1 = max(w.x1 for w in self.words)
        self.top = min(w.top for w in self.words)
        self.bottom = max(w.bottom for w in self.words)
        self.size = statistics.median(w.size for w in self.words)
        self.bold = all(w.bold for w in self.words)

    @property
    def height(self) -> float:
        """The line's height for spacing rules: its font size (glyph boxes are tighter)."""
        return max(self.size, self.bottom - self.top, 1.0)

    def __repr__(self) -> str:
        return f"Line({self.text!r})"


def join_lines(lines: list[Line]) -> list[Line]:
    """Merge lines that sit on the same baseline and do not overlap: a table row whose
    figures the PDF draws after its label, or a label whose figures sit a little lower.

    Only short pieces (figures, or up to four words) join a line found earlier, so the two
    columns of a two-column page are not woven together. A line that then stands above the
    line before it (a header drawn cell by cell) is moved up.
    """
    out: list[Line] = []
    for line in lines:
        target = _same_baseline(out, line) if _joinable(line) else None
        if target is None:
            out.append(line)
        else:
            out[target] = Line(sorted([*out[target].words, *line.words], key=lambda w: w.x0))
    for index in range(1, len(out)):
        cursor = index
        while cursor > 0 and _above(out[cursor], out[cursor - 1]):
            out[cursor - 1], out[cursor] = out[cursor], out[cursor - 1]
            cursor -= 1
    return out


def _joinable(line: Line) -> bool:
    return len(line.words) <= 4 or all(is_figure(w.text) for w in line.words)


def _centre(line: Line) -> float:
    return (line.top + line.bottom) / 2


def _same_baseline(out: list[Line], line: Line) -> int | None:
    """The index of a recent line on the same baseline that `line` does not overlap."""
    for index in range(len(out) - 1, max(len(out) - 40, 0) - 1, -1):
        earlier = out[index]
        if abs(_centre(earlier) - _centre(line)) > 0.35 * min(earlier.size, line.size):
            continue
        if line.x0 >= earlier.x1 - 1 or line.x1 <= earlier.x0 + 1:
            return index
    return None


def _above(line: Line, previous: Line) -> bool:
    """Whether `line` stands wholly above `previous` in the same column of the page."""
    return line.bottom < previous.top and line.x0 < previous.x1 and line.x1 > previous.x0
