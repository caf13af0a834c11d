"""Rankings and how several of them become one: reciprocal ranks, or normalised scores."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np


class Hit(NamedTuple):
    """One chunk in a ranking and its score there (higher is better)."""

    chunk_id: int
    score: float


@dataclass(frozen=True)
class Ranking:
    """One retriever's view of the candidates, best first, and how much it counts in fusion."""

    name: str
    hits: list[Hit]
    weight: float

    def ids(self) -> list[int]:
        return [hit.chunk_id for hit in self.hits]


def fuse_ranks(rankings: Sequence[Ranking], rrf_k: float) -> list[Hit]:
    """Weighted reciprocal-rank fusion: each ranking adds weight / (rrf_k + rank) to its items.

    >>> a = Ranking("a", [Hit(1, 0.9), Hit(2, 0.5), Hit(3, 0.1)], 1.0)
    >>> fuse_ranks([a, Ranking("b", [Hit(3, 9.0), Hit(1, 2.0)], 1.0)], rrf_k=60)[0].chunk_id
    1
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking.ids(), start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + ranking.weight / (rrf_k + rank)
    return _best_first(scores)


def fuse_scores(
    rankings: Sequence[Ranking], normalize: Literal["minmax", "zscore"] = "minmax"
) -> list[Hit]:
    """Weighted sum of normalized scores; an item missing from a ranking gets its lowest.

    `minmax` maps each ranking onto [0, 1]; `zscore` centres it on its mean in standard
    deviations, which lets one ranking's clear winner stand out more than its runner-up.

    >>> dense = Ranking("dense", [Hit(1, 0.9), Hit(2, 0.8), Hit(3, 0.5)], 0.5)
    >>> lexical = Ranking("lexical", [Hit(2, 12.0), Hit(3, 4.0)], 0.5)
    >>> [(h.chunk_id, h.score) for h in fuse_scores([dense, lexical])]
    [(2, 0.875), (1, 0.5), (3, 0.0)]
    >>> [h.chunk_id for h in fuse_scores([Ranking("x", [Hit(1, 3.0), Hit(2, 1.0)], 1.0)], "zscore")]
    [1, 2]
    >>> rare = Ranking("lexical", [Hit(3, 7.5)], 0.5)
    >>> dense = Ranking("dense", [Hit(1, 0.9), Hit(3, 0.85), Hit(4, 0.5)], 0.5)
    >>> [h.chunk_id for h in fuse_scores([dense, rare])]
    [3, 1, 4]
    """
    # (scaled scores, weight, score of an item the ranking lacks)
    normalized: list[tuple[dict[int, float], float, float]] = []
    for ranking in rankings:
        if not ranking.hits:
            continue
        values = np.array([hit.score for hit in ranking.hits], dtype=np.float64)
        if values.max() == values.min():
            # All hits alike (often one hit: the one chunk holding a rare word): they are
            # this ranking's best, what it lacks its worst. Scaled as usual they would all be
            # 0, like the items missing, and the ranking would count for nothing.
            normalized.append(({hit.chunk_id: 1.0 for hit in ranking.hits}, ranking.weight, 0.0))
            continue
        if normalize == "zscore":
            centre, spread = float(values.mean()), float(values.std())
        else:
            centre, spread = float(values.min()), float(values.max() - values.min())
        scaled = {hit.chunk_id: (hit.score - centre) / spread for hit in ranking.hits}
        normalized.append((scaled, ranking.weight, min(scaled.values())))
    everything = {chunk_id for hits, _, _ in normalized for chunk_id in hits}
    scores = {
        chunk_id: sum(weight * hits.get(chunk_id, floor) for hits, weight, floor in normalized)
        for chunk_id in everything
    }
    return _best_first(scores)


def _best_first(scores: dict[int, float]) -> list[Hit]:
    return [Hit(i, s) for i, s in sorted(scores.items(), key=lambda pair: pair[1], reverse=True)]


def first_of_each(ranked: Sequence[Hit], group_of: Mapping[int, Hashable]) -> list[Hit]:
    """The best hit of each group (document, page), in rank order; hits without a group are
    dropped (a chunk deleted meanwhile).

    >>> first_of_each([Hit(1, 0.9), Hit(2, 0.8), Hit(3, 0.7)], {1: "a", 2: "a", 3: "b"})
    [Hit(chunk_id=1, score=0.9), Hit(chunk_id=3, score=0.7)]
    """
    seen: set[Hashable] = set()
    kept: list[Hit] = []
    for hit in ranked:
        group = group_of.get(hit.chunk_id)
        if group is not None and group not in seen:
            seen.add(group)
            kept.append(hit)
    return kept
