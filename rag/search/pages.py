"""Pages as units: what a page's chunks say together, as two more rankings of the candidates.

A filing's cash-flow statement is cut into chunks of a few rows each: no single chunk holds
"cash flows", the company, the year and "purchases of property, plant and equipment", but the
page does. People cite pages, and questions about reports are about pages. So every candidate
chunk is also ranked by its page: the BM25 scores of the page's chunks among the lexical
candidates summed, and the cosine of the query to the mean vector of all the page's chunks.
A chunk without a page number (plain text, one abstract) is its own unit. When no candidate
has a page, nothing is added, so collections of unpaged text search exactly as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from rag.search.fusion import Hit, Ranking, first_of_each
from rag.shards.sharded import AnyCollection

# (document id, page, chunk id): a paged chunk's unit is its page (chunk id None), an
# unpaged chunk's is itself (page None).
PageKey = tuple[str, int | None, int | None]


def page_units(collection: AnyCollection, ids: Sequence[int]) -> dict[int, PageKey]:
    """The unit each chunk belongs to: its document's page, or itself when unpaged."""
    return {
        chunk_id: (document_id, page, None if page is not None else chunk_id)
        for chunk_id, (document_id, page) in collection.chunk_pages(ids).items()
    }


def with_pages(
    collection: AnyCollection, vector: np.ndarray, rankings: list[Ranking], weight: float
) -> list[Ranking]:
    """`rankings` plus "page_lexical" and "page_dense" over the same candidates, each with
    `weight`; unchanged when the weight is 0 or no candidate has a page."""
    if weight <= 0:
        return rankings
    unit = page_units(collection, sorted({i for ranking in rankings for i in ranking.ids()}))
    if all(page is None for _, page, _ in unit.values()):
        return rankings
    added = [
        Ranking("page_lexical", _page_lexical(rankings, unit), weight),
        Ranking("page_dense", _page_dense(collection, vector, unit), weight),
    ]
    return [*rankings, *(ranking for ranking in added if ranking.hits)]


def _page_lexical(rankings: Sequence[Ranking], unit: dict[int, PageKey]) -> list[Hit]:
    """Each candidate scored by the summed BM25 of its page's chunks among the lexical hits."""
    lexical = next((ranking for ranking in rankings if ranking.name == "lexical"), None)
    if lexical is None:
        return []
    summed: dict[PageKey, float] = defaultdict(float)
    for hit in lexical.hits:
        if hit.chunk_id in unit:
            summed[unit[hit.chunk_id]] += hit.score
    return _best_first([Hit(i, summed[page]) for i, page in unit.items() if page in summed])


def _page_dense(
    collection: AnyCollection, vector: np.ndarray, unit: dict[int, PageKey]
) -> list[Hit]:
    """Each candidate scored by the cosine of the query to its page's mean chunk vector (an
    unpaged chunk: to its own vector)."""
    page_vectors = collection.page_vectors(
        {(document, page) for document, page, _ in unit.values() if page is not None}
    )
    unpaged = [i for i, (_, page, _) in unit.items() if page is None]
    scores = collection.similarities(vector, unpaged) if unpaged else {}
    query = np.asarray(vector, dtype=np.float32)
    for chunk_id, (document, page, _) in unit.items():
        page_vector = None if page is None else page_vectors.get((document, page))
        if page_vector is not None:
            scores[chunk_id] = float(page_vector @ query)
    return _best_first([Hit(i, score) for i, score in scores.items()])


def _best_first(hits: list[Hit]) -> list[Hit]:
    return sorted(hits, key=lambda hit: hit.score, reverse=True)


def best_per_page(collection: AnyCollection, ranked: list[Hit]) -> list[Hit]:
    """Each page's best hit, in rank order: five passages from five pages, not five slices of
    one table. Unpaged chunks are all kept."""
    return first_of_each(ranked, page_units(collection, [hit.chunk_id for hit in ranked]))
