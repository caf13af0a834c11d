"""File or record -> chunks: the pure step a parse worker (or a cluster map task) runs.

Everything in and out is a plain picklable value, so the same function runs in-process, in a
process pool, or on Ray.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunk import Chunk, chunk_elements
from ingest.errors import IngestError
from ingest.parse import Element, parse_file
from ingest.tokens import token_counter


@dataclass(frozen=True)
class DocumentTask:
    """A document to turn into chunks: a file to parse, or a record whose text is given."""

    document_id: str
    path: str
    file_type: str
    content_hash: str
    size_bytes: int
    max_tokens: int
    tokenizer: str
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedDocument:
    task: DocumentTask
    chunks: list[Chunk]
    error: str | None = None
    notes: tuple[str, ...] = ()


def prepare(task: DocumentTask) -> PreparedDocument:
    """Parse (or take the given text) and chunk; errors come back as values, never raised."""
    notes: list[str] = []
    try:
        if task.text is not None:
            elements = _record_elements(task)
        else:
            parsed = parse_file(Path(task.path))
            elements, notes = parsed.elements, parsed.notes
    except IngestError as exc:
        return PreparedDocument(task, [], str(exc))
    except Exception as exc:  # a parser bug must not take the whole run down
        return PreparedDocument(task, [], f"unexpected parser error: {type(exc).__name__}: {exc}")
    chunks = chunk_elements(elements, token_counter(task.tokenizer), task.max_tokens)
    if not chunks:
        return PreparedDocument(task, [], "no text found")
    return PreparedDocument(task, chunks, notes=tuple(notes))


def _record_elements(task: DocumentTask) -> list[Element]:
    """A record's text as paragraphs, under its title when the metadata has one."""
    title = task.metadata.get("title")
    section = str(title) if title else None
    elements = [Element(section, "Title", None, section)] if section else []
    for paragraph in (task.text or "").split("\n\n"):
        if paragraph.strip():
            elements.append(Element(paragraph.strip(), "NarrativeText", None, section))
    return elements
