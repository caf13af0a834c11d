"""Tables on a page: lines whose figures stand in aligned columns, with their headers.

Lines are split into cells at gaps wider than a space; a line ending in figure cells is a data
row; two or more data rows, with label-only lines (group headings, wrapped labels) between
them, form a table. The lines right above it that stand over its figure columns are its column
headers (a header centred over several columns heads each of them), short lines above those
its caption, a unit note at the left ("(Millions)") its unit.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.layout.lines import Line
from ingest.tables import (
    Table,
    TableRow,
    hoist_common,
    is_figure,
    is_unit_note,
    is_year,
)


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
        after_figure = is_figure(previous) or previous == "%"
        two_figures = is_figure(word.text) and after_figure and gap >= 0.45 * word.size
        if close and not two_figures and not (word.text in _CURRENCY and after_figure):
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


def find_tables(
    lines: list[Line], is_title: Callable[[Line], bool]
) -> tuple[dict[int, Table], list[bool]]:
    """The tables on a page, by the index of their first line, and which lines they took.

    `is_title` tells a section title, which is never taken as a table's caption.
    """
    rows = [_row(line) for line in lines]
    used = [False] * len(lines)
    tables: dict[int, Table] = {}
    index = 0
    while index < len(rows):
        block = _table_block(rows, index)
        if block is None:
            index += 1
            continue
        start, end = block
        found = _build_table(rows, start, end, used, is_title)
        if found is not None:
            first, table = found
            tables[first] = table
            for i in range(first, end):
                used[i] = True
        index = end
    return tables, used


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
    rows: list[_Row], start: int, end: int, used: list[bool], is_title: Callable[[Line], bool]
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
            or is_title(candidate.line)
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
    if any(_is_amount(c) for c in right):
        return False  # headers name columns; a line with amounts in it is a row
    return len(left) <= 1 and len(row.line.words) <= 24


def _is_amount(cell: _Cell) -> bool:
    """A cell of figures that are not years: "2,182", "(1.4) %"; not "%", "#" or "2022"."""
    tokens = cell.text.split()
    return cell.figure and any(
        any(ch.isdigit() for ch in token) and not is_year(token) for token in tokens
    )


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
    reach = statistics.median(gaps) if gaps else float("inf")
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
