"""Ingest files or records into a collection: plan, parse in parallel, embed in batches, commit.

The flow, with memory bounded however large the corpus:

    paths -> plan (hash; skip unchanged) -> parse+chunk in worker processes (bounded in flight)
          -> embedding buffer (length-sorted batches) -> one SQLite transaction per document

Each document is committed on its own, so a failure or a kill loses only documents in flight. A
file that cannot be ingested is reported with its reason and the run goes on; so is a file
whose parser crashed or overran the time limit in its worker (`ingest.workers`). Attachments
found in a file (a mail's) are committed as documents of their own, after it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.store import NewChunk, NewDocument
from ingest.chunk import Chunk
from ingest.discover import iter_files
from ingest.elements import ParseOptions
from ingest.embed import Embedder
from ingest.errors import UnsupportedFormat
from ingest.parse import file_kind
from ingest.prepare import (
    ATTACHMENT_SEPARATOR,
    DocumentTask,
    PreparedDocument,
    PreparedPart,
    prepare,
)
from ingest.sentences import sentence_vectors
from ingest.workers import TaskFailure, WorkerPool
from rag.collection import Collection
from rag.errors import InvalidRequest
from rag.types import FileOutcome, FileStatus, IngestReport

# Save the FAISS index at least this often during a long run, so a crash costs a short rebuild.
_FLUSH_SECONDS = 60.0


class Progress(Protocol):
    """What a long ingest reports as it goes (the CLI draws a bar or prints lines)."""

    def start(self, total: int) -> None: ...

    def file_parsed(self, path: str, chunks: int) -> None:
        """A file is parsed and chunked; its chunks wait for the embedder."""
        ...

    def file_done(self, outcome: FileOutcome) -> None: ...


class _NoProgress:
    def start(self, total: int) -> None:
        pass

    def file_parsed(self, path: str, chunks: int) -> None:
        pass

    def file_done(self, outcome: FileOutcome) -> None:
        pass


@dataclass(frozen=True)
class IngestOptions:
    chunk_tokens: int
    max_file_bytes: int
    parse_workers: int
    embed_batch_chunks: int = 2048
    sentence_vectors: bool = True
    prune: bool = False
    ocr: bool = True
    table_rows: bool = True
    parse_timeout_s: float = 600.0
    document_context: bool = True


# Runs with fewer files than this parse in-process: starting workers costs a few seconds.
_MIN_FILES_FOR_WORKERS = 8


def document_id_for(path: str) -> str:
    """Stable id from a document's path (a file's absolute path, or `record:<id>`).

    Re-ingesting the same file or record replaces its document.
    """
    return hashlib.sha256(path.encode()).hexdigest()[:16]


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Committer:
    """Collects prepared documents and embeds them in large batches, then commits each one.

    sentence-transformers sorts each `encode` call by length, so one call over thousands of
    chunks pads far less than one call per document (padding is the main CPU cost).
    """

    def __init__(
        self,
        collection: Collection,
        embedder: Embedder,
        options: IngestOptions,
        report: list[FileOutcome],
        progress: Progress,
    ) -> None:
        self._collection = collection
        self._embedder = embedder
        self._batch_chunks = options.embed_batch_chunks
        self._sentence_vectors = options.sentence_vectors
        self._report = report
        self._progress = progress
        self._pending: list[PreparedDocument] = []
        self._pending_chunks = 0
        self._last_flush = time.monotonic()

    def outcome(self, outcome: FileOutcome) -> None:
        self._report.append(outcome)
        self._progress.file_done(outcome)

    def add(self, prepared: PreparedDocument) -> None:
        if prepared.error is not None:
            self.outcome(FileOutcome(prepared.task.path, FileStatus.FAILED, prepared.error))
            return
        self._progress.file_parsed(prepared.task.path, len(prepared.chunks))
        self._pending.append(prepared)
        self._pending_chunks += len(prepared.chunks)
        if self._pending_chunks >= self._batch_chunks:
            self.drain()

    def drain(self) -> None:
        if not self._pending:
            return
        parts = [(doc, part) for doc in self._pending for part in _parts(doc)]
        chunks = [chunk for _, (_, part) in parts for chunk in part.chunks]
        texts = [chunk.text for chunk in chunks]
        searched = [
            f"{part.context}\n{chunk.text}" if part.context else chunk.text
            for _, (_, part) in parts
            for chunk in part.chunks
        ]
        vectors = self._embedder.embed(searched)
        sentences: Sequence[np.ndarray | None] = (
            sentence_vectors(self._embedder, texts, vectors)
            if self._sentence_vectors
            else [None] * len(texts)
        )
        offset = 0
        for doc, (document, part) in parts:
            rows = []
            for chunk in part.chunks:
                rows.append(_new_chunk(chunk, vectors[offset], sentences[offset], part.context))
                offset += 1
            self._collection.write_document(document, rows)
            if document.id == doc.task.document_id:
                self._remove_stale_attachments(doc)
                note = "; ".join(doc.notes) or None
                self.outcome(
                    FileOutcome(
                        doc.task.path,
                        FileStatus.INGESTED,
                        note,
                        doc.task.document_id,
                        len(rows),
                        ocr_pages=doc.ocr_pages,
                        ocr_seconds=round(doc.ocr_seconds, 3),
                        attachments=len(doc.attachments),
                    )
                )
        self._pending, self._pending_chunks = [], 0
        if time.monotonic() - self._last_flush > _FLUSH_SECONDS:
            self._collection.flush()
            self._last_flush = time.monotonic()

    def _remove_stale_attachments(self, doc: PreparedDocument) -> None:
        """Attachments a new version of the file no longer has."""
        kept = {_attachment_id(doc, a.name) for a in doc.attachments}
        for old in self._collection.attachments_of(doc.task.document_id):
            if old.id not in kept:
                self._collection.delete_document(old.id)


def _parts(doc: PreparedDocument) -> list[tuple[NewDocument, PreparedPart]]:
    """The documents a prepared file becomes: itself, then each attachment."""
    task = doc.task
    main = NewDocument(
        task.document_id,
        task.path,
        task.file_type,
        task.content_hash,
        task.size_bytes,
        {**doc.found, **task.metadata},
    )
    out = [(main, PreparedPart(doc.chunks, doc.context, doc.found))]
    folder = str(Path(task.path).parent)
    for attachment in doc.attachments:
        path = f"{folder}/{attachment.name}" if task.file_type != "record" else attachment.name
        size = sum(len(c.text) for c in attachment.part.chunks)
        metadata = {**attachment.part.found, "attached_to": task.document_id}
        document = NewDocument(
            _attachment_id(doc, attachment.name),
            path,
            attachment.file_type or "attachment",
            task.content_hash,
            size,
            metadata,
        )
        out.append((document, attachment.part))
    # The file's own document is written last: until it is, a crash leaves it not ingested,
    # and the next run does the whole file (attachments included) again.
    return [*out[1:], out[0]]


def _attachment_id(doc: PreparedDocument, name: str) -> str:
    return document_id_for(f"{doc.task.path}{ATTACHMENT_SEPARATOR}{name}")


def _new_chunk(
    chunk: Chunk, vector: np.ndarray, sentences: np.ndarray | None, context: str | None
) -> NewChunk:
    return NewChunk(
        chunk.ordinal,
        chunk.text,
        chunk.page,
        chunk.section,
        chunk.element_types,
        chunk.token_count,
        vector,
        sentences,
        context,
    )


def ingest_paths(
    collection: Collection,
    embedder: Embedder,
    paths: Iterable[Path],
    options: IngestOptions,
    progress: Progress | None = None,
) -> IngestReport:
    started = time.monotonic()
    tracker = progress or _NoProgress()
    candidates = list(_candidates(paths))
    tracker.start(len(candidates))
    outcomes: list[FileOutcome] = []
    committer = _Committer(collection, embedder, options, outcomes, tracker)
    workers = options.parse_workers if len(candidates) >= _MIN_FILES_FOR_WORKERS else 0
    parse = ParseOptions(
        ocr=options.ocr, tables=options.table_rows, threads=1 if workers else (os.cpu_count() or 1)
    )
    limits = _Limits(min(options.chunk_tokens, embedder.max_tokens), embedder.max_tokens)
    planned = (
        _plan_file(collection, path, named, limits, embedder.name, options, parse)
        for path, named in candidates
    )
    _run(planned, committer, workers, options.parse_timeout_s)
    if options.prune:
        _prune(collection, [Path(p).expanduser().resolve() for p in paths], committer)
    return IngestReport(collection.name, outcomes, time.monotonic() - started)


def ingest_records(
    collection: Collection,
    embedder: Embedder,
    records: Iterable[tuple[int, bytes]],
    options: IngestOptions,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest `{"id", "text", "metadata"}` JSON lines; `records` yields (line number, line)."""
    started = time.monotonic()
    tracker = progress or _NoProgress()
    tracker.start(0)
    outcomes: list[FileOutcome] = []
    committer = _Committer(collection, embedder, options, outcomes, tracker)
    limits = _Limits(min(options.chunk_tokens, embedder.max_tokens), embedder.max_tokens)
    planned = (
        _plan_record(collection, number, line, limits, embedder.name) for number, line in records
    )
    _run(planned, committer, 0, options.parse_timeout_s)
    return IngestReport(collection.name, outcomes, time.monotonic() - started)


