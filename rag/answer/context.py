"""What the model is shown for one question: the retrieved passages cut to the relevant ones,
widened with their neighbouring chunks, then fitted to the model's context (`budget.fit_prompt`).

One module, so the path from search results to a prompt reads in one place:

    passages -> relevant (similarity cut) -> widened (neighbours) -> fitted (token budget)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.shards.sharded import AnyCollection
from rag.types import Passage


@dataclass(frozen=True)
class ContextPolicy:
    """How passages become context; `RAG` fills it from `Settings`, where the defaults live."""

    min_similarity: float
    min_relative_score: float
    neighbours: int


def relevant_passages(
    passages: Sequence[Passage], min_similarity: float, min_relative: float
) -> list[Passage]:
    """Passages similar enough to the question to be worth the LLM's attention.

    A passage is kept when its cosine similarity is at least `min_similarity` and at least
    `min_relative` times the best passage's. An empty list means "not in your documents".

    >>> hits = [Passage(i, "d", "p", None, None, 0, "t", s) for i, s in enumerate([.6, .4, .1])]
    >>> [p.similarity for p in relevant_passages(hits, 0.2, 0.5)]
    [0.6, 0.4]
    >>> relevant_passages(hits[2:], 0.2, 0.5)
    []
    """
    if not passages:
        return []
    best = max(p.similarity for p in passages)
    floor = max(min_similarity, best * min_relative if best > 0 else best)
    return [p for p in passages if p.similarity >= floor]


def neighbours(
    collection: AnyCollection, passage: Passage, before: int, after: int
) -> list[Passage]:
    """The passage with the chunks around it in its document, in reading order."""
    return [
        replace(
            passage,
            chunk_id=r.id,
            text=r.text,
            page=r.page,
            section=r.section,
            ordinal=r.ordinal,
        )
        for r in collection.neighbours(passage.chunk_id, before, after)
    ]


def widened(collection: AnyCollection, passages: list[Passage], n: int) -> list[Passage]:
    """Each passage's text joined with `n` chunks either side (a table's header, say, that the
    chunker put in the chunk before)."""
    if n == 0:
        return passages
    return [
        replace(p, text="\n\n".join(q.text for q in neighbours(collection, p, n, n)))
        for p in passages
    ]


def answer_context(
    collection: AnyCollection, found: Sequence[Passage], policy: ContextPolicy
) -> list[Passage]:
    """The passages an answer may use, widened; empty when none is relevant enough."""
    relevant = relevant_passages(found, policy.min_similarity, policy.min_relative_score)
    return widened(collection, relevant, policy.neighbours) if relevant else []
