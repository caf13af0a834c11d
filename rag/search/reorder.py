"""The second stage: reorder the fused ranking (cross-encoder rerank, MMR diversity, one
passage per document) before the top k are kept."""

from __future__ import annotations

import numpy as np

from rag.search.fusion import Hit, first_of_each
from rag.search.rerank import Reranker
from rag.shards.sharded import AnyCollection


def reranked(
    collection: AnyCollection, reranker: Reranker, query: str, fused: list[Hit], candidates: int
) -> list[Hit]:
    """The first `candidates` hits in the reranker's order, then the rest as they were."""
    head, tail = fused[:candidates], fused[candidates:]
    texts = {r.id: r.text for r in collection.chunks([h.chunk_id for h in head])}
    ids = [h.chunk_id for h in head if h.chunk_id in texts]
    scores = reranker.score(query, [texts[i] for i in ids])
    order = sorted(zip(ids, scores, strict=True), key=lambda pair: pair[1], reverse=True)
    return [Hit(i, s) for i, s in order] + tail


def diversified(
    collection: AnyCollection, query: np.ndarray, ranked: list[Hit], lambda_: float, k: int
) -> list[Hit]:
    """Maximal marginal relevance: trade relevance for passages unlike those already chosen."""
    pool = ranked[: max(k * 4, 20)]
    vectors = collection.embeddings([h.chunk_id for h in pool])
    chosen: list[Hit] = []
    left = [hit for hit in pool if hit.chunk_id in vectors]
    while left and len(chosen) < k:

        def gain(hit: Hit) -> float:
            mine = vectors[hit.chunk_id]
            relevance = float(mine @ query)
            redundancy = max((float(mine @ vectors[c.chunk_id]) for c in chosen), default=0.0)
            return lambda_ * relevance - (1 - lambda_) * redundancy

        best = max(left, key=gain)
        chosen.append(best)
        left.remove(best)
    chosen_ids = {h.chunk_id for h in chosen}
    return chosen + [hit for hit in ranked if hit.chunk_id not in chosen_ids]


def best_per_document(collection: AnyCollection, ranked: list[Hit]) -> list[Hit]:
    """Each document's best hit, in rank order."""
    pages = collection.chunk_pages([hit.chunk_id for hit in ranked])
    return first_of_each(ranked, {chunk_id: document for chunk_id, (document, _) in pages.items()})
