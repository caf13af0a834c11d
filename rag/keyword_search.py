"""Which engine answers a collection's keyword search, and keeping the fast one in step.

Below RAG_KEYWORD_INDEX_MIN_CHUNKS chunks (1,000) SQLite's FTS5 answers. From that size on,
where FTS5's cost grows past a millisecond a query (it scores every row holding a query word:
2.3 ms at 2,400 chunks against tantivy's 0.3 ms, 523 ms at a million against 3.5 ms), a tantivy
index (index/keywords.py) is built at the end of an ingest and kept up to date by later ones,
document by document. It answers only while it reflects the store's
current content version; otherwise (another process wrote and has not synced it yet, a crash
between the two commits) FTS5 answers, slower but never wrong.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from index.keywords import KeywordIndex, KeywordRow, remove_keyword_index
from index.store import ChunkStore, NewChunk

log = logging.getLogger(__name__)

_STALE = -1


class KeywordSearch:
    """One collection's tantivy index, or its absence, with the writes not yet committed to it."""

    def __init__(self, folder: Path, store: ChunkStore, min_chunks: int) -> None:
        self._folder = folder
        self._store = store
        self._min_chunks = min_chunks
        self._index = KeywordIndex.open(folder)
        self._lock = threading.Lock()
        # The content version the index will have once this process's writes are committed;
        # _STALE when a write could not be followed (the index is rebuilt at the next sync).
        self._expected: int | None = None

    def current(self) -> KeywordIndex | None:
        """The index when it reflects the store as it is now, else None (FTS5 answers)."""
        index = self._index
        if index is None:
            index = self._index = KeywordIndex.open(self._folder)  # another process built it
        if index is not None and index.version() == self._store.content_version():
            return index
        return None

    def status(self) -> str:
        """'current', 'behind' (it lags the store), 'missing' (the collection is large enough
        for one) or 'none' (small collection: FTS5 only)."""
        if self.current() is not None:
            return "current"
        if self._index is not None:
            return "behind"
        return "missing" if self.wanted() else "none"

    def wanted(self) -> bool:
        """Large enough for an index; one already built is kept down to half the size, so a
        collection near the threshold is not indexed and dropped by turns (as IVF is kept)."""
        floor = self._min_chunks // 2 if self._index is not None else self._min_chunks
        return self._store.chunk_count() >= floor

    def written(
        self,
        version_before: int,
        removed: Sequence[int],
        added: Sequence[int],
        chunks: Sequence[NewChunk],
    ) -> None:
        """Follow one document's write (its store commit moved the version by one)."""
        if self._index is None:
            return
        rows = [
            KeywordRow(chunk_id, c.text, c.section, c.context)
            for chunk_id, c in zip(added, chunks, strict=True)
        ]
        self._follow(version_before, removed, rows)

    def deleted(self, version_before: int, removed: Sequence[int]) -> None:
        self._follow(version_before, removed, [])

    def _follow(self, before: int, removed: Sequence[int], rows: list[KeywordRow]) -> None:
        index = self._index
        if index is None:
            return
        with self._lock:
            if self._expected is None:
                self._expected = index.version()
            after = self._store.content_version()
            if self._expected != before or after != before + 1:
                self._expected = _STALE  # someone else wrote in between: rebuild at sync
                index.rollback()
                return
            index.remove(removed)
            index.add(rows)
            self._expected = after

    def sync(self, force: bool = False) -> None:
        """After an ingest: commit this process's writes to the index, build it when the
        collection has grown to the size, rebuild it when it lags, drop it below half the size."""
        with self._lock:
            if not self.wanted():
                if self._index is not None:
                    self._index.close()
                    self._index = None
                remove_keyword_index(self._folder)
                self._expected = None
                return
            version = self._store.content_version()
            index = self._index
            if index is not None and self._expected == version and not force:
                index.commit(version)
            elif index is None or index.version() != version or force:
                self._rebuild(version)
            self._expected = None

    def _rebuild(self, version: int) -> None:
        if self._index is not None:
            self._index.close()
        started = time.perf_counter()
        self._index = KeywordIndex.build(self._folder, self._store.keyword_rows(), version)
        log.info(
            "keyword index of %s built: %d chunks in %.1f s",
            self._folder.name,
            self._index.document_count(),
            time.perf_counter() - started,
        )

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
