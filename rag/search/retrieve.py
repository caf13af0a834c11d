"""Find the passages that best match a query: dense + lexical search, fused, optionally reranked.

    query -> dense top-N (FAISS, cosine) ┐
          -> lexical top-N (FTS5, BM25)  ┴-> candidates -> + best-sentence similarity of each
          -> weighted fusion of the three (normalized scores, or reciprocal ranks)
          -> [rerank] -> [MMR] -> top k chunks (or best chunk per document)

Every passage carries its cosine similarity to the query (from the stored vector, also for
chunks only the lexical search found), which the answer step uses as a relevance cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from index.filters import SearchFilter
from ingest.embed import Embedder
from rag.collection import Collection
from rag.errors import EmptyCollection, InvalidRequest
from rag.types import Passage

SearchMode = Literal["hybrid", "dense", "lexical"]


class Reranker(Protocol):
    """Scores (query, passage) pairs jointly; slower and sharper than the first-stage search."""

    def score(self, query: str, texts: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True)
class SearchOptions:
    """How to search. The fusion defaults were tuned on SciFact's train split (see README)."""

    k: int = 5
    mode: SearchMode = "hybrid"
    candidates: int = 100
    fusion: Literal["rrf", "convex", "zscore"] = "convex"
    rrf_k: float = 60.0
    dense_weight: float = 0.3
    lexical_weight: float = 0.4
    sentence_weight: float = 0.3
    section_weight: float = 0.25
    context_weight: float = 0.5
    group_by_document: bool = False
    where: SearchFilter = field(default_factory=SearchFilter)
    rerank_candidates: int = 30
    mmr_lambda: float | None = None


def check_query(query: str, max_chars: int = 10_000) -> str:
    text = query.strip()
    if not text:
        raise InvalidRequest("the question is empty: type what you want to know")
    if len(text) > max_chars:
        raise InvalidRequest(f"the question is {len(text)} characters; the limit is {max_chars}")
    return text


