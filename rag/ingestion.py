"""Ingest files into a collection: hash, skip unchanged, parse, chunk, embed, commit.

Each file is committed on its own, so a failure or an interruption loses only the file in hand.
A file that cannot be ingested is reported with its reason and the run goes on.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from index.store import NewChunk, NewDocument
from ingest.chunk import chunk_elements
from ingest.discover import iter_files
from ingest.embed import Embedder
from ingest.errors import IngestError, UnreadableFile, UnsupportedFormat
from ingest.parse import file_kind, parse_file
from rag.collection import Collection
from rag.types import FileOutcome, FileStatus, IngestReport

OnFile = Callable[[FileOutcome], None]

# Save the FAISS index at least this often during a long run, so a crash costs a short rebuild.
_FLUSH_SECONDS = 30.0


def document_id_for(path: Path) -> str:
    """Stable id from the absolute path: re-ingesting the same file replaces its document."""
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_paths(
    collection: Collection,
    embedder: Embedder,
    paths: Iterable[Path],
    *,
    chunk_tokens: int,
    max_file_bytes: int,
    on_file: OnFile | None = None,
) -> IngestReport:
    started = time.monotonic()
    max_tokens = min(chunk_tokens, embedder.max_tokens)
    outcomes: list[FileOutcome] = []
    last_flush = started
    try:
        for path, named in _candidates(paths):
            outcome = ingest_file(collection, embedder, path, named, max_tokens, max_file_bytes)
            outcomes.append(outcome)
            if on_file is not None:
                on_file(outcome)
            if time.monotonic() - last_flush > _FLUSH_SECONDS:
                collection.flush()
                last_flush = time.monotonic()
    finally:
        collection.flush()
    return IngestReport(collection.name, outcomes, time.monotonic() - started)


def _candidates(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """Each file with whether the user named it (True) or it was found in a folder (False)."""
    for path in paths:
        for found in iter_files([path]):
            yield found, found == path


def ingest_file(
    collection: Collection,
    embedder: Embedder,
    path: Path,
    named: bool,
    max_tokens: int,
    max_file_bytes: int,
) -> FileOutcome:
    shown = str(path)
    try:
        absolute = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        return FileOutcome(shown, FileStatus.FAILED, f"cannot open: {exc}")
    try:
        kind = file_kind(absolute)
    except UnsupportedFormat as exc:
        status = FileStatus.FAILED if named else FileStatus.SKIPPED
        return FileOutcome(shown, status, str(exc))
    try:
        size = absolute.stat().st_size
        if size > max_file_bytes:
            return FileOutcome(
                shown,
                FileStatus.FAILED,
                f"file is {size / 1e6:.1f} MB, over the {max_file_bytes / 1e6:.0f} MB limit "
                "(RAG_MAX_FILE_MB)",
            )
        digest = content_hash(absolute)
    except OSError as exc:
        return FileOutcome(shown, FileStatus.FAILED, str(UnreadableFile(exc.strerror or str(exc))))

    document_id = document_id_for(absolute)
    existing = collection.document_by_path(str(absolute))
    if existing is not None and existing.content_hash == digest:
        return FileOutcome(shown, FileStatus.UNCHANGED, None, existing.id, existing.chunks)

    try:
        elements = parse_file(absolute)
    except IngestError as exc:
        return FileOutcome(shown, FileStatus.FAILED, str(exc))
    chunks = chunk_elements(elements, embedder.count_tokens, max_tokens)
    vectors = embedder.embed([c.text for c in chunks])
    rows = [
        NewChunk(c.ordinal, c.text, c.page, c.section, c.element_types, c.token_count, vector)
        for c, vector in zip(chunks, vectors, strict=True)
    ]
    collection.write_document(NewDocument(document_id, str(absolute), kind, digest, size), rows)
    return FileOutcome(shown, FileStatus.INGESTED, None, document_id, len(rows))
