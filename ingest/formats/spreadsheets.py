"""OpenDocument spreadsheets (.ods): each sheet a table, rows written out with headers.

unstructured reads .xlsx and .xls but not .ods; pandas reads it with odfpy.
"""

from __future__ import annotations

from pathlib import Path

from ingest.elements import Element, ParsedFile
from ingest.errors import CorruptDocument, EmptyDocument
from ingest.tables import render, table_from_grid


def read_ods(path: Path, tables: bool = True) -> ParsedFile:
    import pandas as pd

    try:
        sheets = pd.read_excel(path, engine="odf", sheet_name=None, header=None, dtype=str)
    except Exception as exc:  # odfpy and zipfile raise many types for a damaged file
        raise CorruptDocument(f"could not be read as a spreadsheet: {exc}") from exc
    elements: list[Element] = []
    for number, (name, frame) in enumerate(sheets.items(), start=1):
        grid = [
            ["" if pd.isna(v) else str(v) for v in row] for row in frame.itertuples(index=False)
        ]
        table = table_from_grid(grid, str(name)) if tables else None
        if table is not None and (text := render(table)):
            elements.append(Element(text, "Table", number, str(name), table.lead()))
        elif not tables and (text := "\n".join(" ".join(c for c in r if c) for r in grid)):
            elements.append(Element(text.strip(), "Table", number, str(name)))
    if not elements:
        raise EmptyDocument("no text found (every sheet is empty)")
    return ParsedFile(elements)
