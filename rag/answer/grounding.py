"""Check every sentence of an answer against the passages it was written from.

Each sentence (a claim) is matched to the passage sentence closest in meaning, and every figure
and name in it must appear in the passages (or the question): a claim with an invented figure
is `unsupported`, whatever its fluency. Sentences that only say nothing was found are
`no_claim`. Unsupported claims are then flagged in the text or removed (RAG_UNSUPPORTED_CLAIMS);
when no claim is supported, the answer says the documents do not answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ingest.embed import Embedder
from ingest.sentences import split_sentences
from rag.answer.evidence import Candidate, terms
from rag.answer.facts import Figure, figure_supported, figures, name_supported, names
from rag.answer.markup import CITATION, cited_numbers
from rag.types import Claim, Verdict

UnsupportedPolicy = Literal["flag", "remove"]

_NOTHING_FOUND = re.compile(
    r"\b(?:could not|couldn't|cannot|can't|unable to|do not|don't|does not|doesn't)\s+"
    r"(?:find|know|answer|determine|say|contain|mention|provide|include|specify)"
    r"|\bnot\s+(?:found|mentioned|provided|stated|specified|available|given|included)\b"
    r"|\bno (?:information|mention|data|details?)\b",
    re.IGNORECASE,
)
# A claim without figures or names is backed when its closest passage sentence is this close in
# meaning, or shares this share of its words (MiniLM cosine; a paraphrase scores above it).
_MIN_SIMILARITY = 0.5
_MIN_OVERLAP = 0.5


@dataclass(frozen=True)
class Grounded:
    text: str
    claims: list[Claim]
    grounding: str


def check_claims(
    answer: str,
    question: str,
    found: Sequence[Candidate],
    embedder: Embedder,
    labels: Sequence[str] = (),
) -> list[Claim]:
    """Each sentence of `answer` with its verdict, its closest passage sentence (and which
    passage), and the figures and names in it that no passage or label holds."""
    sentences = split_sentences(answer)
    if not sentences:
        return []
    known_text = "\n".join([question, *labels, *(c.text for c in found)])
    known_figures = figures(known_text)
    missing = [_not_held(s, known_figures, known_text) for s in sentences]
    # A sentence that says nothing was found is no claim, unless it names what no passage holds.
    silent = [_says_nothing(s) and not m for s, m in zip(sentences, missing, strict=True)]
    checked = [s for s, quiet in zip(sentences, silent, strict=True) if not quiet]
    vectors = embedder.embed([CITATION.sub("", s) for s in checked]) if checked and found else None
    matrix = np.stack([c.vector for c in found]) if found else None
    claims: list[Claim] = []
    row = 0
    for sentence, quiet, not_held in zip(sentences, silent, missing, strict=True):
        if quiet:
            claims.append(Claim(sentence, Verdict.NO_CLAIM))
            continue
        best: Candidate | None = None
        similarity = 0.0
        if vectors is not None and matrix is not None:
            scores = matrix @ vectors[row]
            row += 1
            best, similarity = _closest(sentence, found, scores)
        checkable = bool(figures(sentence) or names(sentence))
        backed = not not_held and (
            checkable
            or similarity >= _MIN_SIMILARITY
            or (best is not None and _overlap(sentence, best.text) >= _MIN_OVERLAP)
        )
        claims.append(
            Claim(
                text=sentence,
                verdict=Verdict.SUPPORTED if backed else Verdict.UNSUPPORTED,
                n=best.n if best is not None else None,
                evidence=best.quote if best is not None else None,
                unsupported=not_held,
            )
        )
    return claims


def _not_held(sentence: str, known_figures: Sequence[Figure], known_text: str) -> tuple[str, ...]:
    """The figures and names of `sentence` that the passages, labels and question lack."""
    return tuple(
        [f.text for f in figures(sentence) if not figure_supported(f, known_figures)]
        + [n for n in names(sentence) if not name_supported(n, known_text)]
    )


def _says_nothing(sentence: str) -> bool:
    words = terms(CITATION.sub("", sentence))
    return bool(_NOTHING_FOUND.search(sentence)) or (len(words) < 2 and not figures(sentence))


def _closest(
    sentence: str, found: Sequence[Candidate], scores: np.ndarray
) -> tuple[Candidate, float]:
    """The closest passage sentence, among the passages the claim cites when it cites any."""
    cited = cited_numbers(sentence)
    pool = [i for i, c in enumerate(found) if c.n in cited] or list(range(len(found)))
    index = max(pool, key=lambda i: float(scores[i]))
    return found[index], float(scores[index])


def _overlap(claim: str, sentence: str) -> float:
    words = set(terms(claim))
    return len(words & set(terms(sentence))) / len(words) if words else 0.0


def verdict_of(claims: Sequence[Claim]) -> str:
    """One word for the whole answer.

    >>> verdict_of([Claim("a", Verdict.SUPPORTED), Claim("b", Verdict.UNSUPPORTED)])
    'partly_supported'
    """
    supported = any(c.verdict == Verdict.SUPPORTED for c in claims)
    unsupported = any(c.verdict == Verdict.UNSUPPORTED for c in claims)
    if supported:
        return "partly_supported" if unsupported else "supported"
    return "unsupported" if unsupported else "not_found"


def apply_policy(
    answer: str, claims: Sequence[Claim], policy: UnsupportedPolicy, not_found: str
) -> Grounded:
    """The answer as shown: unsupported claims flagged (`[unsupported: 2.67%]`) or removed;
    the not-found message when no claim is supported.

    >>> claims = [Claim("Sales were 5.", Verdict.SUPPORTED),
    ...           Claim("Margin was 9%.", Verdict.UNSUPPORTED, unsupported=("9%",))]
    >>> apply_policy("Sales were 5. Margin was 9%.", claims, "flag", "none").text
    'Sales were 5. Margin was 9%. [unsupported: 9%]'
    >>> apply_policy("Sales were 5. Margin was 9%.", claims, "remove", "none").text
    'Sales were 5.'
    """
    grounding = verdict_of(claims)
    if grounding in {"unsupported", "not_found"} and any(
        c.verdict == Verdict.UNSUPPORTED for c in claims
    ):
        return Grounded(not_found, list(claims), grounding)
    if grounding == "not_found" and not answer.strip():
        return Grounded(not_found, list(claims), grounding)
    text = answer
    cursor = 0
    for claim in claims:
        start = text.find(claim.text, cursor)
        if start < 0:
            if claim.verdict == Verdict.UNSUPPORTED and policy == "flag":
                text += f" {_marker(claim)}"  # never leave it unflagged, even out of place
            continue
        end = start + len(claim.text)
        if claim.verdict != Verdict.UNSUPPORTED:
            cursor = end
            continue
        if policy == "remove":
            text = text[:start] + text[end:]
            cursor = start
        else:
            marker = f" {_marker(claim)}"
            text = text[:end] + marker + text[end:]
            cursor = end + len(marker)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return Grounded(re.sub(r"\n{3,}", "\n\n", text).strip(), list(claims), grounding)


def _marker(claim: Claim) -> str:
    return (
        f"[unsupported: {', '.join(claim.unsupported)}]" if claim.unsupported else "[unsupported]"
    )


def unsupported_notice(claims: Sequence[Claim], grounding: str, shown: str) -> str | None:
    """A line to append to an answer that was already streamed unchecked: what the check found
    unsupported (None when nothing was). Streams cannot take back text, so they add this.

    >>> flagged = [Claim("x", Verdict.UNSUPPORTED, unsupported=("9%",))]
    >>> unsupported_notice(flagged, "partly_supported", "")
    '[unsupported by your documents: 9%]'
    """
    if grounding == "unsupported":
        return f"[none of this is supported by your documents: {shown}]"
    flagged = [c for c in claims if c.verdict == Verdict.UNSUPPORTED]
    if not flagged:
        return None
    items = [item for c in flagged for item in c.unsupported] or [c.text for c in flagged]
    return f"[unsupported by your documents: {', '.join(dict.fromkeys(items))}]"