def fuse(rankings: Sequence[tuple[Sequence[int], float]], rrf_k: float) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion: each list adds weight / (rrf_k + rank) to its items.

    >>> fuse([([1, 2, 3], 1.0), ([3, 1], 1.0)], rrf_k=60)[0][0]
    1
    """
    scores: dict[int, float] = {}
    for ids, weight in rankings:
        for rank, chunk_id in enumerate(ids, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


def fuse_scores(
    results: Sequence[tuple[Sequence[tuple[int, float]], float]],
    normalize: Literal["minmax", "zscore"] = "minmax",
) -> list[tuple[int, float]]:
    """Weighted sum of normalized scores; an item missing from a list gets that list's lowest.

    `minmax` maps each list onto [0, 1]; `zscore` centres it on its mean in standard
    deviations, which lets one list's clear winner stand out more than its runner-up.

    >>> fuse_scores([([(1, 0.9), (2, 0.8), (3, 0.5)], 0.5), ([(2, 12.0), (3, 4.0)], 0.5)])
    [(2, 0.875), (1, 0.5), (3, 0.0)]
    >>> [i for i, _ in fuse_scores([([(1, 3.0), (2, 1.0)], 1.0)], "zscore")]
    [1, 2]
    """
    normalized: list[tuple[dict[int, float], float]] = []
    for hits, weight in results:
        if not hits:
            continue
        values = np.array([score for _, score in hits], dtype=np.float64)
        if normalize == "zscore":
            centre, spread = float(values.mean()), float(values.std()) or 1.0
        else:
            centre, spread = float(values.min()), float(values.max() - values.min()) or 1.0
        normalized.append(({i: (score - centre) / spread for i, score in hits}, weight))
    floors = [min(hits.values()) for hits, _ in normalized]
    everything = {chunk_id for hits, _ in normalized for chunk_id in hits}
    scores = {
        chunk_id: sum(
            weight * hits.get(chunk_id, floor)
            for (hits, weight), floor in zip(normalized, floors, strict=True)
        )
        for chunk_id in everything
    }
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


def search(
    collection: Collection,
    embedder: Embedder,
    query: str,
    options: SearchOptions,
    reranker: Reranker | None = None,
) -> list[Passage]:
    """The best `options.k` passages for the query, best first."""
    text = check_query(query)
    if options.k < 1:
        raise InvalidRequest(f"k must be at least 1, got {options.k}")
    try:
        options.where.to_sql()
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    if collection.chunk_count() == 0:
        raise EmptyCollection(
            f"collection {collection.name!r} is empty: add documents first "
            f"(rag ingest PATH --collection {collection.name})"
        )
    vector = embedder.embed([text])[0]
    # Grouping by document needs more chunks in the pool to fill k distinct documents.
    pool = max(options.candidates, options.k * (3 if options.group_by_document else 1))
    results: list[tuple[list[tuple[int, float]], float]] = []
    dense: list[tuple[int, float]] = []
    if options.mode in ("hybrid", "dense"):
        dense = collection.dense_search(vector, pool, options.where)
        results.append((dense, options.dense_weight))
    if options.mode in ("hybrid", "lexical"):
        lexical = collection.lexical_search(
            text, pool, options.where, options.section_weight, options.context_weight
        )
        results.append((lexical, options.lexical_weight))
    if options.mode == "hybrid":
        results = _with_sentences(collection, vector, results, options.sentence_weight)
    if options.fusion in ("convex", "zscore"):
        fused = fuse_scores(results, "zscore" if options.fusion == "zscore" else "minmax")
    else:
        fused = fuse([([i for i, _ in hits], weight) for hits, weight in results], options.rrf_k)
    if not fused:
        return []

    similarity = dict(dense)
    unscored = [i for i, _ in fused if i not in similarity]
    if unscored:
        similarity.update(collection.similarities(vector, unscored))
    ranked = fused
    if reranker is not None:
        ranked = _rerank(collection, reranker, text, fused, options.rerank_candidates)
    if options.mmr_lambda is not None:
        ranked = _mmr(collection, vector, ranked, options.mmr_lambda, options.k)
    if options.group_by_document:
        ranked = _best_per_document(collection, ranked)
    top = ranked[: options.k]
    records = {r.id: r for r in collection.chunks([i for i, _ in top])}
    return [
        Passage(
            chunk_id=chunk_id,
            document_id=records[chunk_id].document_id,
            path=records[chunk_id].path,
            page=records[chunk_id].page,
            section=records[chunk_id].section,
            score=score,
            text=records[chunk_id].text,
            similarity=similarity.get(chunk_id, 0.0),
            ordinal=records[chunk_id].ordinal,
            context=records[chunk_id].context,
        )
        for chunk_id, score in top
        if chunk_id in records
    ]


def _with_sentences(
    collection: Collection,
    vector: np.ndarray,
    results: list[tuple[list[tuple[int, float]], float]],
    weight: float,
) -> list[tuple[list[tuple[int, float]], float]]:
    """Add a third ranking of the candidates: each one's best sentence's similarity.

    A question about one finding matches that finding's sentence better than the chunk's
    averaged vector. Chunks ingested without sentence vectors have none; when no candidate
    has any, the weight goes to the dense ranking, so older collections search as before.
    """
    if weight <= 0:
        return results
    candidates = sorted({chunk_id for hits, _ in results for chunk_id, _ in hits})
    best = collection.sentence_similarities(vector, candidates)
    if not best:
        (dense, dense_weight), *rest = results
        return [(dense, dense_weight + weight), *rest]
    ranked = sorted(best.items(), key=lambda pair: pair[1], reverse=True)
    return [*results, (ranked, weight)]


def _rerank(
    collection: Collection,
    reranker: Reranker,
    query: str,
    fused: list[tuple[int, float]],
    candidates: int,
) -> list[tuple[int, float]]:
    head, tail = fused[:candidates], fused[candidates:]
    texts = {r.id: r.text for r in collection.chunks([i for i, _ in head])}
    ids = [i for i, _ in head if i in texts]
    scores = reranker.score(query, [texts[i] for i in ids])
    reranked = sorted(zip(ids, scores, strict=True), key=lambda pair: pair[1], reverse=True)
    return reranked + tail


def _mmr(
    collection: Collection,
    query: np.ndarray,
    ranked: list[tuple[int, float]],
    lambda_: float,
    k: int,
) -> list[tuple[int, float]]:
    """Maximal marginal relevance: trade relevance for passages unlike those already chosen."""
    pool = ranked[: max(k * 4, 20)]
    vectors = collection.embeddings([i for i, _ in pool])
    chosen: list[tuple[int, float]] = []
    left = [pair for pair in pool if pair[0] in vectors]
    while left and len(chosen) < k:

        def gain(pair: tuple[int, float]) -> float:
            relevance = float(vectors[pair[0]] @ query)
            redundancy = max((float(vectors[pair[0]] @ vectors[c]) for c, _ in chosen), default=0.0)
            return lambda_ * relevance - (1 - lambda_) * redundancy

        best = max(left, key=gain)
        chosen.append(best)
        left.remove(best)
    chosen_ids = {i for i, _ in chosen}
    return chosen + [pair for pair in ranked if pair[0] not in chosen_ids]


def _best_per_document(
    collection: Collection, ranked: list[tuple[int, float]]
) -> list[tuple[int, float]]:
    documents = {r.id: r.document_id for r in collection.chunks([i for i, _ in ranked])}
    seen: set[str] = set()
    best: list[tuple[int, float]] = []
    for chunk_id, score in ranked:
        document = documents.get(chunk_id)
        if document is not None and document not in seen:
            seen.add(document)
            best.append((chunk_id, score))
    return best
