"""Ingest files or records into a collection: plan, parse in parallel, embed in batches, commit.

The flow, with memory bounded however large the corpus:

    paths -> plan (hash; skip unchanged) -> parse+chunk in worker processes (bounded in flight)
          -> embedding buffer (length-sorted batches) -> one SQLite transaction per document

Each document is committed on its own (`rag.ingestion.committer`), so a failure or a kill loses only
documents in flight. A file that cannot be ingested is reported with its reason and the run goes
on; so is a file whose parser crashed or overran the time limit in its worker
(`ingest.workers`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ingest.discover import iter_files
from ingest.elements import ParseOptions
from ingest.embed import Embedder
from ingest.errors import UnsupportedFormat
from ingest.parse import file_kind
from ingest.prepare import DocumentTask, PreparedDocument, prepare
from ingest.remote import RemoteFile, RemoteLocation, RemoteUnavailable, is_remote, list_files
from ingest.workers import TaskFailure, WorkerPool
from rag.errors import InvalidRequest
from rag.ingestion.committer import (
    Committer,
    DocumentWriter,
    IngestTarget,
    NoProgress,
    Progress,
    document_id_for,
)
from rag.ingestion.stages import StageClock
from rag.types import FileOutcome, FileStatus, IngestReport


@dataclass(frozen=True)
class IngestOptions:
    """How one ingest run works; `RAG` fills it from `Settings`, where the defaults live."""

    chunk_tokens: int
    max_file_bytes: int
    parse_workers: int
    embed_batch_chunks: int
    sentence_vectors: bool
    sentence_pooling: Literal["separate", "pooled"]
    prune: bool
    ocr: bool
    table_rows: bool
    parse_timeout_s: float
    document_context: bool


# Runs with fewer files than this parse in-process: starting workers costs a few seconds.
_MIN_FILES_FOR_WORKERS = 8
# What a file in an object store was last modified, kept in its document's metadata: with its
# size, how a later run knows it unchanged without downloading it.
OBJECT_MODIFIED = "object_modified"

# What a user names to ingest: a local file or folder, or a location in an object store.
Source = Path | RemoteLocation
# One thing found under a source: a local file, an object, or the outcome of a source that
# could not be listed.
Candidate = Path | RemoteFile | FileOutcome


def source_for(path: str | Path) -> Source:
    """`s3://...` (and the other schemes of `ingest.remote`) as a remote location, else a path."""
    if isinstance(path, str) and is_remote(path):
        return RemoteLocation.parse(path)
    return Path(path).expanduser()


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_paths(
    collection: IngestTarget,
    embedder: Embedder,
    paths: Iterable[Source],
    options: IngestOptions,
    progress: Progress | None = None,
) -> IngestReport:
    started = time.monotonic()
    tracker = progress or NoProgress()
    candidates = list(candidate_files(paths))
    tracker.start(len(candidates))
    outcomes: list[FileOutcome] = []
    clock = StageClock()
    committer = _committer(collection, embedder, outcomes, tracker, options, clock)
    workers = options.parse_workers if len(candidates) >= _MIN_FILES_FOR_WORKERS else 0
    parse = ParseOptions(
        ocr=options.ocr, tables=options.table_rows, threads=1 if workers else (os.cpu_count() or 1)
    )
    planned = plan_files(collection, embedder, candidates, options, parse)
    _run(planned, committer, workers, options.parse_timeout_s, clock)
    if options.prune:
        prune_missing(collection, paths, committer)
    committer.save_index()
    return IngestReport(collection.name, outcomes, time.monotonic() - started, clock.report())


def _committer(
    collection: IngestTarget,
    embedder: Embedder,
    outcomes: list[FileOutcome],
    tracker: Progress,
    options: IngestOptions,
    clock: StageClock,
) -> Committer:
    return Committer(
        collection,
        embedder,
        outcomes,
        tracker,
        options.embed_batch_chunks,
        options.sentence_vectors,
        options.sentence_pooling == "pooled",
        clock,
    )


def ingest_records(
    collection: IngestTarget,
    embedder: Embedder,
    records: Iterable[tuple[int, bytes]],
    options: IngestOptions,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest `{"id", "text", "metadata"}` JSON lines; `records` yields (line number, line)."""
    started = time.monotonic()
    tracker = progress or NoProgress()
    tracker.start(0)
    outcomes: list[FileOutcome] = []
    clock = StageClock()
    committer = _committer(collection, embedder, outcomes, tracker, options, clock)
    limits = _Limits(min(options.chunk_tokens, embedder.max_tokens), embedder.max_tokens)
    planned = (
        _plan_record(collection, number, line, limits, embedder.name) for number, line in records
    )
    _run(planned, committer, 0, options.parse_timeout_s, clock)
    committer.save_index()
    return IngestReport(collection.name, outcomes, time.monotonic() - started, clock.report())


