"""Tables as text in which every value stands beside its row label and its column headers.

Flattened tables lose their meaning: `Total net sales $ 63,355 $ 19,604 82,959` says nothing of
which quarter or year each figure belongs to, and neither a search nor a language model can
recover it. Every row is written out as one line instead. Where the column headers are short,
each value carries its header:

    Total net sales — 2022: 82,959; 2021: 81,434

Where they are long ("Three Months Ended June 25, 2022" over four columns), repeating them on
every value would fill a chunk with headers and leave room for two rows; the rows are then
Markdown rows under a header row that leads every chunk cut from the table:

    | (Millions) | Three Months Ended June 25, 2022 | Three Months Ended June 26, 2021 | ...
    | Total net sales | 82,959 | 81,434 | ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# A cell that holds a figure: 1,577  (1,577)  $ 5,363  -12.5%  —  n/a
# ...or a marker standing in a figure's place: "—" (none), "n/a", "nm", "#" (">100%").
_FIGURE = re.compile(
    r"^[(\[]?[-–—+]?[$€£¥]?\s?[-–—]?\(?\d[\d,.]*\)?\s?%?[)\]]?\*?$|^[-–—]{1,3}$|^n/?[am]$|^nm$"
    r"|^#$",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_UNIT_NOTE = re.compile(
    r"^\(?\s*(?:in\s|amounts\s|dollars\s|\$\s*in\s)?[^)]*?"
    r"(?:millions?|thousands?|billions?|percent|usd|except\b)",
    re.IGNORECASE,
)
# Cells that only decorate the figure beside them in HTML tables: `$`, `%`, `)`.
_PREFIX_ONLY = {"$", "€", "£", "¥", "("}
_SUFFIX_ONLY = {"%", ")", ")%", "%)"}


def is_figure(text: str) -> bool:
    """Whether a cell holds a number (or a dash standing for none).

    >>> [is_figure(t) for t in ["1,577", "(1,577)", "$ 5,363", "12.5%", "—", "2018", "June"]]
    [True, True, True, True, True, True, False]
    """
    return bool(_FIGURE.match(text.strip()))


def is_year(text: str) -> bool:
    return bool(_YEAR.match(text.strip()))


def is_unit_note(text: str) -> bool:
    """Whether a header cell says what the figures are in ("(Millions)", "In thousands, ...").

    >>> is_unit_note("(Millions)"), is_unit_note("In millions, except per share data")
    (True, True)
    >>> is_unit_note("Net sales")
    False
    """
    return bool(_UNIT_NOTE.match(text.strip()))


@dataclass(frozen=True)
class TableRow:
    """A row label and the row's values, one per column ("" where the cell is empty)."""

    label: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table as rows under per-column headers; `caption` says what the table is."""

    caption: str | None
    headers: tuple[str, ...]
    rows: tuple[TableRow, ...]
    label_header: str = ""

    @property
    def compact(self) -> bool:
        """Whether rows are Markdown rows under a header row (long headers), rather than
        values each beside its header (short ones)."""
        return sum(len(h) for h in self.headers) > _SHORT_HEADERS and len(self.headers) > 1

    def lead(self) -> str | None:
        """What leads every chunk of the table: its caption, and the header row if compact."""
        if not self.compact:
            return self.caption
        header_row = "| " + " | ".join([self.label_header, *self.headers]) + " |"
        return f"{self.caption}\n{header_row}" if self.caption else header_row

    def row_lines(self) -> list[str]:
        """Each row as one line of text (see the module docstring)."""
        return [line for row in self.rows if (line := self._row_line(row))]

    def _row_line(self, row: TableRow) -> str:
        if self.compact:
            if not any(row.values):
                return row.label
            return "| " + " | ".join([row.label, *row.values]) + " |"
        pairs = []
        for header, value in zip(self.headers, row.values, strict=False):
            if value:
                pairs.append(f"{header}: {value}" if header else value)
        label = row.label
        if label and self.label_header:
            label = f"{self.label_header}: {label}"
        if not pairs:
            return label
        return f"{label} — {'; '.join(pairs)}" if label else "; ".join(pairs)


# Column headers longer than this, all together, make a table compact (see Table.compact).
_SHORT_HEADERS = 40


def render(table: Table) -> str:
    r"""The table's rows as lines of text (caption and header row travel as its lead).

    >>> t = Table("Income", ("2018", "2017"), (TableRow("Net sales", ("5,363", "4,869")),))
    >>> render(t)
    'Net sales — 2018: 5,363; 2017: 4,869'
    >>> wide = Table(None, ("Three Months Ended June 25, 2022", "Six Months Ended June 25, 2022"),
    ...              (TableRow("Net sales", ("82,959", "304,182")),))
    >>> print(wide.lead(), render(wide), sep="\n")
    |  | Three Months Ended June 25, 2022 | Six Months Ended June 25, 2022 |
    | Net sales | 82,959 | 304,182 |
    """
    return "\n".join(table.row_lines())


def table_from_grid(
    grid: list[list[str]], caption: str | None = None, header_rows: int | None = None
) -> Table | None:
    """A Table from rows of cell texts (the first column holds the row labels).

    Leading rows without figures are the headers (only the first row when the table holds no
    figures at all), unless the caller knows (`header_rows`, e.g. 1 for a CSV file); a header
    spanning several columns was repeated into each by the caller.

    >>> grid = [["In millions", "2022", "", "2021", ""], ["Assets", "", "", "", ""],
    ...         ["Cash", "$", "10", "$", "9"], ["Debt", "", "(4", ")", "(3)"]]
    >>> table = table_from_grid(grid, "Balance sheet")
    >>> table.caption
    'Balance sheet (In millions)'
    >>> print(render(table))
    Assets
    Cash — 2022: $10; 2021: $9
    Debt — 2022: (4); 2021: (3)
    """
    grid = _merge_decorations(_square(grid))
    grid = _drop_empty_columns(grid, header_rows)
    if not grid or not grid[0]:
        return None
    header_count = _header_rows(grid) if header_rows is None else min(header_rows, len(grid))
    headers_rows, body = grid[:header_count], grid[header_count:]
    width = len(grid[0])
    parts = [_parts(row[column] for row in headers_rows) for column in range(1, width)]
    header_list, common = hoist_common(parts)
    headers = tuple(header_list)
    label_header = _join_parts(row[0] for row in headers_rows)
    if label_header and is_unit_note(label_header):
        caption = f"{caption} ({label_header})" if caption else label_header
        label_header = ""
    if common:
        caption = f"{caption} — {common}" if caption else common
    rows = tuple(TableRow(row[0], tuple(row[1:])) for row in body if any(row))
    if not rows:
        return None
    return Table(caption, headers, rows, label_header)


def _square(grid: list[list[str]]) -> list[list[str]]:
    width = max((len(row) for row in grid), default=0)
    return [[cell.strip() for cell in row] + [""] * (width - len(row)) for row in grid]


def _merge_decorations(grid: list[list[str]]) -> list[list[str]]:
    """Glue `$` cells to the figure after them and `)`/`%` cells to the figure before."""
    out = []
    for row in grid:
        cells = list(row)
        for i, cell in enumerate(cells):
            if cell in _PREFIX_ONLY and i + 1 < len(cells) and cells[i + 1]:
                cells[i + 1] = f"{cell}{cells[i + 1]}"
                cells[i] = ""
            elif cell in _SUFFIX_ONLY and i > 0:
                j = i - 1
                while j > 0 and not cells[j]:
                    j -= 1
                if cells[j]:
                    cells[j] = f"{cells[j]}{cell}"
                    cells[i] = ""
        out.append(cells)
    return out


def _drop_empty_columns(grid: list[list[str]], header_rows: int | None) -> list[list[str]]:
    """Spacer columns, and header-only columns whose figures sit one column over, go away.

    A column with text only in header rows is folded into the nearest column holding values.
    """
    if not grid:
        return grid
    width = len(grid[0])
    body_start = _header_rows(grid) if header_rows is None else min(header_rows, len(grid))
    has_body = [any(row[c] for row in grid[body_start:]) for c in range(width)]
    has_any = [any(row[c] for row in grid) for c in range(width)]
    keep = [c for c in range(width) if has_body[c] or c == 0]
    if not keep:
        return []
    for row in grid[:body_start]:
        # A header row with exactly one cell per value column, but not above them (its spans
        # were lost on the way, as unstructured's HTML drops colspan), is laid over them.
        filled = [c for c in range(1, width) if row[c]]
        if len(filled) == len(keep) - 1 and filled != keep[1:]:
            texts = [row[c] for c in filled]
            for c in filled:
                row[c] = ""
            for c, text in zip(keep[1:], texts, strict=True):
                row[c] = text
            has_any = [any(r[c] for r in grid) for c in range(width)]
    for column in range(width):
        if has_any[column] and not has_body[column] and column not in keep:
            target = min(keep, key=lambda k: (abs(k - column), -k))
            if target == 0 and len(keep) > 1:
                target = min(keep[1:], key=lambda k: abs(k - column))
            for row in grid[:body_start]:
                if row[column] and row[column] not in row[target]:
                    row[target] = f"{row[target]} {row[column]}".strip()
    return [[row[c] for c in keep] for row in grid]


def _header_rows(grid: list[list[str]]) -> int:
    """How many leading rows are headers: rows with column text but no figure other than
    years, and label-only rows above them ("In millions"); only the first row of a table
    that holds no figures at all."""
    if len(grid) < 2:
        return 0
    if not any(_has_figure(row) for row in grid):
        return 1
    count = 0
    for index, row in enumerate(grid[: min(len(grid) - 1, 5)]):
        if _has_figure(row) or (not any(row[1:]) and count > 0):
            break
        if any(row[1:]):
            count = index + 1
    return count


def _has_figure(row: list[str]) -> bool:
    return any(is_figure(cell) and not is_year(cell) for cell in row[1:] if cell)


def _join_parts(parts: Any) -> str:
    return " ".join(_parts(parts))


def _parts(parts: Any) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part and (not out or out[-1] != part):
            out.append(part)
    return out


def hoist_common(parts: list[list[str]]) -> tuple[list[str], str]:
    """Column headers from their lines (top down), with the lines every column starts with
    taken out ("Years ended December 31" over all three years), and what was taken out.

    >>> hoist_common([["Years ended", "2018"], ["Years ended", "2017"]])
    (['2018', '2017'], 'Years ended')
    >>> hoist_common([["Three Months", "June 25, 2022"], ["Six Months", "June 25, 2022"]])
    (['Three Months June 25, 2022', 'Six Months June 25, 2022'], '')
    """
    common: list[str] = []
    while (
        len(parts) > 1
        and all(len(p) > len(common) + 1 for p in parts)
        and len({p[len(common)] for p in parts}) == 1
    ):
        common.append(parts[0][len(common)])
    return [" ".join(p[len(common) :]) for p in parts], " ".join(common)


def grid_from_html(html: str) -> list[list[str]]:
    """The cell texts of an HTML table.

    A header cell spanning several columns ("Three Months Ended" over two quarters) is
    repeated into each; a spanned cell in a row of figures stays in its first column.
    """
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    grid: list[list[str]] = []
    for tr in root.iter("tr"):
        cells = [
            (" ".join(cell.text_content().split()), _span(cell.get("colspan")))
            for cell in tr
            if cell.tag in ("td", "th")
        ]
        header_like = not _has_figure(["", *(text for text, _ in cells[1:])])
        row: list[str] = []
        for text, span in cells:
            row.extend([text] * span if header_like else [text] + [""] * (span - 1))
        if row:
            grid.append(row)
    return grid


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 50))
    except ValueError:
        return 1
