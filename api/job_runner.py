"""The worker that ingests queued job files, oldest first, one at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from api.jobs import Job, JobStore
from rag.core import RAG
from rag.errors import CollectionBusy, RagError
from rag.types import FileOutcome, FileStatus


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