@dataclass(frozen=True)
class _Limits:
    """Token sizes: the largest chunk, and the embedding model's whole window."""

    chunk: int
    window: int


def _failed(task: DocumentTask, failure: TaskFailure) -> PreparedDocument:
    return PreparedDocument(task, [], failure.reason)


def _run(
    planned: Iterator[DocumentTask | FileOutcome],
    committer: Committer,
    workers: int,
    timeout_s: float,
    clock: StageClock,
) -> None:
    """Feed tasks to parse workers, a bounded number in flight, and commit results in order.

    Files decided without parsing (unchanged, skipped) are reported as planning reaches them.
    On an interrupt, documents still in flight are dropped, not half-written: the next run
    finds them not yet ingested and does them again.
    """

    def tasks() -> Iterator[DocumentTask]:
        while True:
            with clock.timing("plan_s"):
                item = next(planned, None)
            if item is None:
                return
            if isinstance(item, FileOutcome):
                committer.outcome(item)
            else:
                yield item

    with WorkerPool[DocumentTask, PreparedDocument](workers, timeout_s, _failed) as pool:
        for prepared in pool.map(prepare, tasks()):
            committer.add(prepared)
        committer.drain()


def plan_files(
    collection: IngestTarget,
    embedder: Embedder,
    candidates: Iterable[tuple[Candidate, bool]],
    options: IngestOptions,
    parse: ParseOptions,
) -> Iterator[DocumentTask | FileOutcome]:
    """Each candidate file's task, or its outcome when no parsing is needed (unchanged,
    unsupported, too large): the driver's step, the same on one machine and on a cluster."""
    limits = _Limits(min(options.chunk_tokens, embedder.max_tokens), embedder.max_tokens)
    planner = _FilePlanner(collection, limits, embedder.name, options, parse)
    for found, named in candidates:
        if isinstance(found, FileOutcome):
            yield found
        elif isinstance(found, RemoteFile):
            yield planner.remote(found, named)
        else:
            yield planner.local(found, named)


def candidate_files(paths: Iterable[Source]) -> Iterator[tuple[Candidate, bool]]:
    """Each file with whether the user named it (True) or it was found in a folder (False)."""
    for path in paths:
        if isinstance(path, RemoteLocation):
            yield from _remote_candidates(path)
            continue
        for found in iter_files([path]):
            yield found, found == path


def _remote_candidates(location: RemoteLocation) -> Iterator[tuple[Candidate, bool]]:
    try:
        yield from list_files(location)
    except FileNotFoundError as exc:
        yield FileOutcome(location.uri, FileStatus.FAILED, f"cannot open: {exc}"), True
    except RemoteUnavailable as exc:
        yield FileOutcome(location.uri, FileStatus.FAILED, str(exc)), True


