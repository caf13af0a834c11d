"""Durable ingestion jobs: an upload returns a job id at once; a worker thread ingests it.

Jobs and their files live in SQLite (`<home>/jobs.sqlite`), written before the upload is
acknowledged, so a server restart loses nothing: on start, files that were queued or half done
go back to `queued` and the worker resumes them (re-ingesting a file is idempotent: unchanged
content is skipped by hash).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from index.transactions import immediate_transaction
from rag.core import RAG
from rag.errors import CollectionBusy, RagError
from rag.types import FileOutcome, FileStatus

FileState = Literal["queued", "parsing", "embedding", "done", "failed"]
JobState = Literal["queued", "running", "done"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS job_files (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    reason TEXT,
    document_id TEXT,
    chunks INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, position)
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class JobFile:
    name: str
    state: FileState
    outcome: str | None
    reason: str | None
    document_id: str | None
    chunks: int


@dataclass(frozen=True)
class Job:
    id: str
    collection: str
    state: JobState
    created_at: str
    finished_at: str | None
    files: list[JobFile]

    @property
    def progress(self) -> float:
        finished = sum(1 for f in self.files if f.state in ("done", "failed"))
        return round(finished / len(self.files), 4) if self.files else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "collection": self.collection,
            "state": self.state,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "progress": self.progress,
            "files": [f.__dict__ for f in self.files],
        }


class JobStore:
    """Jobs and per-file states in SQLite; safe to use from several threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, collection: str, files: Sequence[tuple[str, Path]]) -> str:
        job_id = uuid.uuid4().hex
        with self._transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, collection, state, created_at) VALUES (?, ?, 'queued', ?)",
                (job_id, collection, _now()),
            )
            db.executemany(
                "INSERT INTO job_files (job_id, position, name, path, state) "
                "VALUES (?, ?, ?, ?, 'queued')",
                [(job_id, n, name, str(path)) for n, (name, path) in enumerate(files)],
            )
        return job_id

    def resume_interrupted(self) -> int:
        """Put work a stopped server left half done back in the queue; how many jobs."""
        with self._transaction() as db:
            db.execute(
                "UPDATE job_files SET state = 'queued' WHERE state IN ('parsing', 'embedding')"
            )
            return db.execute("UPDATE jobs SET state = 'queued' WHERE state = 'running'").rowcount

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, collection, state, created_at, finished_at FROM jobs WHERE id = ?",
                (job_id,),
            ).fetchone()
            if row is None:
                return None
            files = self._db.execute(
                "SELECT name, state, outcome, reason, document_id, chunks FROM job_files "
                "WHERE job_id = ? ORDER BY position",
                (job_id,),
            ).fetchall()
        return Job(row[0], row[1], row[2], row[3], row[4], [JobFile(*f) for f in files])

    def recent(self, collection: str | None = None, limit: int = 100) -> list[Job]:
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM jobs WHERE ?1 IS NULL OR collection = ?1 "
                    "ORDER BY created_at DESC, rowid DESC LIMIT ?2",
                    (collection, limit),
                )
            ]
        return [job for job in map(self.get, ids) if job is not None]

    def queue_depth(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM job_files WHERE state IN ('queued', 'parsing', 'embedding')"
            ).fetchone()
        return int(row[0])

    def next_job(self) -> tuple[str, str, list[tuple[int, str]]] | None:
        """The oldest unfinished job, marked running, with its files still to do."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT id, collection FROM jobs WHERE state IN ('queued', 'running') "
                "ORDER BY created_at, rowid LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running' WHERE id = ?", (row[0],))
            files = db.execute(
                "SELECT position, path FROM job_files WHERE job_id = ? AND state = 'queued' "
                "ORDER BY position",
                (row[0],),
            ).fetchall()
        return row[0], row[1], [(int(p), str(path)) for p, path in files]

    def set_state(self, job_id: str, position: int, state: FileState) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE job_files SET state = ? WHERE job_id = ? AND position = ?",
                (state, job_id, position),
            )

    def finish_file(self, job_id: str, position: int, outcome: FileOutcome) -> None:
        failed = outcome.status == FileStatus.FAILED
        with self._transaction() as db:
            db.execute(
                "UPDATE job_files SET state = ?, outcome = ?, reason = ?, document_id = ?, "
                "chunks = ? WHERE job_id = ? AND position = ?",
                (
                    "failed" if failed else "done",
                    str(outcome.status),
                    outcome.reason,
                    outcome.document_id,
                    outcome.chunks,
                    job_id,
                    position,
                ),
            )

    def finish_job(self, job_id: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET state = 'done', finished_at = ? WHERE id = ?", (_now(), job_id)
            )


class _FileProgress:
    """Moves one job file from parsing to embedding when its chunks are ready."""

    def __init__(self, mark_embedding: Callable[[], None]) -> None:
        self._mark_embedding = mark_embedding
        self.outcomes: list[FileOutcome] = []

    def start(self, total: int) -> None:
        pass

    def file_parsed(self, path: str, chunks: int) -> None:
        self._mark_embedding()

    def file_done(self, outcome: FileOutcome) -> None:
        self.outcomes.append(outcome)


class JobRunner:
    """One worker thread that ingests queued job files, oldest first.

    `on_outcome` sees every finished file (the metrics count them).
    """

    def __init__(
        self,
        rag: RAG,
        store: JobStore,
        on_outcome: Callable[[FileOutcome], None] = lambda outcome: None,
        busy_retry_seconds: float = 2.0,
    ) -> None:
        self._rag = rag
        self._store = store
        self._on_outcome = on_outcome
        self._busy_retry = busy_retry_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ingest-jobs", daemon=True)

    def start(self) -> None:
        self._store.resume_interrupted()
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 60.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self._store.next_job()
            if job is None:
                self._wake.wait(timeout=5.0)
                self._wake.clear()
                continue
            job_id, collection, files = job
            for position, path in files:
                if self._stop.is_set():
                    return  # the file stays queued; the next start picks it up
                self._ingest_file(job_id, collection, position, path)
            self._store.finish_job(job_id)

    def _ingest_file(self, job_id: str, collection: str, position: int, path: str) -> None:
        while True:
            self._store.set_state(job_id, position, "parsing")
            progress = _FileProgress(lambda: self._store.set_state(job_id, position, "embedding"))
            try:
                self._rag.ingest([path], collection, progress=progress)
            except CollectionBusy:
                if self._stop.wait(self._busy_retry):  # another writer: wait for it
                    return
                continue
            except RagError as exc:
                progress.outcomes = [FileOutcome(path, FileStatus.FAILED, str(exc))]
            except Exception as exc:  # a bug must not kill the worker or lose the job
                reason = f"internal error: {type(exc).__name__}: {exc}"
                progress.outcomes = [FileOutcome(path, FileStatus.FAILED, reason)]
            break
        outcome = (
            progress.outcomes[0]
            if progress.outcomes
            else FileOutcome(path, FileStatus.FAILED, "the file disappeared before ingestion")
        )
        self._store.finish_file(job_id, position, outcome)
        self._on_outcome(outcome)


def wait_for(store: JobStore, job_id: str, timeout: float) -> Job:
    """The job once it is done (for `?wait=true` uploads)."""
    deadline = time.monotonic() + timeout
    while True:
        job = store.get(job_id)
        if job is None or job.state == "done" or time.monotonic() > deadline:
            assert job is not None
            return job
        time.sleep(0.1)
