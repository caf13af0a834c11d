"""One collection on disk: the SQLite store and the FAISS index, kept in step.

SQLite is the source of truth. The FAISS file is a cache of the vectors SQLite holds: it is
saved after each batch of writes, checked against SQLite when opened, and rebuilt from SQLite
when the two disagree (after a crash between a commit and a save, say).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.store import ChunkRecord, ChunkStore, DocumentRecord, NewChunk, NewDocument
from index.vectors import FaissIndex
from rag.errors import InvalidRequest, RagError

log = logging.getLogger(__name__)

_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
STORE_FILE = "chunks.sqlite"
INDEX_FILE = "vectors.faiss"


def validate_name(name: str) -> str:
    if not _VALID_NAME.match(name) or ".." in name:
        raise InvalidRequest(
            f"invalid collection name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


class Collection:
    """A named set of documents searchable by vector."""

    def __init__(self, name: str, folder: Path, embed_model: str, dimension: int) -> None:
        self.name = validate_name(name)
        self.folder = folder
        self._store = ChunkStore(folder / STORE_FILE)
        self._check_model(embed_model, dimension)
        self._dimension = dimension
        self._lock = threading.RLock()
        self._vectors = self._open_index()
        self._seen_version = self._store.data_version()
        self._unsaved = False

    def _check_model(self, embed_model: str, dimension: int) -> None:
        stored_dim = self._store.meta("dimension")
        if stored_dim is None:
            self._store.set_meta("embed_model", embed_model)
            self._store.set_meta("dimension", str(dimension))
        elif int(stored_dim) != dimension:
            raise RagError(
                f"collection {self.name!r} was built with embedding model "
                f"{self._store.meta('embed_model')!r} ({stored_dim} dimensions), but the "
                f"configured model {embed_model!r} has {dimension}: set RAG_EMBED_MODEL back, "
                "or ingest into a new collection"
            )

    def _open_index(self) -> FaissIndex:
        path = self.folder / INDEX_FILE
        if path.exists():
            try:
                index = FaissIndex.load(path)
                if index.id_checksum() == self._store.chunk_id_checksum():
                    return index
                log.warning(
                    "index of collection %r is out of step with its store; rebuilding it", self.name
                )
            except RuntimeError as exc:
                log.warning(
                    "index of collection %r is unreadable (%s); rebuilding it", self.name, exc
                )
        index = FaissIndex.create(self._dimension)
        for ids, vectors in self._store.iter_embeddings():
            index.add(ids, vectors)
        index.save(path)
        return index

    def _follow_other_writers(self) -> None:
        """Reload the index when another process has committed to this collection."""
        version = self._store.data_version()
        if version != self._seen_version:
            self._vectors = self._open_index()
            self._seen_version = version

    def close(self) -> None:
        self.flush()
        self._store.close()

    def flush(self) -> None:
        """Persist the FAISS index; called after a batch of writes, not after each one."""
        with self._lock:
            if self._unsaved:
                self._vectors.save(self.folder / INDEX_FILE)
                self._unsaved = False

    def document_by_path(self, path: str) -> DocumentRecord | None:
        return self._store.document_by_path(path)

    def document(self, document_id: str) -> DocumentRecord | None:
        return self._store.document(document_id)

    def documents(self) -> list[DocumentRecord]:
        return self._store.documents()

    def chunk_count(self) -> int:
        return self._store.chunk_count()

    def write_document(self, document: NewDocument, chunks: Sequence[NewChunk]) -> None:
        """Replace the document's chunks in SQLite, then in the in-memory index."""
        with self._lock:
            self._follow_other_writers()
            change = self._store.replace_document(document, chunks)
            self._vectors.remove(np.array(change.removed_ids, dtype=np.int64))
            if chunks:
                vectors = np.stack([c.embedding for c in chunks]).astype(np.float32)
                self._vectors.add(np.array(change.added_ids, dtype=np.int64), vectors)
            self._unsaved = True

    def delete_document(self, document_id: str) -> bool:
        with self._lock:
            self._follow_other_writers()
            removed = self._store.delete_document(document_id)
            if removed is None:
                return False
            self._vectors.remove(np.array(removed, dtype=np.int64))
            self._unsaved = True
        self.flush()
        return True

    def search(self, vector: np.ndarray, k: int) -> list[tuple[ChunkRecord, float]]:
        with self._lock:
            self._follow_other_writers()
            ids, scores = self._vectors.search(vector, k)
        records = self._store.chunks([int(i) for i in ids])
        score_of = {int(i): float(s) for i, s in zip(ids, scores, strict=True)}
        return [(record, score_of[record.id]) for record in records]
