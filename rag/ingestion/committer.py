"""Commit prepared documents: embed them in large length-sorted batches, write each one.

sentence-transformers sorts each `encode` call by length, so one call over thousands of chunks
pads far less than one call per document (padding is the main CPU cost). Each document is then
written in its own SQLite transaction; a file's attachments are written as documents of their
own, before the file itself, so that until the file is written, the next run redoes it whole.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index.store import DocumentRecord, NewChunk, NewDocument
from ingest.chunk import Chunk
from ingest.embed import Embedder
from ingest.prepare import ATTACHMENT_SEPARATOR, PreparedDocument, PreparedPart
from ingest.sentences import embed_pooled, sentence_vectors
from rag.ingestion.stages import StageClock
from rag.types import FileOutcome, FileStatus

# Save the FAISS index at least this often during a long run, so a crash costs a short rebuild.
_FLUSH_SECONDS = 60.0


class Progress(Protocol):
    """What a long ingest reports as it goes (the CLI draws a bar or prints lines)."""

    def start(self, total: int) -> None: ...

    def file_parsed(self, path: str, chunks: int) -> None:
        """A file is parsed and chunked; its chunks wait for the embedder."""
        ...

    def file_done(self, outcome: FileOutcome) -> None: ...


class IngestTarget(Protocol):
    """Where an ingest writes: a collection, or a run over a sharded one (rag/shards/run.py)."""

    name: str

    def document_by_path(self, path: str) -> DocumentRecord | None: ...

    def documents(self) -> list[DocumentRecord]: ...

    def attachments_of(self, document_id: str) -> list[DocumentRecord]: ...

    def write_document(self, document: NewDocument, chunks: Sequence[NewChunk]) -> None: ...

    def delete_document(self, document_id: str) -> bool: ...

    def flush(self) -> None: ...


class NoProgress:
    def start(self, total: int) -> None:
        pass

    def file_parsed(self, path: str, chunks: int) -> None:
        pass

    def file_done(self, outcome: FileOutcome) -> None:
        pass


def document_id_for(path: str) -> str:
    """Stable id from a document's path (a file's absolute path, or `record:<id>`).

    Re-ingesting the same file or record replaces its document.
    """
    return hashlib.sha256(path.encode()).hexdigest()[:16]


class DocumentWriter:
    """Writes embedded files to the target, reports each outcome, saves the index now and then.

    On one machine the `Committer` below feeds it; on a cluster the driver does, with what the
    embedding workers hand back (rag/shards/ray_ingest.py).
    """

    def __init__(
        self,
        collection: IngestTarget,
        report: list[FileOutcome],
        progress: Progress,
        clock: StageClock,
    ) -> None:
        self._collection = collection
        self._clock = clock
        self._report = report
        self._progress = progress
        self._last_flush = time.monotonic()

    def outcome(self, outcome: FileOutcome) -> None:
        self._report.append(outcome)
        self._progress.file_done(outcome)

    def commit(self, embedded: EmbeddedDocument) -> None:
        """Write a file's documents (attachments first, the file itself last), report it."""
        doc = embedded.prepared
        for document, rows in embedded.writes:
            with self._clock.timing("write_s"):
                self._collection.write_document(document, rows)
        self._remove_stale_attachments(doc)
        self.outcome(
            FileOutcome(
                doc.task.path,
                FileStatus.INGESTED,
                "; ".join(doc.notes) or None,
                doc.task.document_id,
                len(doc.chunks),
                ocr_pages=doc.ocr_pages,
                ocr_seconds=round(doc.ocr_seconds, 3),
                attachments=len(doc.attachments),
            )
        )

    def save_now_and_then(self) -> None:
        """Save the index if the last save is a while ago: a crash then costs a short rebuild."""
        if time.monotonic() - self._last_flush > _FLUSH_SECONDS:
            self.save_index()

    def save_index(self) -> None:
        """Save the vector index file (during a long run, and once at its end)."""
        with self._clock.timing("index_save_s"):
            self._collection.flush()
        self._last_flush = time.monotonic()

    def _remove_stale_attachments(self, doc: PreparedDocument) -> None:
        """Attachments a new version of the file no longer has."""
        kept = {_attachment_id(doc, a.name) for a in doc.attachments}
        for old in self._collection.attachments_of(doc.task.document_id):
            if old.id not in kept:
                self._collection.delete_document(old.id)


