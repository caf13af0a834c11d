"""BM25 of a shard's hit as one store holding every shard would have scored it.

FTS5 scores a row, for each query term, as idf * F(k1 + 1) / (F + k1(1 - b + b D/avgdl)), F the
term's column-weighted frequency in the row and D the row's length in tokens (k1 = 1.2,
b = 0.75, fixed in FTS5). A shard knows only its own IDF and average length. Given a single
term's score from the shard, D and the shard's averages, F is solved for and the score is
computed again with the IDF and average length of the whole collection, so a sharded search
ranks keywords exactly as one store (to rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

_K1 = 1.2
_B = 0.75


@dataclass(frozen=True)
class Averages:
    """One store's (or all shards') IDF of a term and average row length."""

    idf: float
    average_length: float


def rescored(score: float, length: int, shard: Averages, whole: Averages) -> float:
    """A term's BM25 in a shard, scored again with the whole collection's statistics.

    >>> shard, whole = Averages(2.0, 50.0), Averages(3.0, 60.0)
    >>> frequency, length = 2.0, 40
    >>> def bm25(a):  # FTS5's formula for one term
    ...     k = 1.2 * (0.25 + 0.75 * length / a.average_length)
    ...     return a.idf * frequency * 2.2 / (frequency + k)
    >>> round(rescored(bm25(shard), length, shard, whole), 9) == round(bm25(whole), 9)
    True
    """
    if score <= 0:
        return 0.0
    weight = score / shard.idf  # F(k1 + 1) / (F + K)
    shard_k = _K1 * (1 - _B + _B * length / shard.average_length)
    if weight >= _K1 + 1:  # the rounding limit of a huge frequency
        return whole.idf * (_K1 + 1)
    frequency = weight * shard_k / (_K1 + 1 - weight)
    whole_k = _K1 * (1 - _B + _B * length / whole.average_length)
    return whole.idf * frequency * (_K1 + 1) / (frequency + whole_k)
