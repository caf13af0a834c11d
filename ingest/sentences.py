"""Where sentences end: the one home of the sentence rules every step uses.

`split_sentences` splits a chunk into sentences, so each one can get its own vector (and the
answer check can quote them); `split_at_sentence_ends` is the looser cut the chunker and the
context budget use to break a too-long text between sentences.

A 200-token chunk's vector averages everything in it; a question about one finding in the
middle of a paragraph matches that finding's sentence far better than the whole chunk. A plain
rule (end punctuation, space, capital or digit) is used instead of a parser: it is fast enough
to run on every chunk at ingest and it is what the sentence weight was tuned with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, cast

import numpy as np

from ingest.embed import Embedder

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
# In a chunk holding table rows (ingest/tables.py writes them "label — header: value" or as
# Markdown rows), a single line break ends a row, the caption or the header row. Elsewhere a
# single line break is only a wrapped line.
_LINE = re.compile(r"(?<!\n)\n(?!\n)")
_TABLE_ROW = re.compile(r"^(\|.*\||.+ — .+: .+)$", re.MULTILINE)


def split_at_sentence_ends(text: str) -> list[str]:
    """`text` cut after every `.`, `!` or `?` followed by space: the places a too-long text may
    be broken without cutting a sentence in two.

    >>> split_at_sentence_ends("One. Two!  three")
    ['One.', 'Two!', 'three']
    """
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def split_sentences(text: str) -> list[str]:
    r"""The sentences of `text`, in order, stripped; blank pieces are dropped. Each row of a
    table (a line of its own) counts as a sentence; a line break in prose does not end one.

    >>> split_sentences("Mice were fed. 12 of them died! Was it (the) diet? e.g. no")
    ['Mice were fed.', '12 of them died!', 'Was it (the) diet? e.g. no']
    >>> split_sentences("Sales (Millions)\nNet sales — 2018: 5,363\nCosts — 2018: 4,869")
    ['Sales (Millions)', 'Net sales — 2018: 5,363', 'Costs — 2018: 4,869']
    >>> split_sentences("A line that wraps\nhere. And ends.")
    ['A line that wraps\nhere.', 'And ends.']
    """
    lines = _LINE.split(text) if _TABLE_ROW.search(text) else [text]
    return [piece.strip() for line in lines for piece in _BOUNDARY.split(line) if piece.strip()]


def own_sentences(text: str) -> list[str]:
    """The sentences of a chunk that get vectors of their own: none when the chunk is a single
    sentence, because then the chunk's vector already is that sentence's.

    >>> own_sentences("One claim only.")
    []
    >>> own_sentences("A claim. Its evidence.")
    ['A claim.', 'Its evidence.']
    """
    pieces = split_sentences(text)
    return pieces if len(pieces) > 1 else []


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Where `own_sentences(text)` lie in `text`, as (start, end) character offsets.

    >>> text = "A claim. Its evidence."
    >>> [text[a:b] for a, b in sentence_spans(text)]
    ['A claim.', 'Its evidence.']
    """
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in own_sentences(text):
        start = text.find(piece, cursor)
        if start < 0:  # cannot happen: pieces are stripped slices of text, in order
            return []
        spans.append((start, start + len(piece)))
        cursor = start + len(piece)
    return spans


class SpanEmbedder(Embedder, Protocol):
    """An embedder that also pools vectors for character spans of each text from the same
    forward pass (ingest/onnx_embed.py)."""

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]: ...


def embed_pooled(
    embedder: Embedder, searched: Sequence[str], texts: Sequence[str]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Chunk vectors (of `searched`: the chunk text behind its document's context line) and,
    from the same forward pass, each chunk's sentence vectors (the mean of each sentence's
    tokens, for the sentences of `texts`, the chunk text alone), which costs almost nothing
    beyond the chunk vectors. An embedder that cannot pool spans embeds the sentences on their
    own (`sentence_vectors`), as does every one-sentence chunk: its chunk vector."""
    if not hasattr(embedder, "embed_with_spans"):
        vectors = embedder.embed(searched)
        return vectors, sentence_vectors(embedder, texts, vectors)
    spans = []
    for whole, text in zip(searched, texts, strict=True):
        shift = len(whole) - len(text)  # the chunk text ends the searched text
        spans.append([(a + shift, b + shift) for a, b in sentence_spans(text)])
    vectors, pooled = cast(SpanEmbedder, embedder).embed_with_spans(searched, spans)
    return vectors, [
        rows if len(rows) else vectors[i].reshape(1, -1) for i, rows in enumerate(pooled)
    ]


def sentence_vectors(
    embedder: Embedder, texts: Sequence[str], chunk_vectors: np.ndarray
) -> list[np.ndarray]:
    """Each chunk's sentence vectors (one row per sentence), embedded in one call; a
    one-sentence chunk gets its chunk vector (see `own_sentences`). A sentence that recurs in
    the batch (a title leading every chunk of its document, a running header) is embedded once:
    the same text gives the same vector."""
    sentences = [own_sentences(text) for text in texts]
    unique = list(dict.fromkeys(s for pieces in sentences for s in pieces))
    embedded = embedder.embed(unique) if unique else np.zeros((0, 0), dtype=np.float32)
    row = {sentence: i for i, sentence in enumerate(unique)}
    out: list[np.ndarray] = []
    for chunk_vector, pieces in zip(chunk_vectors, sentences, strict=True):
        if pieces:
            out.append(embedded[[row[piece] for piece in pieces]])
        else:
            out.append(np.asarray(chunk_vector, dtype=np.float32).reshape(1, -1))
    return out
