"""Formats that `unstructured` partitions well: office files, HTML, Markdown, text, mail, e-books.

Its elements are converted to ours in one place; tables arrive as HTML (`text_as_html`) and
are rewritten so every value keeps its row label and column headers (`ingest.tables`).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ingest.elements import Element
from ingest.offline import prepare_parsers
from ingest.tables import grid_from_html, render, table_from_grid

# Text shorter than this just before a table is taken for its caption.
_CAPTION_WORDS = 14


def partition(module: str, function: str, path: Path, **options: Any) -> list[Any]:
    """unstructured's `partition_<kind>` on a file; its exceptions propagate."""
    prepare_parsers()
    partitioner = getattr(importlib.import_module(f"unstructured.partition.{module}"), function)
    return list(partitioner(filename=str(path), **options))


def to_elements(
    raw: list[Any], first_page: int | None = None, tables: bool = True
) -> list[Element]:
    """unstructured's elements as ours: titles open sections, tables become row lines (with
    `tables` off, unstructured's own flattened text)."""
    elements: list[Element] = []
    section: str | None = None
    for item in raw:
        text = (getattr(item, "text", "") or "").strip()
        category = str(getattr(item, "category", type(item).__name__))
        metadata = getattr(item, "metadata", None)
        page = getattr(metadata, "page_number", None) or first_page
        if category == "Table" and tables:
            html = getattr(metadata, "text_as_html", None)
            caption = _caption(elements, page)
            table = table_from_grid(grid_from_html(html), caption) if html else None
            rows = render(table) if table is not None else ""
            if table is not None and rows:
                elements.append(Element(rows, "Table", page, section, table.lead()))
                continue
        if not text:
            continue
        if category == "Title":
            section = text
        elements.append(Element(text, category, page, section))
    return elements


def _caption(elements: list[Element], page: int | None) -> str | None:
    if not elements:
        return None
    last = elements[-1]
    if last.page != page or last.category == "Table":
        return None
    return last.text if len(last.text.split()) <= _CAPTION_WORDS else None