@dataclass(frozen=True)
class _FilePlanner:
    """What to do with each file of a run: a task to parse it, or its final outcome already."""

    collection: IngestTarget
    limits: _Limits
    tokenizer: str
    options: IngestOptions
    parse: ParseOptions

    def local(self, path: Path, named: bool) -> DocumentTask | FileOutcome:
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
            if size > self.options.max_file_bytes:
                return self._too_large(shown, size)
            digest = content_hash(absolute)
        except OSError as exc:
            return FileOutcome(shown, FileStatus.FAILED, f"cannot read file: {exc.strerror or exc}")
        existing = self.collection.document_by_path(str(absolute))
        if existing is not None and existing.content_hash == digest:
            return FileOutcome(
                str(absolute), FileStatus.UNCHANGED, None, existing.id, existing.chunks
            )
        return self._task(str(absolute), kind, digest, size)

    def remote(self, found: RemoteFile, named: bool) -> DocumentTask | FileOutcome:
        """A file in an object store: judged by its listing alone (no download here)."""
        uri = found.location.uri
        try:
            kind = file_kind(Path(found.location.name))
        except UnsupportedFormat as exc:
            return FileOutcome(uri, FileStatus.FAILED if named else FileStatus.SKIPPED, str(exc))
        if found.size > self.options.max_file_bytes:
            return self._too_large(uri, found.size)
        existing = self.collection.document_by_path(uri)
        if (
            existing is not None
            and found.modified
            and existing.size_bytes == found.size
            and existing.metadata.get(OBJECT_MODIFIED) == found.modified
        ):
            return FileOutcome(uri, FileStatus.UNCHANGED, None, existing.id, existing.chunks)
        return self._task(
            uri,
            kind,
            "",  # the worker that downloads it hashes it
            found.size,
            metadata={OBJECT_MODIFIED: found.modified} if found.modified else {},
            source=found.location.full,
        )

    def _task(self, path: str, kind: str, digest: str, size: int, **remote: Any) -> DocumentTask:
        return DocumentTask(
            document_id_for(path),
            path,
            kind,
            digest,
            size,
            self.limits.chunk,
            self.tokenizer,
            window_tokens=self.limits.window,
            parse=self.parse,
            document_context=self.options.document_context,
            **remote,
        )

    def _too_large(self, shown: str, size: int) -> FileOutcome:
        limit = self.options.max_file_bytes
        return FileOutcome(
            shown,
            FileStatus.FAILED,
            f"file is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit (RAG_MAX_FILE_MB)",
        )


def _plan_record(
    collection: IngestTarget, number: int, line: bytes, limits: _Limits, tokenizer: str
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


def prune_missing(
    collection: IngestTarget, paths: Iterable[Source], writer: DocumentWriter
) -> None:
    """Delete documents under the given paths whose files no longer exist.

    An object store location that cannot be listed prunes nothing (its failure is reported by
    the run's listing): an outage must not read as every file gone.
    """
    sources = list(paths)
    roots = [p.expanduser().resolve() for p in sources if isinstance(p, Path)]
    listed = _listed_objects([p for p in sources if isinstance(p, RemoteLocation)])
    for document in collection.documents():
        if document.file_type == "record" or "attached_to" in document.metadata:
            continue  # attachments go with the file that holds them
        if is_remote(document.path):
            gone = any(
                root.holds(document.path) and document.path not in present
                for root, present in listed
            )
        else:
            path = Path(document.path)
            under_root = any(path == root or path.is_relative_to(root) for root in roots)
            gone = under_root and not path.exists()
        if gone:
            collection.delete_document(document.id)
            writer.outcome(
                FileOutcome(document.path, FileStatus.PRUNED, "file is gone", document.id, 0)
            )


def _listed_objects(locations: list[RemoteLocation]) -> list[tuple[RemoteLocation, set[str]]]:
    """Each listable location with the URIs of the objects under it now."""
    out = []
    for location in locations:
        try:
            present = {found.location.uri for found, _ in list_files(location)}
        except FileNotFoundError:
            present = set()
        except RemoteUnavailable:
            continue
        out.append((location, present))
    return out


def read_jsonl(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of a JSONL file with their 1-based numbers, streamed."""
    if not path.is_file():
        raise InvalidRequest(f"cannot read {path}: not a file")
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line
