"""File or record -> chunks: the pure step a parse worker (or a cluster map task) runs.

Everything in and out is a plain picklable value, so the same function runs in-process, in a
parse worker process, or on Ray.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ingest.chunk import Chunk, chunk_elements
from ingest.context import document_context
from ingest.elements import Element, ParsedFile, ParseOptions
from ingest.errors import IngestError
from ingest.parse import parse_file
from ingest.remote import RemoteLocation, fetched
from ingest.tokens import TokenCounter, token_counter

# How a document found inside another is named: `mail.msg › report.pdf`.
ATTACHMENT_SEPARATOR = " › "


@dataclass(frozen=True)
class DocumentTask:
    """A document to turn into chunks: a file to parse, or a record whose text is given.

    `max_tokens` bounds a chunk's text, `window_tokens` what the embedding model reads: the
    document's context line shares that window with each chunk. A file in an object store
    (`ingest.remote`) has its URI as `path` and `source` to fetch it from (the URI with its
    connection settings); its `content_hash` is filled in by the worker that downloads it.
    """

    document_id: str
    path: str
    file_type: str
    content_hash: str
    size_bytes: int
    max_tokens: int
    tokenizer: str
    window_tokens: int = 0
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    parse: ParseOptions = field(default_factory=ParseOptions)
    document_context: bool = True
    source: str | None = None


@dataclass(frozen=True)
class PreparedPart:
    """A document's chunks, the line searched with each, and what was found about it."""

    chunks: list[Chunk]
    context: str | None = None
    found: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedAttachment:
    """A document found inside the task's file (a mail's attachment), ready to store."""

    name: str
    file_type: str
    part: PreparedPart


@dataclass(frozen=True)
class PreparedDocument:
    task: DocumentTask
    chunks: list[Chunk]
    error: str | None = None
    notes: tuple[str, ...] = ()
    context: str | None = None
    found: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[PreparedAttachment, ...] = ()
    ocr_pages: int = 0
    ocr_seconds: float = 0.0
    # Where the worker's time went (the ingest benchmark sums them per stage).
    parse_seconds: float = 0.0
    chunk_seconds: float = 0.0


def prepare(task: DocumentTask) -> PreparedDocument:
    """Parse (or take the given text) and chunk; errors come back as values, never raised."""
    started = time.perf_counter()
    try:
        if task.text is not None:
            parsed = ParsedFile(_record_elements(task))
        elif task.source is not None:
            parsed, task = _parse_remote(task)
        else:
            parsed = parse_file(Path(task.path), task.parse)
    except IngestError as exc:
        return PreparedDocument(task, [], str(exc))
    except Exception as exc:  # a parser bug must not take the whole run down
        return PreparedDocument(task, [], f"unexpected parser error: {type(exc).__name__}: {exc}")
    parsed_at = time.perf_counter()
    count = token_counter(task.tokenizer)
    with_context = task.document_context and task.text is None
    main = _part(Path(task.path).name, parsed, count, task, with_context)
    attachments = tuple(_attachments(Path(task.path).name, parsed, count, task))
    if not main.chunks and not attachments:
        return PreparedDocument(task, [], "no text found")
    return PreparedDocument(
        task,
        main.chunks,
        notes=tuple(parsed.notes),
        context=main.context,
        found=main.found,
        attachments=attachments,
        ocr_pages=parsed.ocr_pages + sum(a.parsed.ocr_pages for a in parsed.attachments),
        ocr_seconds=parsed.ocr_seconds + sum(a.parsed.ocr_seconds for a in parsed.attachments),
        parse_seconds=parsed_at - started,
        chunk_seconds=time.perf_counter() - parsed_at,
    )


def _parse_remote(task: DocumentTask) -> tuple[ParsedFile, DocumentTask]:
    """An object store's file, downloaded and parsed; its task with the hash of what was read."""
    assert task.source is not None
    with fetched(RemoteLocation.parse(task.source)) as (local, digest):
        parsed = parse_file(local, task.parse)
        return parsed, replace(task, content_hash=digest, size_bytes=local.stat().st_size)


def _part(
    shown_name: str, parsed: ParsedFile, count: TokenCounter, task: DocumentTask, with_context: bool
) -> PreparedPart:
    context = document_context(shown_name, parsed) if with_context else None
    line = context.line() if context is not None else None
    max_tokens = task.max_tokens
    if line and task.window_tokens:
        # The line leads each chunk into the embedding model: keep both within its window.
        max_tokens = max(16, min(max_tokens, task.window_tokens - count(line) - 1))
    chunks = chunk_elements(parsed.elements, count, max_tokens)
    return PreparedPart(chunks, line, context.metadata() if context is not None else {})


def _attachments(
    shown_name: str, parsed: ParsedFile, count: TokenCounter, task: DocumentTask
) -> list[PreparedAttachment]:
    """Attachments, and attachments of attachments, each a document of its own."""
    out: list[PreparedAttachment] = []
    for attachment in parsed.attachments:
        name = f"{shown_name}{ATTACHMENT_SEPARATOR}{attachment.name}"
        part = _part(name, attachment.parsed, count, task, task.document_context)
        if part.chunks:
            out.append(PreparedAttachment(name, attachment.kind, part))
        out += _attachments(name, attachment.parsed, count, task)
    return out


def _record_elements(task: DocumentTask) -> list[Element]:
    """A record's text as paragraphs, under its title when the metadata has one."""
    title = task.metadata.get("title")
    section = str(title) if title else None
    elements = [Element(section, "Title", None, section)] if section else []
    for paragraph in (task.text or "").split("\n\n"):
        if paragraph.strip():
            elements.append(Element(paragraph.strip(), "NarrativeText", None, section))
    return elements