class Committer(DocumentWriter):
    """Collects prepared documents, embeds them `batch_chunks` chunks at a time, then commits
    each one and reports its outcome."""

    def __init__(
        self,
        collection: IngestTarget,
        embedder: Embedder,
        report: list[FileOutcome],
        progress: Progress,
        batch_chunks: int,
        sentence_vectors: bool,
        pooled_sentences: bool,
        clock: StageClock,
    ) -> None:
        super().__init__(collection, report, progress, clock)
        self._embedder = embedder
        self._batch_chunks = batch_chunks
        self._sentence_vectors = sentence_vectors
        self._pooled_sentences = pooled_sentences
        self._pending: list[PreparedDocument] = []
        self._pending_chunks = 0

    def add(self, prepared: PreparedDocument) -> None:
        if prepared.error is not None:
            self.outcome(FileOutcome(prepared.task.path, FileStatus.FAILED, prepared.error))
            return
        self._clock.add("parse_s", prepared.parse_seconds)
        self._clock.add("chunk_s", prepared.chunk_seconds)
        self._progress.file_parsed(prepared.task.path, len(prepared.chunks))
        self._pending.append(prepared)
        self._pending_chunks += len(prepared.chunks)
        if self._pending_chunks >= self._batch_chunks:
            self.drain()

    def drain(self) -> None:
        if not self._pending:
            return
        embedded = embed_documents(
            self._embedder,
            self._pending,
            self._sentence_vectors,
            self._pooled_sentences,
            self._clock,
        )
        for done in embedded:
            self.commit(done)
        self._pending, self._pending_chunks = [], 0
        self.save_now_and_then()


@dataclass(frozen=True)
class EmbeddedDocument:
    """A prepared file with its vectors: the documents it becomes, ready to write. Plain
    values, so a cluster's embedding workers can hand it back to the writer."""

    prepared: PreparedDocument
    writes: list[tuple[NewDocument, list[NewChunk]]]


def embed_documents(
    embedder: Embedder,
    prepared: Sequence[PreparedDocument],
    with_sentences: bool,
    pooled_sentences: bool,
    clock: StageClock,
) -> list[EmbeddedDocument]:
    """Embed the chunks of many files in one call (length-sorted inside: less padding), and
    their sentences when the collection keeps sentence vectors."""
    parts = [(doc, part) for doc in prepared for part in _parts(doc)]
    texts = [chunk.text for _, (_, part) in parts for chunk in part.chunks]
    searched = [
        f"{part.context}\n{chunk.text}" if part.context else chunk.text
        for _, (_, part) in parts
        for chunk in part.chunks
    ]
    sentences: Sequence[np.ndarray | None] = [None] * len(texts)
    if with_sentences and pooled_sentences:
        with clock.timing("embed_chunks_s"):  # sentences come out of the same pass
            vectors, sentences = embed_pooled(embedder, searched, texts)
    else:
        with clock.timing("embed_chunks_s"):
            vectors = embedder.embed(searched) if searched else np.zeros((0, 0), np.float32)
        if with_sentences and texts:
            with clock.timing("embed_sentences_s"):
                sentences = sentence_vectors(embedder, texts, vectors)
    writes: dict[int, list[tuple[NewDocument, list[NewChunk]]]] = {id(d): [] for d in prepared}
    offset = 0
    for doc, (document, part) in parts:
        rows = []
        for chunk in part.chunks:
            rows.append(_new_chunk(chunk, vectors[offset], sentences[offset], part.context))
            offset += 1
        writes[id(doc)].append((document, rows))
    return [EmbeddedDocument(doc, writes[id(doc)]) for doc in prepared]


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
    # A URI's folder keeps its `scheme://` (Path would fold it to `scheme:/`).
    folder = task.path.rsplit("/", 1)[0] if task.source else str(Path(task.path).parent)
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
