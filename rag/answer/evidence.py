"""The passage sentences (or table rows) that best answer a question, quoted verbatim.

A tiny model cannot read a table or a long passage, but the sentence that answers the question
is usually in what retrieval found. It is picked by meaning (the question's and each sentence's
vectors, the sentence vectors stored at ingest where they match) and by the question's rarer
words it shares; a table row is quoted under its header row, so its figures keep their columns.
The passages do not answer when the question names something (a figure, a name, a negation)
that none of them holds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from ingest.embed import Embedder
from ingest.sentences import split_sentences
from rag.answer.facts import figure_supported, figures, name_supported, names
from rag.answer.markup import strip_markup
from rag.types import Evidence, Passage

_TOKEN = re.compile(r"[a-z0-9]+")
_STOP_WORDS = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers him his how i if in into is it its itself just
me more most my no nor not now of off on once only or other our out over own same she should
so some such than that the their them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your
yours many much one first name called known type kind year years time did does
"""
_STOP = frozenset(_STOP_WORDS.split())
_NEGATION = re.compile(r"\b(?:not|never|no|none|nor|without)\b|n't\b", re.IGNORECASE)
_WANTS_FIGURE = re.compile(
    r"\bhow (?:much|many|long|old|large|big|far)\b|\bwhat (?:percentage|share|amount|number)\b"
    r"|\b(?:amount|total|rate|ratio|margin|revenue|sales|income|price|cost|value)\b.*\?"
    r"|\bin (?:usd|us\$|\$|millions|billions|thousands|percent)|%",
    re.IGNORECASE,
)
_MARKDOWN_ROW = re.compile(r"^\|.*\|$")


@dataclass(frozen=True)
class EvidencePolicy:
    """How evidence is picked, chosen on the squad2-dev tuning half (benchmarks/answers.py).

    A sentence scores its cosine similarity to the question plus `lexical_weight` times the
    share of the question's words (weighted by rarity) it holds. A second quote is added when
    it scores at least `second_ratio` of the first. When the question asks for an amount, a
    sentence holding a figure (not only a year) gains `figure_bonus`.
    """

    lexical_weight: float = 0.75
    max_quotes: int = 2
    second_ratio: float = 0.8
    figure_bonus: float = 0.3


@dataclass(frozen=True)
class Candidate:
    n: int
    passage: Passage
    text: str
    quote: str
    vector: np.ndarray


@dataclass(frozen=True)
class EvidenceResult:
    """The quotes, the best sentence's score, and what the question names (figures, names, a
    negation) that no passage holds: a question about "the Seven-Day War" or "what is *not*
    prevented" is not answered by passages on the Six-Day War or on what is prevented."""

    quotes: list[Evidence]
    score: float
    unmatched: list[str]

    @property
    def answerable(self) -> bool:
        return bool(self.quotes) and not self.unmatched


SentenceVectors = Callable[[Sequence[int]], Mapping[int, np.ndarray]]


def candidates(
    passages: Sequence[Passage], embedder: Embedder, stored: SentenceVectors | None = None
) -> list[Candidate]:
    """Every sentence or table row of the passages with its vector: the one stored at ingest
    when the passage is the chunk as stored, else embedded now (all in one call). A stored
    sentence that holds a heading and its paragraph is quoted, and embedded, in two."""
    kept = stored([p.chunk_id for p in passages]) if stored is not None else {}
    pieces: list[list[str]] = []
    vectors: list[np.ndarray | None] = []
    missing: list[str] = []
    for passage in passages:
        sentences = split_sentences(passage.text)
        rows = kept.get(passage.chunk_id)
        aligned = rows is not None and len(rows) == len(sentences)
        units: list[str] = []
        for index, sentence in enumerate(sentences):
            parts = quote_units(sentence)
            units.extend(parts)
            if aligned and len(parts) == 1 and rows is not None:
                vectors.append(rows[index])
            else:
                vectors.extend([None] * len(parts))
                missing.extend(parts)
        pieces.append(units)
    fresh = iter(embedder.embed(missing)) if missing else iter(())
    out: list[Candidate] = []
    offset = 0
    for n, (passage, sentences) in enumerate(zip(passages, pieces, strict=True), start=1):
        header = _header_row(sentences)
        for raw in sentences:
            vector = vectors[offset]
            offset += 1
            if vector is None:
                vector = next(fresh)
            sentence = strip_markup(raw)
            if not sentence:
                continue
            quote = (
                f"{header}\n{sentence}"
                if header and sentence != header and _MARKDOWN_ROW.match(sentence)
                else sentence
            )
            out.append(Candidate(n, passage, sentence, quote, np.asarray(vector, np.float32)))
    return out


