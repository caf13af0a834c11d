"""What a search call may ask for, and the checks every question passes once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from index.filters import SearchFilter
from rag.errors import InvalidRequest

SearchMode = Literal["hybrid", "dense", "lexical"]
Fusion = Literal["rrf", "convex", "zscore"]

# The longest question or query accepted anywhere (library, CLI, HTTP schemas).
MAX_QUERY_CHARS = 10_000


@dataclass(frozen=True)
class SearchOptions:
    """How to search one query. `RAG.search_options` fills it from `Settings`, where the
    defaults live (tuned on SciFact's train split, see the README)."""

    k: int
    mode: SearchMode
    candidates: int
    fusion: Fusion
    rrf_k: float
    dense_weight: float
    lexical_weight: float
    sentence_weight: float
    section_weight: float
    context_weight: float
    rerank_candidates: int
    page_weight: float = 0.0
    one_per_page: bool = False
    mmr_lambda: float | None = None
    group_by_document: bool = False
    where: SearchFilter = field(default_factory=SearchFilter)

    def checked(self) -> SearchOptions:
        """Itself, or InvalidRequest naming what is wrong (k < 1, a malformed filter)."""
        if self.k < 1:
            raise InvalidRequest(f"k must be at least 1, got {self.k}")
        try:
            self.where.to_sql()
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
        return self


def check_query(query: str, max_chars: int = MAX_QUERY_CHARS) -> str:
    """The query without surrounding space, or InvalidRequest when empty or too long.

    >>> check_query("  lease end ")
    'lease end'
    """
    text = query.strip()
    if not text:
        raise InvalidRequest("the question is empty: type what you want to know")
    if len(text) > max_chars:
        raise InvalidRequest(f"the question is {len(text)} characters; the limit is {max_chars}")
    return text
