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

from index.store import ChunkRecord
from rag.collection import Collection
from rag.search.fusion import Hit, Ranking

# (document id, page, chunk id): a paged chunk's unit is its page (chunk id None), an
# unpaged chunk's is itself (page None).
PageKey = tuple[str, int | None, int | None]


def page_of(record: ChunkRecord) -> PageKey:
    """The unit a chunk belongs to: its document's page, or the chunk itself when unpaged."""
    if record.page is None:
        return (record.document_id, None, record.id)
    return (record.document_id, record.page, None)


def with_pages(
    collection: Collection, vector: np.ndarray, rankings: list[Ranking], weight: float
) -> list[Ranking]:
    """`rankings` plus "page_lexical" and "page_dense" over the same candidates, each with
    `weight`; unchanged when the weight is 0 or no candidate has a page."""
    if weight <= 0:
        return rankings
    pool = sorted({chunk_id for ranking in rankings for chunk_id in ranking.ids()})
    records = collection.chunks(pool)
    if not any(record.page is not None for record in records):
        return rankings
    unit = {record.id: page_of(record) for record in records}
    added = [
        Ranking("page_lexical", _page_lexical(rankings, unit), weight),
        Ranking("page_dense", _page_dense(collection, vector, records), weight),
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
    hits = [Hit(i, summed[page]) for i, page in unit.items() if page in summed]
    return sorted(hits, key=lambda hit: hit.score, reverse=True)


def _page_dense(
    collection: Collection,
    vector: np.ndarray,
    records: Sequence[ChunkRecord],
) -> list[Hit]:
    """Each candidate scored by the cosine of the query to its page's mean chunk vector."""
    page_vectors = collection.page_vectors(
        {(r.document_id, r.page) for r in records if r.page is not None}
    )
    unpaged = [r.id for r in records if r.page is None]
    own = collection.similarities(vector, unpaged) if unpaged else {}
    query = np.asarray(vector, dtype=np.float32)
    hits: list[Hit] = []
    for record in records:
        page_vector = (
            None if record.page is None else page_vectors.get((record.document_id, record.page))
        )
        if page_vector is not None:
            hits.append(Hit(record.id, float(page_vector @ query)))
        elif record.id in own:
            hits.append(Hit(record.id, own[record.id]))
    return sorted(hits, key=lambda hit: hit.score, reverse=True)


def best_per_page(collection: Collection, ranked: list[Hit]) -> list[Hit]:
    """Each page's best hit, in rank order: five passages from five pages, not five slices of
    one table. Unpaged chunks are all kept."""
    records = collection.chunks([hit.chunk_id for hit in ranked])
    unit = {record.id: page_of(record) for record in records}
    seen: set[PageKey] = set()
    kept: list[Hit] = []
    for hit in ranked:
        page = unit.get(hit.chunk_id)
        if page is not None and page not in seen:
            seen.add(page)
            kept.append(hit)
    return kept
