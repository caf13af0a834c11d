"""Find the passages that best match a query."""

from __future__ import annotations

from ingest.embed import Embedder
from rag.collection import Collection
from rag.errors import EmptyCollection, InvalidRequest
from rag.types import Passage


def check_query(query: str, max_chars: int = 10_000) -> str:
    text = query.strip()
    if not text:
        raise InvalidRequest("the question is empty: type what you want to know")
    if len(text) > max_chars:
        raise InvalidRequest(f"the question is {len(text)} characters; the limit is {max_chars}")
    return text


def search(collection: Collection, embedder: Embedder, query: str, k: int) -> list[Passage]:
    """The k passages most similar to the query, best first."""
    text = check_query(query)
    if k < 1:
        raise InvalidRequest(f"k must be at least 1, got {k}")
    if collection.chunk_count() == 0:
        raise EmptyCollection(
            f"collection {collection.name!r} is empty: add documents first "
            f"(rag ingest PATH --collection {collection.name})"
        )
    vector = embedder.embed([text])[0]
    return [
        Passage(
            chunk_id=record.id,
            document_id=record.document_id,
            path=record.path,
            page=record.page,
            section=record.section,
            score=score,
            text=record.text,
        )
        for record, score in collection.search(vector, k)
    ]
