"""Find the passages that best match a query: candidates -> fuse -> reorder -> passages.

    query -> candidate rankings (dense, lexical, best sentence; see candidates.py)
          -> one fused ranking (normalized scores, or reciprocal ranks; fusion.py)
          -> [rerank] -> [MMR] -> [best per page] (pages.py) -> [best per document] (reorder.py)
          -> top k chunks as passages

Every passage carries its cosine similarity to the query (from the stored vector, also for
chunks only the lexical search found), which the answer step uses as a relevance cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from rag.errors import EmptyCollection
from rag.search.candidates import candidate_rankings
from rag.search.clock import StageClock
from rag.search.fusion import Hit, Ranking, fuse_ranks, fuse_scores
from rag.search.options import SearchOptions
from rag.search.pages import best_per_page
from rag.search.reorder import best_per_document, diversified, reranked
from rag.search.rerank import Reranker
from rag.shards.sharded import AnyCollection
from rag.types import Passage


class QueryEncoder(Protocol):
    """What search needs of a model: texts in, unit vectors out (an Embedder, or the
    QueryBatcher that batches concurrent searches' queries)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def search(
    collection: AnyCollection,
    embedder: QueryEncoder,
    query: str,
    options: SearchOptions,
    reranker: Reranker | None = None,
    earlier: Sequence[tuple[str, float]] = (),
    clock: StageClock | None = None,
) -> list[Passage]:
    """The best `options.k` passages for an already checked query (`check_query`), best first.

    `earlier` (text, weight) pairs search along with the query: a follow-up question's earlier
    turns (rag/answer/conversation.py). Their words join the BM25 query and their vectors are
    added to the query's with their weights. `clock` is charged each stage's time.
    """
    clock = clock or StageClock()
    clock.start()
    options.checked()
    if not collection.has_chunks():
        raise EmptyCollection(
            f"collection {collection.name!r} is empty: add documents first "
            f"(rag ingest PATH --collection {collection.name})"
        )
    vectors = embedder.embed([query, *(text for text, _ in earlier)])
    clock.lap("embed query")
    vector = vectors[0]
    if earlier:
        vector = vector + sum(w * v for (_, w), v in zip(earlier, vectors[1:], strict=True))
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
    searched = " ".join([query, *(text for text, _ in earlier)])
    rankings = candidate_rankings(collection, vector, searched, options, clock)
    fused = _fused(rankings, options)
    clock.lap("fuse")
    if not fused:
        return []
    ranked = fused
    if reranker is not None:
        ranked = reranked(collection, reranker, query, ranked, options.rerank_candidates)
    if options.mmr_lambda is not None:
        ranked = diversified(collection, vector, ranked, options.mmr_lambda, options.k)
    if options.one_per_page:
        ranked = best_per_page(collection, ranked)
    if options.group_by_document:
        ranked = best_per_document(collection, ranked)
    clock.lap("reorder")
    passages = _passages(collection, vector, ranked[: options.k], rankings)
    clock.lap("read passages")
    return passages


def _fused(rankings: Sequence[Ranking], options: SearchOptions) -> list[Hit]:
    if options.fusion == "rrf":
        return fuse_ranks(rankings, options.rrf_k)
    return fuse_scores(rankings, "zscore" if options.fusion == "zscore" else "minmax")


def _passages(
    collection: AnyCollection, vector: np.ndarray, top: list[Hit], rankings: Sequence[Ranking]
) -> list[Passage]:
    """The top hits as passages, each with its cosine similarity to the query."""
    similarity = {hit.chunk_id: hit.score for r in rankings if r.name == "dense" for hit in r.hits}
    unscored = [hit.chunk_id for hit in top if hit.chunk_id not in similarity]
    if unscored:
        similarity.update(collection.similarities(vector, unscored))
    records = {r.id: r for r in collection.chunks([hit.chunk_id for hit in top])}
    return [
        Passage(
            chunk_id=hit.chunk_id,
            document_id=record.document_id,
            path=record.path,
            page=record.page,
            section=record.section,
            score=hit.score,
            text=record.text,
            similarity=similarity.get(hit.chunk_id, 0.0),
            ordinal=record.ordinal,
            context=record.context,
        )
        for hit in top
        if (record := records.get(hit.chunk_id)) is not None
    ]