def quote_units(text: str) -> list[str]:
    r"""What can be quoted alone: sentences and table rows, a heading apart from the paragraph
    under it.

    >>> quote_units("Results\n\nSales rose. Costs fell.")
    ['Results', 'Sales rose.', 'Costs fell.']
    """
    return [p.strip() for s in split_sentences(text) for p in s.split("\n\n") if p.strip()]


def _header_row(sentences: Sequence[str]) -> str | None:
    """The header row that leads a chunk of Markdown table rows (ingest/tables.py)."""
    return next((strip_markup(s) for s in sentences if _MARKDOWN_ROW.match(s)), None)


def terms(text: str) -> list[str]:
    """Content words, lower-cased, crudely stemmed so "reserves" meets "reserve".

    >>> terms("How many natural reserves are there in Warsaw?")
    ['natural', 'reserve', 'warsaw']
    """
    return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in _STOP]


def _stem(word: str) -> str:
    for suffix in ("ies", "s", "ed", "ing"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def question_weights(question: str, texts: Sequence[str]) -> dict[str, float]:
    """Each content word of the question weighted by how rare it is among `texts` (a word in
    every text tells little); names and figures of the question weigh double."""
    words = set(terms(question))
    if not words:
        return {}
    documents = [set(terms(t)) for t in texts]
    special = {_stem(w.lower()) for w in names(question)} | {
        _stem(f.text.lower()) for f in figures(question)
    }
    weights: dict[str, float] = {}
    for word in words:
        frequency = sum(word in d for d in documents)
        weight = math.log(1 + (len(documents) + 1) / (frequency + 0.5))
        weights[word] = weight * (2.0 if word in special else 1.0)
    return weights


def select(
    question_vector: np.ndarray,
    question: str,
    found: Sequence[Candidate],
    policy: EvidencePolicy,
) -> EvidenceResult:
    """The best one or two quotes for the question, and how well anything answers it."""
    if not found:
        return EvidenceResult([], 0.0, [])
    weights = question_weights(question, [c.text for c in found])
    total = sum(weights.values()) or 1.0
    similarity = np.stack([c.vector for c in found]) @ np.asarray(question_vector, np.float32)
    bonus = policy.figure_bonus if wants_figure(question) else 0.0
    scores = [
        float(sim)
        + policy.lexical_weight
        * _overlap(f"{c.quote}\n{document_words(c.passage)}", weights, total)
        + (bonus if _holds_figure(c.text) else 0.0)
        for sim, c in zip(similarity, found, strict=True)
    ]
    order = sorted(range(len(found)), key=lambda i: -scores[i])
    best = scores[order[0]]
    runners_up = order[1 : policy.max_quotes]
    chosen = [order[0], *(i for i in runners_up if scores[i] >= policy.second_ratio * best > 0)]
    quotes = [
        Evidence(
            n=found[i].n,
            text=found[i].quote,
            path=found[i].passage.path,
            page=found[i].passage.page,
        )
        for i in sorted(chosen, key=lambda i: (found[i].n, i))
    ]
    passages = {id(c.passage): c.passage for c in found}.values()
    known = "\n".join([*(p.text for p in passages), *(document_words(p) for p in passages)])
    return EvidenceResult(quotes, best, unmatched_in_question(question, known))


def document_words(passage: Passage) -> str:
    """What names the passage's document: its file name's words and its context line (entity,
    period). They count for every sentence of the passage alike, so a heading that repeats the
    company's name does not outrank the row that holds the figure."""
    name = re.sub(r"[_.\-]+", " ", PurePath(passage.path).name)
    return f"{name}\n{passage.context}" if passage.context else name


def wants_figure(question: str) -> bool:
    """Whether the question asks for an amount, a count, a share or a date.

    >>> wants_figure("How much total assets did Costco have?"), wants_figure("Who founded it?")
    (True, False)
    """
    return bool(_WANTS_FIGURE.search(question))


def _holds_figure(text: str) -> bool:
    return any(not 1900 <= f.value <= 2100 or f.unit != 1.0 for f in figures(text))


def unmatched_in_question(question: str, known: str) -> list[str]:
    """The figures and names of the question that `known` lacks, and its negation word when
    `known` has none (measured on the squad2-dev tuning half: 33 % of unanswerable questions
    caught, 4 % of answerable ones lost; rarer words alone caught nothing, their paraphrases
    being as often missing in answerable questions).

    >>> unmatched_in_question("What did Apple not sell in 1875?", "Apple sold pears in 1876.")
    ['1875', 'not']
    """
    known_figures = figures(known)
    out = [f.text for f in figures(question) if not figure_supported(f, known_figures)]
    out += [n for n in names(question) if not name_supported(n, known)]
    negation = _NEGATION.search(question)
    if negation and not _NEGATION.search(known):
        out.append(negation.group(0))
    return out


def _overlap(text: str, weights: Mapping[str, float], total: float) -> float:
    present = set(terms(text))
    return sum(w for t, w in weights.items() if t in present) / total
