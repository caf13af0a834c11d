"""A published sharded collection, searched and changed as one collection.

Every read fans out to the shards and merges: nearest vectors by score (exact: the union of
each shard's best k holds the overall best k), keyword matches by BM25 scored again with the
whole collection's IDF and average length (`lexical_search`; shards large enough for a tantivy
keyword index each score with their own statistics instead). What stays approximate is which
hits each shard proposes: a shard picks its best k with its own statistics, so a chunk that
would rank k-th overall may be missed (measured in tests/test_shards.py and
`benchmarks.scale`; the README has the figures).

A search reads the manifest's modification stamp first; when another process has published new
shards, the new ones are opened and searches go on uninterrupted: the old ones are closed one
publication later, and their folders removed by the publication after that.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np

from index.filters import SearchFilter
from index.store import (
    ChunkRecord,
    DocumentRecord,
    NewChunk,
    NewDocument,
    bm25_idf,
    query_terms,
    telling_terms,
)
from ingest.embed import Embedder
from rag.collection import (
    CheckReport,
    Collection,
    IndexPolicy,
    collection_lock,
    validate_name,
)
from rag.errors import RagError
from rag.shards.bm25 import Averages, rescored
from rag.shards.layout import (
    MANIFEST_FILE,
    Manifest,
    read_manifest,
    remove_unpublished,
    shard_folder,
    shard_of,
)

K = TypeVar("K")
T = TypeVar("T")


def root_document_id(document: NewDocument | DocumentRecord) -> str:
    """The id of the file a document came from: its own, or for an attachment its file's."""
    return str(document.metadata.get("attached_to") or document.id)


