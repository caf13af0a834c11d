"""One collection on disk: the SQLite store and the FAISS index, kept in step.

SQLite is the source of truth. The FAISS file is a cache of the vectors SQLite holds: it is
saved after each batch of writes, checked against SQLite when opened, and rebuilt from SQLite
when the two disagree (after a crash between a commit and a save, say).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from filelock import FileLock, Timeout

from index.filters import SearchFilter
from index.store import (
    ChunkRecord,
    ChunkStore,
    DocumentRecord,
    NewChunk,
    NewDocument,
    query_terms,
)
from index.vectors import FaissIndex, ivf_list_count
from ingest.embed import Embedder
from ingest.sentences import sentence_vectors
from rag.config import Settings
from rag.errors import CollectionBusy, InvalidRequest, RagError
from rag.keyword_search import KeywordSearch

log = logging.getLogger(__name__)

# The one definition of a valid collection name (the HTTP schemas use it too).
COLLECTION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_VALID_NAME = re.compile(COLLECTION_NAME_PATTERN)
STORE_FILE = "chunks.sqlite"
INDEX_FILE = "vectors.faiss"
LOCK_FILE = "write.lock"


@dataclass(frozen=True)
class IndexPolicy:
    """Which indexes a collection uses: exact FAISS while small, approximate (IVF) when large;
    FTS5 for keywords while small, tantivy from `keyword_min_chunks` on; a sharded collection
    merges its shards' own tantivy scores only when each holds `shard_keyword_min_chunks`.
    `RAG` fills it from `Settings` (RAG_INDEX_TYPE, RAG_IVF_MIN_VECTORS, RAG_IVF_NPROBE,
    RAG_KEYWORD_INDEX_MIN_CHUNKS, RAG_SHARD_KEYWORD_MIN_CHUNKS)."""

    kind: Literal["auto", "flat", "ivf"]
    ivf_min_vectors: int
    nprobe: int
    keyword_min_chunks: int = 1_000
    shard_keyword_min_chunks: int = 100_000

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexPolicy:
        return cls(
            settings.index_type,
            settings.ivf_min_vectors,
            settings.ivf_nprobe,
            settings.keyword_index_min_chunks,
            settings.shard_keyword_min_chunks,
        )

    def wants_ivf(self, vectors: int, is_ivf: bool) -> bool:
        if vectors < _IVF_FLOOR or self.kind == "flat":
            return False
        if self.kind == "ivf":
            return True
        # Hysteresis: an IVF index shrinking a little below the threshold is not rebuilt.
        return vectors >= (self.ivf_min_vectors // 2 if is_ivf else self.ivf_min_vectors)


# A filtered search over at most this many chunks is scored exactly from SQLite's vectors.
_EXACT_FILTERED_MAX = 50_000
# Below this, an approximate index is never worth it: exact search takes well under a millisecond.
_IVF_FLOOR = 10_000
_IVF_TRAINING_SAMPLE = 100_000


@dataclass(frozen=True)
class CheckReport:
    """Whether the saved FAISS index holds exactly one vector per chunk in SQLite, and whether
    the keyword index (large collections) reflects the store."""

    collection: str
    documents: int
    chunks: int
    vectors: int
    missing_vectors: int
    orphan_vectors: int
    index_readable: bool
    repaired: bool = False
    problems: list[str] = field(default_factory=list)
    # The tantivy keyword index (rag/keyword_search.py): current, behind, missing or none.
    keyword_index: str = "none"

    @property
    def consistent(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "consistent": self.consistent,
            "documents": self.documents,
            "chunks": self.chunks,
            "vectors": self.vectors,
            "missing_vectors": self.missing_vectors,
            "orphan_vectors": self.orphan_vectors,
            "index_readable": self.index_readable,
            "repaired": self.repaired,
            "keyword_index": self.keyword_index,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class TermStatistics:
    """A store's keyword-index totals and its word counts: what BM25 needs across shards."""

    rows: int  # rows (chunks) of the keyword index, and their tokens: BM25's N and average
    tokens: int
    raw: dict[str, int]  # chunks holding each word that is its own index term


