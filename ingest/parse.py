"""Turn one file into elements (titles, paragraphs, tables) with their page and section.

The reader is chosen by file extension, never by sniffing: a file of binary garbage named
`.pdf` must fail as a bad PDF, not be quietly parsed as something else. Every reader works
offline: none can fall back to a strategy that downloads a model.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from ingest.elements import Element, ParsedFile, ParseOptions
from ingest.encoding import detect_encoding
from ingest.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    IngestError,
    UnreadableFile,
    UnsupportedFormat,
    first_line,
)
from ingest.formats import (
    delimited,
    images,
    libreoffice,
    mail,
    plaintext,
    records,
    spreadsheets,
)
from ingest.formats.pdf import read_pdf
from ingest.formats.unstructured_reader import partition, to_elements

__all__ = ["SUPPORTED_EXTENSIONS", "Element", "ParsedFile", "file_kind", "parse_file"]

Reader = Callable[[Path, ParseOptions], ParsedFile]


@dataclass(frozen=True)
class _Format:
    kind: str
    read: Reader
    container: str | None = None  # "pdf", "zip" or "ole": bytes checked before parsing
    text: bool = False  # read with the detected encoding


def _unstructured(module: str, function: str, **fixed: object) -> Reader:
    def read(path: Path, options: ParseOptions) -> ParsedFile:
        raw = partition(module, function, path, **fixed)
        return ParsedFile(to_elements(raw, tables=options.tables))

    return read


def _unstructured_text(module: str, function: str) -> Reader:
    """A text format: decoded with the detected encoding, which is noted when not UTF-8."""

    def read(path: Path, options: ParseOptions) -> ParsedFile:
        encoding, note = detect_encoding(path)
        raw = partition(module, function, path, encoding=encoding)
        return ParsedFile(to_elements(raw, tables=options.tables), [note] if note else [])

    return read


def _pdf(path: Path, options: ParseOptions) -> ParsedFile:
    from ingest.ocr import ocr_image

    ocr = partial(ocr_image, threads=options.threads) if options.ocr else None
    return read_pdf(path, ocr, options.tables)


def _converted(target: str, reader: Reader) -> Reader:
    def read(path: Path, options: ParseOptions) -> ParsedFile:
        return libreoffice.read_converted(
            path, target, options.convert_timeout_s, lambda copy: reader(copy, options)
        )

    return read


def _plain_text(path: Path, options: ParseOptions) -> ParsedFile:
    encoding, note = detect_encoding(path)
    parsed = plaintext.read_text(path, encoding)
    return ParsedFile(parsed.elements, [note] if note else [])


def _delimited(delimiter: str | None) -> Reader:
    def read(path: Path, options: ParseOptions) -> ParsedFile:
        encoding, note = detect_encoding(path)
        parsed = delimited.read_delimited(path, encoding, delimiter, options.tables)
        return ParsedFile(parsed.elements, [note] if note else [])

    return read


def _json(path: Path, options: ParseOptions) -> ParsedFile:
    encoding, _ = detect_encoding(path)
    return records.read_json(path, encoding)


def _ndjson(path: Path, options: ParseOptions) -> ParsedFile:
    encoding, _ = detect_encoding(path)
    return records.read_ndjson(path, encoding)


_DOCX = _unstructured("docx", "partition_docx")
_PPTX = _unstructured("pptx", "partition_pptx")
_TEXT = _Format("text", _plain_text, text=True)
_MARKDOWN = _Format("markdown", _unstructured_text("md", "partition_md"), text=True)
_HTML = _Format("html", _unstructured_text("html", "partition_html"), text=True)
_IMAGE = _Format("image", images.read_image)

_FORMATS: dict[str, _Format] = {
    ".pdf": _Format("pdf", _pdf, container="pdf"),
    ".docx": _Format("docx", _DOCX, container="zip"),
    ".pptx": _Format("pptx", _PPTX, container="zip"),
    ".xlsx": _Format("xlsx", _unstructured("xlsx", "partition_xlsx"), container="zip"),
    ".xls": _Format("xls", _unstructured("xlsx", "partition_xlsx"), container="ole"),
    ".doc": _Format("doc", _converted("docx", _DOCX), container="ole"),
    ".ppt": _Format("ppt", _converted("pptx", _PPTX), container="ole"),
    ".odt": _Format("odt", _unstructured("odt", "partition_odt"), container="zip"),
    ".odp": _Format("odp", _converted("pptx", _PPTX), container="zip"),
    ".ods": _Format("ods", lambda p, o: spreadsheets.read_ods(p, o.tables), container="zip"),
    ".rtf": _Format("rtf", _unstructured("rtf", "partition_rtf")),
    ".epub": _Format("epub", _unstructured("epub", "partition_epub"), container="zip"),
    ".html": _HTML,
    ".htm": _HTML,
    ".xhtml": _HTML,
    ".xml": _Format("xml", _unstructured_text("xml", "partition_xml"), text=True),
    ".md": _MARKDOWN,
    ".markdown": _MARKDOWN,
    ".rst": _Format("rst", _unstructured("rst", "partition_rst")),
    ".org": _Format("org", _unstructured("org", "partition_org")),
    ".txt": _TEXT,
    ".text": _TEXT,
    ".log": _TEXT,
    ".csv": _Format("csv", _delimited(None), text=True),
    ".tsv": _Format("tsv", _delimited("\t"), text=True),
    ".json": _Format("json", _json, text=True),
    ".ndjson": _Format("ndjson", _ndjson, text=True),
    ".jsonl": _Format("ndjson", _ndjson, text=True),
    ".eml": _Format("email", lambda p, o: mail.read_eml(p, o, parse_file)),
    ".msg": _Format("msg", lambda p, o: mail.read_msg(p, o, parse_file), container="ole"),
    ".mbox": _Format("mbox", lambda p, o: mail.read_mbox(p, o, parse_file)),
    ".png": _IMAGE,
    ".jpg": _IMAGE,
    ".jpeg": _IMAGE,
    ".tif": _IMAGE,
    ".tiff": _IMAGE,
    ".bmp": _IMAGE,
    ".gif": _IMAGE,
    ".webp": _IMAGE,
    ".heic": _IMAGE,
    ".heif": _IMAGE,
}

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(_FORMATS))


def file_kind(path: Path) -> str:
    """The document kind ("pdf", "docx", ...) for a path, or raise UnsupportedFormat."""
    found = _FORMATS.get(path.suffix.lower())
    if found is None:
        shown = path.suffix or "(no extension)"
        raise UnsupportedFormat(
            f"unsupported format {shown}; supported: {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    return found.kind


def parse_file(path: Path, options: ParseOptions | None = None) -> ParsedFile:
    """Parse a file into elements, or raise an IngestError that says why not."""
    options = options or ParseOptions()
    file_kind(path)  # raises UnsupportedFormat with the list of supported extensions
    found = _FORMATS[path.suffix.lower()]
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise UnreadableFile("not a regular file")
    if size == 0:
        raise EmptyDocument("file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise UnreadableFile("permission denied")
    found, note = _check_container(path, found)
    try:
        parsed = found.read(path, options)
    except IngestError:
        raise
    except PermissionError as exc:
        raise UnreadableFile("permission denied") from exc
    except Exception as exc:  # parsers raise many types; each means "bad file"
        raise CorruptDocument(f"could not be parsed as {found.kind}: {first_line(exc)}") from exc
    if not parsed.elements and not parsed.attachments:
        raise EmptyDocument("no text found")
    if note:
        return replace(parsed, notes=[note, *parsed.notes])
    return parsed


# A zip container that expands past this is refused: parsers would inflate it into memory.
_MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
_MAX_ZIP_RATIO = 200
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# A legacy name on a modern file (Word still offers to save .docx content as "x.doc").
_MODERN = {"doc": ".docx", "ppt": ".pptx", "xls": ".xlsx"}


def _check_container(path: Path, found: _Format) -> tuple[_Format, str | None]:
    """Reject files whose bytes cannot be the format their name claims, or that are traps;
    the format to read the file as (a modern file under a legacy name is read as what it is).

    Parsers return no elements, rather than an error, for several of these, which would read
    as "empty" when the truth is "not a PDF at all".
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
    if found.container == "pdf" and b"%PDF-" not in head:
        raise CorruptDocument("not a PDF (no %PDF- header): damaged or misnamed file")
    if found.container == "ole" and not head.startswith(_OLE_MAGIC):
        modern = _MODERN.get(found.kind)
        if modern and zipfile.is_zipfile(path):
            _check_zip(path, modern.lstrip("."))
            return _FORMATS[modern], f"a {modern} file named {path.suffix}: read as {modern}"
        raise CorruptDocument(
            f"not {_a(found.kind)} {found.kind.upper()} file (no OLE header): damaged or "
            "misnamed file"
        )
    if found.container == "zip":
        if head.startswith(_OLE_MAGIC) and found.kind in ("docx", "pptx", "xlsx"):
            # Office stores a password-protected document as an encrypted OLE package.
            raise EncryptedDocument(
                f"{found.kind.upper()} is password-protected: remove the password and ingest "
                "it again"
            )
        _check_zip(path, found.kind)
    return found, None


def _check_zip(path: Path, kind: str) -> None:
    if not zipfile.is_zipfile(path):
        raise CorruptDocument(
            f"not {_a(kind)} {kind.upper()} file (not a zip container): damaged or misnamed file"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptDocument(f"damaged {kind.upper()} file: {exc}") from exc
    compressed = max(path.stat().st_size, 1)
    if expanded > _MAX_UNZIPPED_BYTES or (
        expanded > 50 * 1024 * 1024 and expanded / compressed > _MAX_ZIP_RATIO
    ):
        raise CorruptDocument(
            f"refused: expands to {expanded / 1e6:.0f} MB from {compressed / 1e6:.1f} MB "
            "(a zip bomb?)"
        )


def _a(kind: str) -> str:
    """The article before a format's name read out: "an ODT", "a DOCX", "an XLS"."""
    return "an" if kind[:1].lower() in "aefhilmnorsx" else "a"
