"""The first stage: each retriever ranks a pool of candidates for the query on its own.

query -> dense top-N (FAISS, cosine)
      -> lexical top-N (FTS5, BM25; section titles and context lines weighed in)
      -> best-sentence similarity of every candidate either found (model sentence vectors
         stored at ingest, or static ones computed now: ingest/static_vectors.py)
"""

from __future__ import annotations

import numpy as np

from ingest.sentences import own_sentences
from ingest.static_vectors import StaticTokenVectors
from rag.collection import Collection
from rag.search.fusion import Hit, Ranking
from rag.search.options import SearchOptions


def candidate_rankings(
    collection: Collection,
    vector: np.ndarray,
    query: str,
    options: SearchOptions,
    static: StaticTokenVectors | None = None,
) -> list[Ranking]:
    """The rankings `options.mode` asks for, each over at most the candidate pool. `static`
    scores the sentences of chunks stored without sentence vectors."""
    # Grouping by document needs more chunks in the pool to fill k distinct documents.
    pool = max(options.candidates, options.k * (3 if options.group_by_document else 1))
    rankings: list[Ranking] = []
    if options.mode in ("hybrid", "dense"):
        dense = collection.dense_search(vector, pool, options.where)
        rankings.append(Ranking("dense", [Hit(*h) for h in dense], options.dense_weight))
    if options.mode in ("hybrid", "lexical"):
        lexical = collection.lexical_search(
            query, pool, options.where, options.section_weight, options.context_weight
        )
        rankings.append(Ranking("lexical", [Hit(*h) for h in lexical], options.lexical_weight))
    if options.mode == "hybrid":
        rankings = _with_sentences(
            collection, vector, query, rankings, options.sentence_weight, static
        )
    return rankings


def _with_sentences(
    collection: Collection,
    vector: np.ndarray,
    query: str,
    rankings: list[Ranking],
    weight: float,
    static: StaticTokenVectors | None,
) -> list[Ranking]:
    """Add a third ranking of the candidates: each one's best sentence's similarity.

    A question about one finding matches that finding's sentence better than the chunk's
    averaged vector. Model sentence vectors stored at ingest are used where the candidates
    have them; else static ones are computed now (`static`). With neither, the weight goes to
    the dense ranking.
    """
    if weight <= 0:
        return rankings
    pool = sorted({chunk_id for ranking in rankings for chunk_id in ranking.ids()})
    best = collection.sentence_similarities(vector, pool)
    if not best and static is not None:
        best = static_sentence_similarities(collection, static, query, pool)
    if not best:
        dense, *rest = rankings
        return [Ranking(dense.name, dense.hits, dense.weight + weight), *rest]
    hits = [Hit(i, s) for i, s in sorted(best.items(), key=lambda pair: pair[1], reverse=True)]
    return [*rankings, Ranking("sentence", hits, weight)]


def static_sentence_similarities(
    collection: Collection, static: StaticTokenVectors, query: str, ids: list[int]
) -> dict[int, float]:
    """Cosine of the query's static vector to each chunk's best sentence's (a one-sentence
    chunk is its own sentence), words weighed by the collection's token counts."""
    records = collection.chunks(ids)
    pieces = [own_sentences(record.text) or [record.text] for record in records]
    vectors = static.embed(
        [query, *(p for chunk in pieces for p in chunk)], collection.token_counts()
    )
    scores = vectors[1:] @ vectors[0]
    best: dict[int, float] = {}
    start = 0
    for record, chunk in zip(records, pieces, strict=True):
        best[record.id] = float(scores[start : start + len(chunk)].max())
        start += len(chunk)
    return best