@contextmanager
def collection_lock(folder: Path, name: str) -> Iterator[None]:
    """A collection's write lock across processes, refused at once when another holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise CollectionBusy(
            f"another process is writing to collection {name!r}; wait for it to finish "
            f"(lock: {folder / LOCK_FILE})"
        ) from None
    try:
        yield
    finally:
        lock.release()


def validate_name(name: str) -> str:
    if not _VALID_NAME.match(name) or ".." in name:
        raise InvalidRequest(
            f"invalid collection name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


class Collection:
    """A named set of documents searchable by vector.

    The in-memory FAISS index is reconciled with SQLite by chunk id: on open, and whenever
    another process has committed. Vectors SQLite has and the index lacks are added from SQLite;
    vectors of chunks SQLite no longer has are removed. So the saved index may lag behind (it is
    saved after each ingest, not after each delete) without ever giving a wrong answer.
    """

    def __init__(
        self,
        name: str,
        folder: Path,
        embed_model: str,
        dimension: int,
        policy: IndexPolicy | None = None,
        mapped: bool = False,
    ) -> None:
        """`mapped`: memory-map the saved FAISS file instead of reading it (published shards,
        which are only read: rag/shards). It is read into memory once a write needs it."""
        self.name = validate_name(name)
        self._policy = policy or IndexPolicy.from_settings(Settings())
        self.folder = folder
        self._store = ChunkStore(folder / STORE_FILE)
        self._check_model(embed_model, dimension)
        self._dimension = dimension
        self._lock = threading.RLock()
        self._write_mutex = threading.Lock()
        self._unsaved = False  # this process changed the index since the last save
        self._disk_behind = False  # the saved file lags SQLite (another writer crashed, say)
        self._vectors = self._load_index(mapped)
        self._reconcile()
        self._seen_version = self._store.data_version()
        self._keywords = KeywordSearch(folder, self._store, self._policy.keyword_min_chunks)

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

    def _load_index(self, mapped: bool = False) -> FaissIndex:
        path = self.folder / INDEX_FILE
        if path.exists():
            try:
                index = FaissIndex.load(path, mapped)
                if index.is_ivf:
                    index.set_nprobe(self._policy.nprobe)
                return index
            except RuntimeError as exc:
                log.warning(
                    "index of collection %r is unreadable (%s); rebuilding it from the store",
                    self.name,
                    exc,
                )
        return FaissIndex.create(self._dimension)

    def _reconcile(self) -> None:
        """Make the in-memory index hold exactly the vectors of the chunks in SQLite.

        Nothing is saved here: a reader must not race a writer's save, and `rag check` must see
        the file as a crash left it. The next write, or `check --repair`, saves.
        """
        with self._lock:
            stored = self._store.chunk_ids()
            present = self._vectors.ids()
            if self._vectors.mapped and present != stored:
                self._vectors = self._load_index()  # read into memory, to be changed
                present = self._vectors.ids()
            orphans = present - stored
            missing = stored - present
            if orphans:
                self._vectors.remove(np.array(sorted(orphans), dtype=np.int64))
            for ids, vectors in self._store.embeddings_for(sorted(missing)):
                self._vectors.add(ids, vectors)
            if orphans or missing:
                log.info(
                    "collection %r: index reconciled with the store (+%d, -%d vectors)",
                    self.name,
                    len(missing),
                    len(orphans),
                )
                self._disk_behind = True

    def _follow_other_writers(self) -> None:
        """Catch up with what another process committed to this collection."""
        version = self._store.data_version()
        if version != self._seen_version:
            self._reconcile()
            self._seen_version = version

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive right to write: threads of this process wait, other processes are refused.

        Two processes ingesting into one collection would each save a FAISS index missing the
        other's vectors; the second gets a clear error instead.
        """
        with self._write_mutex, collection_lock(self.folder, self.name):
            self._follow_other_writers()
            if self._vectors.mapped:
                with self._lock:
                    self._vectors = self._load_index()
                    self._reconcile()
            yield

    def check(self, repair: bool = False) -> CheckReport:
        """Compare the saved index file with SQLite; with `repair`, save a reconciled one."""
        with self._lock:
            chunk_ids = self._store.chunk_ids()
            path = self.folder / INDEX_FILE
            readable = True
            try:
                saved_ids = FaissIndex.load(path, mapped=True).ids() if path.exists() else set()
            except RuntimeError:
                readable, saved_ids = False, set()
            missing = len(chunk_ids - saved_ids)
            orphans = len(saved_ids - chunk_ids)
            problems = []
            if not readable:
                problems.append(f"index file {path.name} is unreadable")
            if missing:
                problems.append(f"{missing} chunks have no vector in the saved index")
            if orphans:
                problems.append(f"{orphans} vectors in the saved index belong to no chunk")
            keywords = self._keywords.status()
            if keywords in ("behind", "missing"):
                problems.append(
                    f"the keyword index is {keywords} (keyword search uses slower FTS5 until "
                    "the next ingest or `rag check --repair`)"
                )
            if problems and repair:
                self._reconcile()
                self._disk_behind = True
                self.flush()
            return CheckReport(
                collection=self.name,
                documents=len(self._store.documents()),
                chunks=len(chunk_ids),
                vectors=len(saved_ids),
                missing_vectors=missing,
                orphan_vectors=orphans,
                index_readable=readable,
                repaired=bool(problems and repair),
                problems=problems,
                keyword_index=self._keywords.status() if repair else keywords,
            )

    def close(self) -> None:
        """Save what this process wrote; a read-only session never writes the index file."""
        if self._unsaved:
            self.flush()
        self._keywords.close()
        self._store.close()

    def flush(self) -> None:
        """Save the FAISS index if it differs from the file; after each ingest, not each write."""
        with self._lock:
            if self._unsaved or self._disk_behind:
                self._apply_policy()
                self._vectors.save(self.folder / INDEX_FILE)
                self._keywords.sync()
                self._unsaved = self._disk_behind = False

    def _apply_policy(self) -> None:
        """Switch between exact and approximate search when the collection crosses the size."""
        size = self._vectors.size
        if self._policy.wants_ivf(size, self._vectors.is_ivf) == self._vectors.is_ivf:
            return
        if self._vectors.is_ivf:
            rebuilt = FaissIndex.create(self._dimension)
        else:
            lists = ivf_list_count(size)
            log.info(
                "collection %r: %d vectors, switching to an IVF index (%d lists)",
                self.name,
                size,
                lists,
            )
            training = self._store.sample_embeddings(_IVF_TRAINING_SAMPLE)
            rebuilt = FaissIndex.create_ivf(training, lists, self._policy.nprobe)
        for ids, vectors in self._store.embeddings_for(sorted(self._store.chunk_ids())):
            rebuilt.add(ids, vectors)
        self._vectors = rebuilt

    def document_by_path(self, path: str) -> DocumentRecord | None:
        return self._store.document_by_path(path)

    def document(self, document_id: str) -> DocumentRecord | None:
        return self._store.document(document_id)

    def attachments_of(self, document_id: str) -> list[DocumentRecord]:
        return self._store.attachments_of(document_id)

    def documents(self) -> list[DocumentRecord]:
        return self._store.documents()

    def chunk_count(self) -> int:
        return self._store.chunk_count()

    def has_chunks(self) -> bool:
        return self._store.has_chunks()

    def chunk_ids(self) -> set[int]:
        return self._store.chunk_ids()

    def write_document(self, document: NewDocument, chunks: Sequence[NewChunk]) -> None:
        """Replace the document's chunks in SQLite, then in the in-memory index."""
        with self._lock:
            version = self._store.content_version()
            change = self._store.replace_document(document, chunks)
            self._keywords.written(version, change.removed_ids, change.added_ids, chunks)
            self._vectors.remove(np.array(change.removed_ids, dtype=np.int64))
            if chunks:
                vectors = np.stack([c.embedding for c in chunks]).astype(np.float32)
                self._vectors.add(np.array(change.added_ids, dtype=np.int64), vectors)
            self._unsaved = True

    def delete_document(self, document_id: str) -> bool:
        """Milliseconds: one SQLite transaction and an in-memory removal, no index save."""
        with self._lock:
            version = self._store.content_version()
            removed = self._store.delete_document(document_id)
            if removed is None:
                return False
            self._keywords.deleted(version, removed)
            self._vectors.remove(np.array(removed, dtype=np.int64))
            self._unsaved = True
        return True

    def dense_search(
        self, vector: np.ndarray, k: int, where: SearchFilter | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) of the k nearest chunks, filtered inside the search."""
        with self._lock:
            self._follow_other_writers()
            if where is None or where.empty:
                ids, scores = self._vectors.search(vector, k)
                return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]
            allowed = self._store.chunk_ids_matching(where)
            if self._vectors.is_ivf and len(allowed) <= _EXACT_FILTERED_MAX:
                # An IVF search probes a few lists and may miss a small allowed set; score the
                # allowed chunks exactly instead, so k results come back whenever k exist.
                return self._exact_scores(vector, allowed, k)
            ids, scores = self._vectors.search(vector, k, allowed)
            return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]

    def _exact_scores(self, vector: np.ndarray, ids: np.ndarray, k: int) -> list[tuple[int, float]]:
        scored: list[tuple[int, float]] = []
        for batch_ids, vectors in self._store.embeddings_for(sorted(int(i) for i in ids)):
            scored.extend(zip(batch_ids.tolist(), (vectors @ vector).tolist(), strict=True))
        scored.sort(key=lambda pair: pair[1], reverse=True)
        return scored[:k]

    def similarities(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Cosine similarity of the query to each given chunk, from the stored vectors."""
        return dict(self._exact_scores(vector, np.array(ids, dtype=np.int64), len(ids)))

    def add_missing_sentence_vectors(
        self, embedder: Embedder, batch: int = 512, progress: Callable[[int], None] | None = None
    ) -> int:
        """Embed the sentences of chunks stored without them (ingested before sentence
        vectors existed, or with them off); one transaction per batch, so an interrupted run
        keeps what it did and the next one goes on. Returns how many chunks were filled."""
        filled = 0
        while rows := self._store.chunks_without_sentences(batch):
            vectors = sentence_vectors(
                embedder, [text for _, text, _ in rows], np.stack([v for _, _, v in rows])
            )
            self._store.set_sentence_embeddings(
                [(chunk_id, v) for (chunk_id, _, _), v in zip(rows, vectors, strict=True)]
            )
            filled += len(rows)
            if progress is not None:
                progress(len(rows))
        return filled

    def count_chunks_without_sentences(self) -> int:
        return self._store.count_without_sentences()

    def sentence_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Stored sentence vectors of the given chunks (see ingest/sentences.py)."""
        return self._store.sentence_embeddings(ids)

    def sentence_similarities(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Cosine similarity of the query to each given chunk's best-matching sentence."""
        return self._store.sentence_similarities(vector, ids)

    def chunk_pages(self, ids: Sequence[int]) -> dict[int, tuple[str, int | None]]:
        """(document id, page) of each given chunk; page None for unpaged text."""
        return self._store.chunk_pages(ids)

    def page_vectors(self, pages: Iterable[tuple[str, int]]) -> dict[tuple[str, int], np.ndarray]:
        """The mean vector (unit length) of the chunks on each (document id, page)."""
        return self._store.page_vectors(pages)

    def embeddings(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        found: dict[int, np.ndarray] = {}
        for batch_ids, vectors in self._store.embeddings_for(sorted(ids)):
            found.update(zip(batch_ids.tolist(), vectors, strict=True))
        return found

    def lexical_search(
        self,
        query: str,
        k: int,
        where: SearchFilter | None = None,
        section_weight: float = 1.0,
        context_weight: float = 1.0,
        terms: list[str] | None = None,
        *,
        fts5: bool = False,
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the best keyword matches: from the tantivy index when the
        collection has a current one and the search is unfiltered, else (or with `fts5`) from
        SQLite's FTS5. `terms`: the words to match, when chosen already (see
        `ChunkStore.lexical_search`)."""
        index = None if fts5 or not (where is None or where.empty) else self._keywords.current()
        if index is None:
            return self._store.lexical_search(
                query, k, where, section_weight, context_weight, terms
            )
        words = query_terms(query) if terms is None else terms
        return index.search(words, k, section_weight, context_weight)

    def uses_keyword_index(self) -> bool:
        """Whether an unfiltered keyword search is answered by the tantivy index now."""
        return self._keywords.current() is not None

    def keyword_index_chunks(self) -> int | None:
        """How many chunks the tantivy index holds when it answers now, else None."""
        index = self._keywords.current()
        return None if index is None else index.document_count()

    def term_statistics(self, words: Sequence[str]) -> TermStatistics:
        """This store's keyword-index totals, and the chunks holding each word that is its own
        index term (cheap: read from FTS5's vocabulary)."""
        rows, tokens = self._store.token_totals()
        return TermStatistics(rows, tokens, self._store.raw_term_counts(words))

    def term_document_counts(self, terms: Sequence[str]) -> dict[str, int]:
        """Chunks matching each term as the index stems it (a count per term: only for the
        terms a search keeps)."""
        return self._store.term_document_counts(terms)

    def token_lengths(self, ids: Sequence[int]) -> dict[int, int]:
        return self._store.token_lengths(ids)

    def term_scores(
        self, term: str, ids: Sequence[int], section_weight: float, context_weight: float
    ) -> dict[int, float]:
        return self._store.term_scores(term, ids, section_weight, context_weight)

    def chunks(self, ids: Sequence[int]) -> list[ChunkRecord]:
        return self._store.chunks(ids)

    def document_chunks(self, document_id: str) -> list[ChunkRecord]:
        return self._store.document_chunks(document_id)

    def neighbours(self, chunk_id: int, before: int, after: int) -> list[ChunkRecord]:
        return self._store.neighbours(chunk_id, before, after)
