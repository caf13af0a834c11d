"""The first stage: each retriever ranks a pool of candidates for the query on its own.

query -> dense top-N (FAISS, cosine)
      -> lexical top-N (FTS5, BM25; section titles and context lines weighed in)
      -> best-sentence similarity of every candidate either found
      -> each candidate's page: its chunks' BM25 summed, their mean vector (pages.py)
"""

from __future__ import annotations

import numpy as np

from rag.search.clock import StageClock
from rag.search.fusion import Hit, Ranking
from rag.search.options import SearchOptions
from rag.search.pages import with_pages
from rag.shards.sharded import AnyCollection


def candidate_rankings(
    collection: AnyCollection,
    vector: np.ndarray,
    query: str,
    options: SearchOptions,
    clock: StageClock | None = None,
) -> list[Ranking]:
    """The rankings `options.mode` asks for, each over at most the candidate pool."""
    clock = clock or StageClock()
    # Grouping by document needs more chunks in the pool to fill k distinct documents.
    pool = max(options.candidates, options.k * (3 if options.group_by_document else 1))
    rankings: list[Ranking] = []
    if options.mode in ("hybrid", "dense"):
        dense = collection.dense_search(vector, pool, options.where)
        rankings.append(Ranking("dense", [Hit(*h) for h in dense], options.dense_weight))
        clock.lap("dense (FAISS)")
    if options.mode in ("hybrid", "lexical"):
        lexical = collection.lexical_search(
            query, pool, options.where, options.section_weight, options.context_weight
        )
        rankings.append(Ranking("lexical", [Hit(*h) for h in lexical], options.lexical_weight))
        clock.lap("lexical (BM25)")
    if options.mode == "hybrid":
        rankings = _with_sentences(collection, vector, rankings, options.sentence_weight)
        clock.lap("best sentence")
        rankings = with_pages(collection, vector, rankings, options.page_weight)
        clock.lap("pages")
    return rankings


def _with_sentences(
    collection: AnyCollection, vector: np.ndarray, rankings: list[Ranking], weight: float
) -> list[Ranking]:
    """Add a third ranking of the candidates: each one's best sentence's similarity.

    A question about one finding matches that finding's sentence better than the chunk's
    averaged vector. Chunks ingested without sentence vectors have none; when no candidate
    has any, the weight goes to the dense ranking, so older collections search as before.
    """
    if weight <= 0:
        return rankings
    pool = sorted({chunk_id for ranking in rankings for chunk_id in ranking.ids()})
    best = collection.sentence_similarities(vector, pool)
    if not best:
        dense, *rest = rankings
        return [Ranking(dense.name, dense.hits, dense.weight + weight), *rest]
    hits = [Hit(i, s) for i, s in sorted(best.items(), key=lambda pair: pair[1], reverse=True)]
    return [*rankings, Ranking("sentence", hits, weight)]
