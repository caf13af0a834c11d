"""Durable ingestion jobs: an upload returns a job id at once; `JobRunner` ingests it.

Jobs and their files live in SQLite (`<home>/jobs.sqlite`), written before the upload is
acknowledged, so a server restart loses nothing: on start, files that were queued or half done
go back to `queued` and the worker resumes them (re-ingesting a file is idempotent: unchanged
content is skipped by hash).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from rag.storage import connect, immediate_transaction
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
    """One uploaded file of a job and what became of it (served as it is)."""

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


class JobStore:
    """Jobs and per-file states in SQLite; safe to use from several threads."""

    def __init__(self, path: Path) -> None:
        self._db = connect(path)
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

    def forget_finished(self, before: datetime) -> int:
        """Delete jobs that finished before `before` (their documents stay); how many."""
        with self._transaction() as db:
            return db.execute(
                "DELETE FROM jobs WHERE state = 'done' AND finished_at < ?",
                (before.isoformat(timespec="seconds"),),
            ).rowcount

    def finish_job(self, job_id: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET state = 'done', finished_at = ? WHERE id = ?", (_now(), job_id)
            )
