"""The plain values every parser takes and returns: options in, elements of text out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ParseOptions:
    """How to parse. Travels with each task to the worker that parses the file.

    `threads` is what OCR may use (1 in a parse worker, where processes are the parallelism);
    `convert_timeout_s` bounds one LibreOffice conversion. `tables` off writes tables as their
    cells' text in reading order, as flattening parsers do (for comparison).
    """

    ocr: bool = True
    tables: bool = True
    threads: int = 1
    convert_timeout_s: float = 120.0
    attachment_depth: int = 2


@dataclass(frozen=True)
class Element:
    """One block of text: a title, a paragraph, a list item, a table.

    `page` is the page, sheet, slide or message number where the format has one. A table's
    `text` is one line per row in which every value stands with its row label and column
    headers; `lead` (its caption) is repeated at the head of every chunk the table is split into.
    """

    text: str
    category: str
    page: int | None
    section: str | None
    lead: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file found inside another (a mail's attachment), parsed as a document of its own."""

    name: str
    kind: str
    parsed: ParsedFile


@dataclass(frozen=True)
class ParsedFile:
    """A file's elements, and what is worth telling the user or keeping about it.

    `properties` holds what the file says about itself (title, author, date) for the
    document's metadata; `ocr_pages` / `ocr_seconds` what reading scanned pages cost.
    """

    elements: list[Element]
    notes: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    ocr_pages: int = 0
    ocr_seconds: float = 0.0
