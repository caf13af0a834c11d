"""CSV and TSV: one table whose first row names the columns; ragged rows are kept.

unstructured reads these through pandas, which refuses a file as soon as one row has more
fields than the first ("Expected 2 fields in line 9, saw 3"); the csv module reads every row.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ingest.elements import Element, ParsedFile
from ingest.errors import EmptyDocument
from ingest.tables import render, table_from_grid

_SNIFF_BYTES = 64 * 1024


def read_delimited(
    path: Path, encoding: str, delimiter: str | None, tables: bool = True
) -> ParsedFile:
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        sample = handle.read(_SNIFF_BYTES)
        handle.seek(0)
        if delimiter is None:
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
            except csv.Error:
                delimiter = ","
        csv.field_size_limit(16 * 1024 * 1024)
        grid = [
            row for row in csv.reader(handle, delimiter=delimiter) if any(c.strip() for c in row)
        ]
    table = table_from_grid(grid, header_rows=1) if len(grid) > 1 and tables else None
    if table is None:
        text = "\n".join(" ".join(cell for cell in row if cell) for row in grid)
        if not text.strip():
            raise EmptyDocument("no text found")
        return ParsedFile([Element(text, "NarrativeText", None, None)])
    return ParsedFile([Element(render(table), "Table", None, None, table.lead())])
