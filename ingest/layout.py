"""Page lines -> titles, paragraphs and tables, from the words' positions on the page.

PDF text layers and OCR both give words with boxes and nothing else. This module reads the
page as a person would: running headers and footers repeated on most pages are dropped; lines
whose figures stand in aligned columns form tables, with the lines above them that sit over
those columns as column headers and the short lines above those as the caption; larger or bold
short lines are section titles; the rest are paragraphs. It needs no model, so it runs
offline and fast (a 160-page 10-K in well under a second, after text extraction).
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.elements import Element
from ingest.tables import (
    Table,
    TableRow,
    hoist_common,
    is_figure,
    is_unit_note,
    is_year,
    render,
)


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


@dataclass
class _Cell:
    text: str
    x0: float
    x1: float

    @property
    def figure(self) -> bool:
        """Holds only figures: "1,577", "$ 5,363", "800.73 (484.11)"."""
        return all(is_figure(t) or t in ("$", "%", "€", "£") for t in self.text.split())


@dataclass
class _Row:
    """A line split into cells at wide gaps; trailing figure cells are its values."""

    line: Line
    cells: list[_Cell]
    label: str
    values: list[_Cell] = field(default_factory=list)

    @property
    def is_data(self) -> bool:
        return bool(self.values)


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


def page_elements(
    pages: Sequence[Sequence[Line]], first_page: int = 1, tables: bool = True
) -> list[Element]:
    """Elements of a whole document, given each page's lines in reading order; with `tables`
    off, lines of figures are left as paragraphs."""
    pages = drop_running_lines(pages)
    body = _body_size(pages)
    elements: list[Element] = []
    section: str | None = None
    for offset, lines in enumerate(pages):
        page_number = first_page + offset
        for item in _page_items(list(lines), body, tables):
            if isinstance(item, _Title):
                section = item.text
                elements.append(Element(item.text, "Title", page_number, section))
            elif isinstance(item, Table):
                text = render(item)
                if text:
                    elements.append(Element(text, "Table", page_number, section, item.lead()))
            else:
                elements.append(Element(item, "NarrativeText", page_number, section))
    return elements


@dataclass(frozen=True)
class _Title:
    text: str


def drop_running_lines(pages: Sequence[Sequence[Line]]) -> list[list[Line]]:
    """Remove running headers and footers: lines among the first or last three of a page
    whose text (digits aside, so page numbers match) recurs on at least 30% of pages."""
    if len(pages) < 4:
        return [list(lines) for lines in pages]
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_running_key(line) for line in _edges(lines)})
    threshold = max(3, int(0.3 * len(pages)))
    running = {key for key, count in counts.items() if count >= threshold and key}
    out = []
    for lines in pages:
        edge_ids = {id(line) for line in _edges(lines)}
        out.append(
            [
                line
                for line in lines
                if id(line) not in edge_ids or _running_key(line) not in running
            ]
        )
    return out


def _edges(lines: Sequence[Line]) -> list[Line]:
    return [*lines[:3], *lines[3:][-3:]]


def _running_key(line: Line) -> str:
    return re.sub(r"\d+", "#", " ".join(line.text.lower().split()))


def _body_size(pages: Sequence[Sequence[Line]]) -> float:
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            for word in line.words:
                sizes[round(word.size * 2) / 2] += len(word.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def _split_cells(line: Line) -> list[_Cell]:
    """Words grouped into cells wherever the gap between them is wider than a space, and
    between two figures a little more than a space apart ("(45) $ 14,692" is two cells,
    "$ 14,692" and "800.73 (484.11)" one each)."""
    cells: list[_Cell] = []
    previous = ""
    for word in line.words:
        gap_limit = 0.8 * max(word.size, 4.0)
        gap = word.x0 - cells[-1].x1 if cells else 0.0
        close = bool(cells) and gap < gap_limit
        # "(45) $ 14,692": two figures further apart than a space belong to two columns.
        two_figures = (
            is_figure(word.text)
            and (is_figure(previous) or previous == "%")
            and gap >= 0.45 * word.size
        )
        if close and not two_figures and not (word.text in _CURRENCY and is_figure(previous)):
            cells[-1].text += " " + word.text
            cells[-1].x1 = max(cells[-1].x1, word.x1)
        else:
            cells.append(_Cell(word.text, word.x0, word.x1))
        previous = word.text
    return cells


_CURRENCY = ("$", "€", "£", "¥")


def _row(line: Line) -> _Row:
    cells = _split_cells(line)
    values: list[_Cell] = []
    index = len(cells)
    while index > 0 and cells[index - 1].figure:
        index -= 1
    trailing = cells[index:]
    label_cells = cells[:index]
    # "$" cells belong to the figure after them, "%" cells to the figure before.
    prefix: _Cell | None = None
    for cell in trailing:
        if cell.text in ("$", "€", "£"):
            prefix = cell
        elif cell.text == "%" and values:
            values[-1] = _Cell(values[-1].text + "%", values[-1].x0, cell.x1)
        elif prefix is not None:
            values.append(_Cell(prefix.text + cell.text, prefix.x0, cell.x1))
            prefix = None
        else:
            values.append(cell)
    label = " ".join(c.text for c in label_cells)
    # A lone figure that continues a sentence is prose, not a table row.
    if (
        values
        and label_cells
        and len(values) == 1
        and values[0].x0 - label_cells[-1].x1 < 2.5 * line.size
    ):
        return _Row(line, cells, " ".join(c.text for c in cells))
    return _Row(line, cells, label, values)


def _page_items(lines: list[Line], body: float, find_tables: bool) -> list[_Title | Table | str]:
    """The page as a list of titles, paragraphs (str) and tables, in reading order."""
    rows = [_row(line) for line in lines]
    used = [False] * len(lines)
    tables: dict[int, Table] = {}
    index = 0 if find_tables else len(rows)
    while index < len(rows):
        block = _table_block(rows, index)
        if block is None:
            index += 1
            continue
        start, end = block
        found = _build_table(rows, start, end, used, body)
        if found is not None:
            first, table = found
            tables[first] = table
            for i in range(first, end):
                used[i] = True
        index = end
    items: list[_Title | Table | str] = []
    paragraph: list[Line] = []
    for i, line in enumerate(lines):
        if i in tables:
            items.extend(_flush(paragraph, body))
            paragraph = []
            items.append(tables[i])
        if used[i]:
            continue
        if paragraph and _breaks_paragraph(paragraph[-1], line, body):
            items.extend(_flush(paragraph, body))
            paragraph = []
        paragraph.append(line)
    items.extend(_flush(paragraph, body))
    return items


def _table_block(rows: list[_Row], start: int) -> tuple[int, int] | None:
    """Rows [start, end) that form a table: two or more data rows, with label-only lines
    (group headings, wrapped labels) allowed between them."""
    if not rows[start].is_data:
        return None
    data = 1
    value_left = min(v.x0 for v in rows[start].values)
    end = start + 1
    while end < len(rows):
        row, previous = rows[end], rows[end - 1]
        if row.line.top - previous.line.bottom > 2.5 * previous.line.height:
            break
        if row.is_data:
            data += 1
            value_left = min(value_left, *(v.x0 for v in row.values))
            end += 1
            continue
        ahead = rows[end + 1 : end + 4]
        if row.line.x1 < value_left - 2 and any(r.is_data for r in ahead):
            end += 1
            continue
        break
    while end > start and not rows[end - 1].is_data:
        end -= 1
    if data < 2:
        return None
    return start, end


def _build_table(
    rows: list[_Row], start: int, end: int, used: list[bool], body_size: float
) -> tuple[int, Table] | None:
    """The table of rows [start, end), with its headers and caption found above it.

    Returns the index of its first line (caption included) and the table.
    """
    body = rows[start:end]
    # A first row of years only ("(Millions) 2018 2017 2016") is a header, not data.
    header_rows: list[_Row] = []
    while body and body[0].is_data and all(is_year(v.text) for v in body[0].values):
        header_rows.append(body.pop(0))
    if sum(r.is_data for r in body) < 2:
        return None
    columns = _columns([v for r in body for v in r.values])
    label_right = min(c[0] for c in columns)
    first = start
    cursor = start - 1
    # Row-group headings right above the first figures ("Net sales:") belong to the body.
    while (
        cursor >= 0
        and not header_rows
        and start - cursor <= 2
        and not used[cursor]
        and not rows[cursor].is_data
        and rows[cursor].line.x1 < label_right - 2
        and rows[cursor + 1].line.top - rows[cursor].line.bottom <= rows[cursor].line.height
    ):
        body.insert(0, rows[cursor])
        first = cursor
        cursor -= 1
    while cursor >= 0 and len(header_rows) < 5 and not used[cursor]:
        candidate, below = rows[cursor], rows[cursor + 1]
        if below.line.top - candidate.line.bottom > 2.0 * candidate.line.height:
            break
        if not _is_header_line(candidate, label_right):
            break
        header_rows.insert(0, candidate)
        first = cursor
        cursor -= 1
    parts, unit = _headers(header_rows, columns, label_right)
    headers, common = hoist_common(parts)
    caption_lines: list[str] = []
    while cursor >= 0 and len(caption_lines) < 3 and not used[cursor]:
        candidate = rows[cursor]
        below_top = rows[cursor + 1].line.top
        if below_top - candidate.line.bottom > 2.0 * candidate.line.height:
            break
        if (
            candidate.is_data
            or len(candidate.line.words) > 14
            or candidate.line.text.endswith(".")
            or _is_title(candidate.line, body_size)
        ):
            break  # a title stays a title: it names the section the table is in
        caption_lines.insert(0, candidate.line.text)
        first = cursor
        cursor -= 1
    caption = " — ".join([*caption_lines, common] if common else caption_lines) or None
    if unit:
        unit = unit if unit.startswith("(") else f"({unit})"
        caption = f"{caption} {unit}" if caption else unit
    table_rows = _table_rows(body, columns)
    if not table_rows:
        return None
    return first, Table(caption, tuple(headers), tuple(table_rows))


def _is_header_line(row: _Row, label_right: float) -> bool:
    """A line above a table whose text stands over its figure columns (years, dates,
    "Three Months Ended"), with at most a unit note or label heading at its left."""
    left = [c for c in row.cells if c.x1 <= label_right]
    right = [c for c in row.cells if c.x1 > label_right]
    if not right:
        return False
    if any(c.x0 < label_right - 2 for c in right) and len(row.cells) == 1:
        return False  # one wide piece of text running across the columns: prose
    return len(left) <= 1 and len(row.line.words) <= 24


def _headers(
    header_rows: list[_Row], columns: list[tuple[float, float]], label_right: float
) -> tuple[list[list[str]], str]:
    """Each column's header lines, read top down, and the unit note at the left.

    Each column takes, from every header line, the cell nearest to it, if that cell is within
    one column pitch: "Three Months Ended" centred over four columns heads all four, "Change"
    over the last column heads that one only.
    """
    parts: list[list[str]] = [[] for _ in columns]
    unit: list[str] = []
    centres = [(x0 + x1) / 2 for x0, x1 in columns]
    gaps = [b - a for a, b in itertools.pairwise(centres)]
    reach = 1.3 * statistics.median(gaps) if gaps else float("inf")
    for row in header_rows:
        cells = []
        for cell in row.cells:
            if cell.x1 <= label_right:
                if is_unit_note(cell.text) or cell.text.startswith("("):
                    unit.append(cell.text)
            else:
                cells.append(cell)
        if not cells:
            continue
        for index, centre in enumerate(centres):
            distance, cell = min(
                ((_edge_distance(c, centre), c) for c in cells), key=lambda p: p[0]
            )
            if distance <= reach and (not parts[index] or parts[index][-1] != cell.text):
                parts[index].append(cell.text)
    return parts, " ".join(unit)


def _edge_distance(cell: _Cell, x: float) -> float:
    return 0.0 if cell.x0 <= x <= cell.x1 else min(abs(cell.x0 - x), abs(cell.x1 - x))


def _columns(values: list[_Cell]) -> list[tuple[float, float]]:
    """Figure columns: the horizontal spans of values that overlap one another."""
    spans: list[list[float]] = []
    for cell in sorted(values, key=lambda c: c.x0):
        if spans and cell.x0 <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], cell.x1)
        else:
            spans.append([cell.x0, cell.x1])
    return [(a, b) for a, b in spans]


def _table_rows(body: list[_Row], columns: list[tuple[float, float]]) -> list[TableRow]:
    out: list[TableRow] = []
    pending_label = ""
    for row in body:
        if not row.is_data:
            text = row.line.text
            # A wrapped label ("Adjustments to reconcile ... to net cash" / "provided by ...").
            if pending_label and text[:1].islower():
                pending_label = f"{pending_label} {text}"
            else:
                if pending_label:
                    out.append(TableRow(pending_label, ()))
                pending_label = text
            continue
        values = [""] * len(columns)
        for cell in row.values:
            index = _best_column(cell, columns)
            values[index] = f"{values[index]} {cell.text}".strip()
        label = row.label
        if pending_label and (not label or label[:1].islower()):
            label = f"{pending_label} {label}".strip()
        elif pending_label:
            out.append(TableRow(pending_label, ()))
        pending_label = ""
        out.append(TableRow(label, tuple(values)))
    if pending_label:
        out.append(TableRow(pending_label, ()))
    return out


def _best_column(cell: _Cell, columns: list[tuple[float, float]]) -> int:
    def distance(i: int) -> float:
        x0, x1 = columns[i]
        overlap = min(x1, cell.x1) - max(x0, cell.x0)
        return -overlap if overlap > 0 else abs((x0 + x1) / 2 - (cell.x0 + cell.x1) / 2)

    return min(range(len(columns)), key=distance)


def _is_title(line: Line, body: float) -> bool:
    text = line.text
    words = text.split()
    if not 1 <= len(words) <= 14 or not any(ch.isalpha() for ch in text):
        return False
    if text[-1] in ".,;" or text.count(",") > 2:
        return False
    return line.size >= body * 1.15 or (line.bold and line.size >= body * 0.95)


def _breaks_paragraph(previous: Line, line: Line, body: float) -> bool:
    gap = line.top - previous.bottom
    if gap > 0.7 * max(previous.height, line.height) or gap < -2 * previous.height:
        return True
    if abs(line.size - previous.size) > 1.0:
        return True
    return _is_title(previous, body) != _is_title(line, body)


def _flush(lines: list[Line], body: float) -> list[_Title | Table | str]:
    if not lines:
        return []
    text = _join_text(lines)
    if all(_is_title(line, body) for line in lines) and len(text.split()) <= 20:
        return [_Title(text)]
    return [text]


def _join_text(lines: list[Line]) -> str:
    """Lines joined into running text; a word hyphenated across a line break is rejoined."""
    text = ""
    for line in lines:
        piece = line.text
        if text.endswith("-") and len(text) > 1 and text[-2].isalpha() and piece[:1].islower():
            text = text[:-1] + piece
        else:
            text = f"{text} {piece}" if text else piece
    return text
