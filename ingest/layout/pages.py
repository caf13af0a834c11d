"""Page lines -> titles, paragraphs and tables: a document read as a person would read it.

Running headers and footers repeated on most pages are dropped; tables are found
(`table_finder`); larger or bold short lines are section titles; the rest are paragraphs, lines
joined and words hyphenated across a line break rejoined. No model is needed, so it runs
offline and fast (a 160-page 10-K in about a second, after text extraction).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.elements import Element
from ingest.layout.lines import Line
from ingest.layout.table_finder import find_tables
from ingest.tables import Table, render


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


def _page_items(lines: list[Line], body: float, find: bool) -> list[_Title | Table | str]:
    """The page as a list of titles, paragraphs (str) and tables, in reading order."""
    if find:
        tables, used = find_tables(lines, lambda line: _is_title(line, body))
    else:
        tables, used = {}, [False] * len(lines)
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