@dataclass(frozen=True)
class _Limits:
    """Token sizes: the largest chunk, and the embedding model's whole window."""

    chunk: int
    window: int


def _failed(task: DocumentTask, failure: TaskFailure) -> PreparedDocument:
    return PreparedDocument(task, [], failure.reason)


def _run(
    planned: Iterator[DocumentTask | FileOutcome],
    committer: _Committer,
    workers: int,
    timeout_s: float,
) -> None:
    """Feed tasks to parse workers, a bounded number in flight, and commit results in order.

    Files decided without parsing (unchanged, skipped) are reported as planning reaches them.
    On an interrupt, documents still in flight are dropped, not half-written: the next run
    finds them not yet ingested and does them again.
    """

    def tasks() -> Iterator[DocumentTask]:
        for item in planned:
            if isinstance(item, FileOutcome):
                committer.outcome(item)
            else:
                yield item

    with WorkerPool[DocumentTask, PreparedDocument](workers, timeout_s, _failed) as pool:
        for prepared in pool.map(prepare, tasks()):
            committer.add(prepared)
        committer.drain()


def _candidates(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """Each file with whether the user named it (True) or it was found in a folder (False)."""
    for path in paths:
        for found in iter_files([path]):
            yield found, found == path


def _plan_file(
    collection: Collection,
    path: Path,
    named: bool,
    limits: _Limits,
    tokenizer: str,
    options: IngestOptions,
    parse: ParseOptions,
) -> DocumentTask | FileOutcome:
    """What to do with one file: a task to parse it, or its final outcome already."""
    shown = str(path)
    try:
        absolute = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        return FileOutcome(shown, FileStatus.FAILED, f"cannot open: {exc}")
    try:
        kind = file_kind(absolute)
    except UnsupportedFormat as exc:
        return FileOutcome(shown, FileStatus.FAILED if named else FileStatus.SKIPPED, str(exc))
    try:
        size = absolute.stat().st_size
        if size > options.max_file_bytes:
            return FileOutcome(
                shown,
                FileStatus.FAILED,
                f"file is {size / 1e6:.1f} MB, over the {options.max_file_bytes / 1e6:.0f} MB "
                "limit (RAG_MAX_FILE_MB)",
            )
        digest = content_hash(absolute)
    except OSError as exc:
        return FileOutcome(shown, FileStatus.FAILED, f"cannot read file: {exc.strerror or exc}")

    existing = collection.document_by_path(str(absolute))
    if existing is not None and existing.content_hash == digest:
        return FileOutcome(str(absolute), FileStatus.UNCHANGED, None, existing.id, existing.chunks)
    return DocumentTask(
        document_id_for(str(absolute)),
        str(absolute),
        kind,
        digest,
        size,
        limits.chunk,
        tokenizer,
        window_tokens=limits.window,
        parse=parse,
        document_context=options.document_context,
    )


def _plan_record(
    collection: Collection, number: int, line: bytes, limits: _Limits, tokenizer: str
) -> DocumentTask | FileOutcome:
    where = f"line {number}"
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return FileOutcome(where, FileStatus.FAILED, "not UTF-8 text")
    except json.JSONDecodeError as exc:
        return FileOutcome(where, FileStatus.FAILED, f"not valid JSON: {exc.msg}")
    if not isinstance(record, dict):
        return FileOutcome(where, FileStatus.FAILED, "expected a JSON object")
    record_id, text = record.get("id"), record.get("text")
    metadata: Any = record.get("metadata") or {}
    if not isinstance(record_id, (str, int)) or str(record_id) == "":
        return FileOutcome(where, FileStatus.FAILED, 'missing "id" (a string)')
    if not isinstance(text, str) or not text.strip():
        return FileOutcome(
            f"{where} (id {record_id})", FileStatus.FAILED, 'missing or empty "text"'
        )
    if not isinstance(metadata, dict):
        return FileOutcome(
            f"{where} (id {record_id})", FileStatus.FAILED, '"metadata" must be an object'
        )
    path = f"record:{record_id}"
    digest = hashlib.sha256(
        json.dumps([text, metadata], sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    existing = collection.document_by_path(path)
    if existing is not None and existing.content_hash == digest:
        return FileOutcome(path, FileStatus.UNCHANGED, None, existing.id, existing.chunks)
    document_id = document_id_for(path)
    return DocumentTask(
        document_id,
        path,
        "record",
        digest,
        len(text.encode()),
        limits.chunk,
        tokenizer,
        window_tokens=limits.window,
        text=text,
        metadata=metadata,
    )


def _prune(collection: Collection, roots: list[Path], committer: _Committer) -> None:
    """Delete documents under the given paths whose files no longer exist."""
    for document in collection.documents():
        if document.file_type == "record" or "attached_to" in document.metadata:
            continue  # attachments go with the file that holds them
        path = Path(document.path)
        under_root = any(path == root or path.is_relative_to(root) for root in roots)
        if under_root and not path.exists():
            collection.delete_document(document.id)
            committer.outcome(
                FileOutcome(document.path, FileStatus.PRUNED, "file is gone", document.id, 0)
            )


def read_jsonl(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of a JSONL file with their 1-based numbers, streamed."""
    if not path.is_file():
        raise InvalidRequest(f"cannot read {path}: not a file")
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line
