"""Plain text: paragraphs at blank lines, short unpunctuated one-line paragraphs as titles.

unstructured's text partitioner classifies every paragraph with a language model and takes
minutes on a long book (over 120 s for War and Peace); plain text has no markup to recover,
so simple rules do as well, in milliseconds. A form feed starts a new page.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.elements import Element, ParsedFile

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_TITLE_MAX_WORDS = 10


def read_text(path: Path, encoding: str) -> ParsedFile:
    text = path.read_text(encoding=encoding, errors="replace")
    return ParsedFile(text_elements(text))


def text_elements(text: str) -> list[Element]:
    """Elements of a plain text.

    >>> [(e.category, e.text) for e in text_elements("CHAPTER I\\n\\nIt was in July,\\n1805.")]
    [('Title', 'CHAPTER I'), ('NarrativeText', 'It was in July, 1805.')]
    """
    elements: list[Element] = []
    section: str | None = None
    pages = text.replace("\r\n", "\n").replace("\r", "\n").split("\f")
    for number, page in enumerate(pages, start=1):
        page_number = number if len(pages) > 1 else None
        for block in _PARAGRAPH_BREAK.split(page):
            lines = [line.strip() for line in block.split("\n") if line.strip()]
            if not lines:
                continue
            if len(lines) == 1 and _is_title(lines[0]):
                section = lines[0]
                elements.append(Element(lines[0], "Title", page_number, section))
            else:
                elements.append(Element(" ".join(lines), "NarrativeText", page_number, section))
    return elements


def _is_title(line: str) -> bool:
    words = line.split()
    return (
        len(words) <= _TITLE_MAX_WORDS
        and line[-1] not in ".,;:!?\"'”)-"
        and (line[0].isupper() or line[0].isdigit())
        and any(ch.isalpha() for ch in line)
    )
