"""PDF: the text layer read with PDFium, pages without one read by OCR, tables rebuilt.

PDFium (pypdfium2) reads a 160-page 10-K's characters and their boxes in about 2 s, where
pdfminer (under unstructured's `fast` strategy and pdfplumber) takes 40-60 s, and it opens
PDFs that only an owner password protects (copying "not allowed" stops no viewer, so it stops
no reader here either). Layout (tables, titles, paragraphs) comes from `ingest.layout`. Nothing
here can fall back to a strategy that downloads a model.
"""

from __future__ import annotations

import ctypes
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.elements import ParsedFile
from ingest.errors import CorruptDocument, EmptyDocument, EncryptedDocument
from ingest.layout import Line, Word, join_lines, page_elements

# A page with fewer visible characters than this has no usable text layer: a scan.
_MIN_PAGE_CHARS = 12
_RENDER_DPI = 200
_BREAKS = {"\r", "\n"}
_SPACES = {" ", "\t", "\xa0", "\u2002", "\u2003", "\u2009"}
_BOLD_NAMES = ("bold", "black", "heavy", "demi", "semibold")

OcrPage = Callable[[Any], list[Line]]
"""Reads a rendered page image (PIL) into lines of words, in points of a 72-dpi page."""


def read_pdf(path: Path, ocr: OcrPage | None, tables: bool = True) -> ParsedFile:
    """A PDF's elements; pages without a text layer go through `ocr` (None: skipped)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise EncryptedDocument(
                "PDF is password-protected: remove the password and ingest it again"
            ) from exc
        raise CorruptDocument(f"damaged PDF ({exc}): repair or re-export it") from exc
    try:
        return _read(document, ocr, tables)
    finally:
        document.close()


def _read(document: Any, ocr: OcrPage | None, tables: bool) -> ParsedFile:
    pages: list[list[Line]] = []
    scanned: list[int] = []
    ocr_seconds = 0.0
    for index in range(len(document)):
        page = document[index]
        try:
            lines, visible = _page_lines(page)
            if visible < _MIN_PAGE_CHARS:
                scanned.append(index + 1)
                if ocr is not None:
                    started = time.monotonic()
                    lines = _ocr_page(page, ocr) or lines
                    ocr_seconds += time.monotonic() - started
        finally:
            page.close()
        pages.append(join_lines(lines))
    elements = page_elements(pages, tables=tables)
    notes: list[str] = []
    if scanned and ocr is None:
        notes.append(f"{len(scanned)} page(s) without a text layer skipped: OCR is off")
    if not elements:
        if scanned and ocr is None:
            raise EmptyDocument(
                f"no text layer in {len(scanned)} page(s) and OCR is off: set RAG_OCR=true"
            )
        if scanned:
            raise EmptyDocument(
                f"no text found: {len(scanned)} page(s) without a text layer, and OCR read "
                "nothing legible on them"
            )
        raise EmptyDocument("no text found")
    return ParsedFile(
        elements,
        notes,
        properties=_properties(document),
        ocr_pages=len(scanned) if ocr is not None else 0,
        ocr_seconds=ocr_seconds,
    )


def _page_lines(page: Any) -> tuple[list[Line], int]:
    """The page's lines of words in PDFium's reading order, and its count of visible chars."""
    textpage = page.get_textpage()
    try:
        reader = _LineBuilder(textpage.raw, _display_transform(page))
        return reader.lines(), reader.visible
    finally:
        textpage.close()


class _LineBuilder:
    """Characters -> words (at spaces) -> lines (at PDFium's line breaks), with boxes."""

    def __init__(self, raw: Any, transform: Callable[..., tuple[float, ...]]) -> None:
        self._raw = raw
        self._transform = transform
        self._box = [ctypes.c_double() for _ in range(4)]
        self._font_name = ctypes.create_string_buffer(128)
        self._flags = ctypes.c_int()
        self._lines: list[Line] = []
        self._words: list[Word] = []
        self._chars: list[str] = []
        self._bounds: list[float] = []
        self._style = (0.0, False)
        self.visible = 0

    def lines(self) -> list[Line]:
        import pypdfium2.raw as pdfium_c

        for index in range(pdfium_c.FPDFText_CountChars(self._raw)):
            code = pdfium_c.FPDFText_GetUnicode(self._raw, index)
            # PDFium marks a hyphen that ends a line with 2.
            char = "-" if code == 2 else chr(code) if code >= 32 or code in (9, 10, 13) else ""
            if char in _BREAKS:
                self._end_line()
            elif not char or char in _SPACES:
                self._end_word()
            else:
                self._add(index, char)
        self._end_line()
        return self._lines

    def _add(self, index: int, char: str) -> None:
        import pypdfium2.raw as pdfium_c

        left, right, bottom, top = self._box
        pdfium_c.FPDFText_GetCharBox(self._raw, index, left, right, bottom, top)
        x0, y0, x1, y1 = self._transform(left.value, bottom.value, right.value, top.value)
        if not self._chars:
            self._style = (pdfium_c.FPDFText_GetFontSize(self._raw, index), self._is_bold(index))
            self._bounds = [x0, x1, y0, y1]
        else:
            bounds = self._bounds
            self._bounds = [
                min(bounds[0], x0),
                max(bounds[1], x1),
                min(bounds[2], y0),
                max(bounds[3], y1),
            ]
        self._chars.append(char)
        self.visible += 1

    def _is_bold(self, index: int) -> bool:
        import pypdfium2.raw as pdfium_c

        pdfium_c.FPDFText_GetFontInfo(self._raw, index, self._font_name, 128, self._flags)
        name = self._font_name.value.decode("latin-1").lower()
        weight = pdfium_c.FPDFText_GetFontWeight(self._raw, index)
        return any(part in name for part in _BOLD_NAMES) or weight >= 600

    def _end_word(self) -> None:
        if self._chars:
            x0, x1, y0, y1 = self._bounds
            size, bold = self._style
            self._words.append(Word("".join(self._chars), x0, x1, y0, y1, size, bold))
        self._chars = []

    def _end_line(self) -> None:
        self._end_word()
        if self._words:
            self._lines.append(Line(self._words))
        self._words = []


def _display_transform(page: Any) -> Callable[..., tuple[float, ...]]:
    """PDF user space (origin bottom left, y up) -> the page as displayed (origin top left,
    y down), so that a page stored rotated reads in rows like any other."""
    width, height = page.get_width(), page.get_height()
    rotation = page.get_rotation() % 360
    if rotation == 90:
        # Displayed turned clockwise: stored x runs down the display, stored y across.
        return lambda left, bottom, right, top: (bottom, left, top, right)
    if rotation == 180:
        return lambda left, bottom, right, top: (width - right, bottom, width - left, top)
    if rotation == 270:
        return lambda left, bottom, right, top: (
            height - top,
            width - right,
            height - bottom,
            width - left,
        )
    return lambda left, bottom, right, top: (left, height - top, right, height - bottom)


def _ocr_page(page: Any, ocr: OcrPage) -> list[Line]:
    image = page.render(scale=_RENDER_DPI / 72).to_pil()
    lines = ocr(image)
    scale = 72 / _RENDER_DPI
    return [
        Line(
            [
                Word(
                    w.text,
                    w.x0 * scale,
                    w.x1 * scale,
                    w.top * scale,
                    w.bottom * scale,
                    w.size * scale,
                    w.bold,
                )
                for w in line.words
            ]
        )
        for line in lines
    ]


_FILE_LIKE_TITLE = re.compile(
    r"(^microsoft (word|powerpoint|excel)\b)|\.(docx?|pdf|pptx?|xlsx?|indd|qxd)$|^untitled",
    re.IGNORECASE,
)


def _properties(document: Any) -> dict[str, Any]:
    """Title, author and dates from the PDF's metadata, where they are real."""
    try:
        metadata = document.get_metadata_dict(skip_empty=True)
    except Exception:  # damaged info dictionaries are common and never fatal
        return {}
    properties: dict[str, Any] = {}
    title = " ".join(str(metadata.get("Title", "")).split())
    if len(title) >= 4 and not _FILE_LIKE_TITLE.search(title):
        properties["title"] = title
    author = " ".join(str(metadata.get("Author", "")).split())
    if author:
        properties["author"] = author
    return properties