class ShardedCollection:
    """The shards a collection's manifest names, opened together (same methods as
    `Collection`, so search, answers, checks and document commands work unchanged)."""

    def __init__(
        self, name: str, folder: Path, embed_model: str, dimension: int, policy: IndexPolicy
    ) -> None:
        self.name = validate_name(name)
        self.folder = folder
        self._embed_model = embed_model
        self._dimension = dimension
        self._policy = policy
        self._lock = threading.RLock()
        self._stamp: tuple[int, int, int] | None = None
        self._manifest: Manifest | None = None
        self._open: dict[str, Collection] = {}
        self._retired: list[Collection] = []
        self._current: tuple[Collection, ...] = ()
        self._refresh()

    # -- which shards -------------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        self._refresh()
        assert self._manifest is not None
        return self._manifest

    def _shards(self) -> tuple[Collection, ...]:
        self._refresh()
        return self._current

    def _refresh(self) -> None:
        """Open the shards of a newly published manifest (a stat when nothing changed)."""
        try:
            info = os.stat(self.folder / MANIFEST_FILE)
        except FileNotFoundError:
            raise RagError(
                f"collection {self.name!r} lost its {MANIFEST_FILE}: run `rag check "
                f"--collection {self.name}`"
            ) from None
        stamp = (info.st_mtime_ns, info.st_ino, info.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            manifest = read_manifest(self.folder)
            if manifest is None:
                raise RagError(f"collection {self.name!r} has no {MANIFEST_FILE}")
            if manifest.dimension != self._dimension:
                raise RagError(
                    f"collection {self.name!r} was built with embedding model "
                    f"{manifest.embed_model!r} ({manifest.dimension} dimensions), but the "
                    f"configured model {self._embed_model!r} has {self._dimension}: set "
                    "RAG_EMBED_MODEL back, or ingest into a new collection"
                )
            opened = {
                name: self._open.get(name) or self._open_shard(name) for name in manifest.shards
            }
            # Shards no longer published may still serve a search that began before: closed at
            # the next publication, not now.
            for shard in self._retired:
                shard.close()
            self._retired = [c for name, c in self._open.items() if name not in opened]
            self._open = opened
            self._current = tuple(opened[name] for name in manifest.shards)
            self._manifest = manifest
            self._stamp = stamp

    def _open_shard(self, name: str) -> Collection:
        folder = shard_folder(self.folder, name)
        if not folder.is_dir():
            raise RagError(
                f"collection {self.name!r}: shard folder {folder} named by {MANIFEST_FILE} is "
                "missing; restore it from a backup, or ingest into a new collection"
            )
        return Collection(
            self.name, folder, self._embed_model, self._dimension, self._policy, mapped=True
        )

    @property
    def shard_count(self) -> int:
        return self.manifest.count

    # -- writing in place (document deletes, single-machine ingest) ----------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The collection's write lock (a Ray run holds it too), then every shard's."""
        with collection_lock(self.folder, self.name), ExitStack() as stack:
            # Copies a crashed run left would bring back what is changed here: dropped.
            remove_unpublished(self.folder, self.manifest)
            for shard in self._shards():
                stack.enter_context(shard.writing())
            yield

    def _shard_for(self, document_id: str) -> Collection:
        shards = self._shards()
        return shards[shard_of(document_id, len(shards))]

    def write_document(self, document: NewDocument, chunks: Sequence[NewChunk]) -> None:
        self._shard_for(root_document_id(document)).write_document(document, chunks)

    def delete_document(self, document_id: str) -> bool:
        return any(shard.delete_document(document_id) for shard in self._shards())

    def flush(self) -> None:
        for shard in self._shards():
            shard.flush()

    def close(self) -> None:
        with self._lock:
            for shard in [*self._open.values(), *self._retired]:
                shard.close()
            self._open, self._retired, self._current = {}, [], ()
            self._stamp = None

    def check(self, repair: bool = False) -> CheckReport:
        """Each shard's index against its store, every manifest shard present, no chunk in two
        shards, and every document in the shard its id maps to."""
        shards = self._shards()
        reports = [shard.check(repair) for shard in shards]
        problems = [
            f"shard {i}: {problem}" for i, r in enumerate(reports) for problem in r.problems
        ]
        seen: set[int] = set()
        for i, shard in enumerate(shards):
            ids = shard.chunk_ids()
            if seen & ids:
                problems.append(f"shard {i}: {len(seen & ids)} chunk ids also in another shard")
            seen |= ids
            misplaced = [
                d.path for d in shard.documents() if shard_of(root_document_id(d), len(shards)) != i
            ]
            if misplaced:
                problems.append(f"shard {i}: {len(misplaced)} documents of another shard")
        return CheckReport(
            collection=self.name,
            documents=sum(r.documents for r in reports),
            chunks=sum(r.chunks for r in reports),
            vectors=sum(r.vectors for r in reports),
            missing_vectors=sum(r.missing_vectors for r in reports),
            orphan_vectors=sum(r.orphan_vectors for r in reports),
            index_readable=all(r.index_readable for r in reports),
            repaired=any(r.repaired for r in reports),
            problems=problems,
            keyword_index="/".join(dict.fromkeys(r.keyword_index for r in reports)),
        )

    # -- documents -----------------------------------------------------------------------

    def _first(self, read: Callable[[Collection], T | None]) -> T | None:
        for shard in self._shards():
            found = read(shard)
            if found:
                return found
        return None

    def document_by_path(self, path: str) -> DocumentRecord | None:
        return self._first(lambda shard: shard.document_by_path(path))

    def document(self, document_id: str) -> DocumentRecord | None:
        return self._first(lambda shard: shard.document(document_id))

    def attachments_of(self, document_id: str) -> list[DocumentRecord]:
        return self._first(lambda shard: shard.attachments_of(document_id)) or []

    def documents(self) -> list[DocumentRecord]:
        found = [d for shard in self._shards() for d in shard.documents()]
        return sorted(found, key=lambda d: d.path)

    def chunk_count(self) -> int:
        return sum(shard.chunk_count() for shard in self._shards())

    def has_chunks(self) -> bool:
        return any(shard.has_chunks() for shard in self._shards())

    def document_chunks(self, document_id: str) -> list[ChunkRecord]:
        return self._first(lambda shard: shard.document_chunks(document_id)) or []

    def neighbours(self, chunk_id: int, before: int, after: int) -> list[ChunkRecord]:
        return self._first(lambda shard: shard.neighbours(chunk_id, before, after)) or []

    def chunks(self, ids: Sequence[int]) -> list[ChunkRecord]:
        by_id = {c.id: c for shard in self._shards() for c in shard.chunks(ids)}
        return [by_id[int(i)] for i in ids if int(i) in by_id]

    # -- search --------------------------------------------------------------------------

    def dense_search(
        self, vector: np.ndarray, k: int, where: SearchFilter | None = None
    ) -> list[tuple[int, float]]:
        return _best(
            [hit for shard in self._shards() for hit in shard.dense_search(vector, k, where)], k
        )

    def _shards_keyword_indexed(self, shards: Sequence[Collection]) -> bool:
        """Whether every shard's tantivy index answers now and holds enough chunks for its own
        statistics to stand for the collection's (RAG_SHARD_KEYWORD_MIN_CHUNKS): 4 shards of
        250,000 chunks shared 95.6 % of one store's keyword top 5, shards of ~300 abstracts
        the same top 5 for 6 of 100 queries."""
        least = self._policy.shard_keyword_min_chunks
        for shard in shards:
            held = shard.keyword_index_chunks()
            if held is None or held < least:
                return False
        return True

    def lexical_search(
        self,
        query: str,
        k: int,
        where: SearchFilter | None = None,
        section_weight: float = 1.0,
        context_weight: float = 1.0,
    ) -> list[tuple[int, float]]:
        """BM25 over all shards as one store would score it (rag/shards/bm25.py).

        Each shard finds its best k with the words chosen over all shards; each hit is then
        scored again term by term with the IDF and average length of the whole collection.
        With each shard's own statistics instead, 4 shards of 125 SciFact abstracts gave the
        same hybrid top 5 as one store for 29 of 100 queries.
        """
        shards = self._shards()
        if (where is None or where.empty) and self._shards_keyword_indexed(shards):
            # Large shards: each one's tantivy BM25 with its own statistics (a document's shard
            # is a hash of its id, so large shards' statistics differ little).
            return _best(
                [
                    hit
                    for shard in shards
                    for hit in shard.lexical_search(query, k, None, section_weight, context_weight)
                ],
                k,
            )
        words = query_terms(query)
        stats = [shard.term_statistics(words) for shard in shards]
        rows = sum(s.rows for s in stats)
        raw = {w: sum(s.raw.get(w, 0) for s in stats) for w in words}
        terms = telling_terms(words, raw, rows) if len(words) > 1 else words
        # Counted only for the terms kept: a common word dropped above is never counted.
        held = [shard.term_document_counts(terms) for shard in shards]
        average = sum(s.tokens for s in stats) / max(1, rows)
        hits: list[tuple[int, float]] = []
        for shard, stat, holding in zip(shards, stats, held, strict=True):
            found = shard.lexical_search(
                query, k, where, section_weight, context_weight, terms, fts5=True
            )
            ids = [chunk_id for chunk_id, _ in found]
            lengths = shard.token_lengths(ids)
            shard_average = stat.tokens / max(1, stat.rows)
            rescored_hits = dict.fromkeys(ids, 0.0)
            for term in terms:
                if not holding.get(term):
                    continue
                mine = Averages(bm25_idf(stat.rows, holding[term]), shard_average)
                everywhere = sum(h.get(term, 0) for h in held)
                whole = Averages(bm25_idf(rows, everywhere), average)
                scores = shard.term_scores(term, ids, section_weight, context_weight)
                for chunk_id, score in scores.items():
                    length = lengths.get(chunk_id, 0)
                    rescored_hits[chunk_id] += rescored(score, length, mine, whole)
            hits += rescored_hits.items()
        return _best(hits, k)

    def _merged(self, read: Callable[[Collection], dict[K, T]]) -> dict[K, T]:
        merged: dict[K, T] = {}
        for shard in self._shards():
            merged.update(read(shard))
        return merged

    def similarities(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        return self._merged(lambda shard: shard.similarities(vector, ids))

    def sentence_similarities(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        return self._merged(lambda shard: shard.sentence_similarities(vector, ids))

    def sentence_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return self._merged(lambda shard: shard.sentence_vectors(ids))

    def embeddings(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return self._merged(lambda shard: shard.embeddings(ids))

    def chunk_pages(self, ids: Sequence[int]) -> dict[int, tuple[str, int | None]]:
        return self._merged(lambda shard: shard.chunk_pages(ids))

    def page_vectors(self, pages: Iterable[tuple[str, int]]) -> dict[tuple[str, int], np.ndarray]:
        wanted = list(pages)
        return self._merged(lambda shard: shard.page_vectors(wanted))

    # -- sentence vectors added later ----------------------------------------------------

    def count_chunks_without_sentences(self) -> int:
        return sum(shard.count_chunks_without_sentences() for shard in self._shards())

    def add_missing_sentence_vectors(
        self, embedder: Embedder, batch: int = 512, progress: Callable[[int], None] | None = None
    ) -> int:
        return sum(
            shard.add_missing_sentence_vectors(embedder, batch, progress)
            for shard in self._shards()
        )


AnyCollection = Collection | ShardedCollection


def _best(hits: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    return sorted(hits, key=lambda hit: hit[1], reverse=True)[:k]
