"""Generate an answer from fitted passages and map its `[n]` citations to sources."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.embed import Embedder
from rag.answer.budget import FittedPrompt
from rag.answer.evidence import (
    Candidate,
    EvidencePolicy,
    EvidenceResult,
    SentenceVectors,
    document_words,
    select,
)
from rag.answer.evidence import candidates as evidence_candidates
from rag.answer.grounding import UnsupportedPolicy, apply_policy, check_claims
from rag.answer.markup import CITATION, cited_numbers, strip_markup
from rag.llm.protocol import Generator, SamplingOptions
from rag.types import Answer, Claim, Evidence, Passage, Source, Timings, Usage, Verdict

# "[Passage 2]", "[source 2]", "[2-4]": written by models, normalised to "[2]", "[2, 3, 4]".
_NAMED_CITATION = re.compile(r"\[(?:passage|source|document|doc)\s*(\d+)\]", re.IGNORECASE)
_RANGE_CITATION = re.compile(r"\[(\d+)\s*[-–]\s*(\d+)\]")


def extract_citations(answer: str, sources: int) -> tuple[str, set[int]]:
    """Citation numbers that point at a source, and the answer without markers that do not.

    >>> extract_citations("Paris [1]. Also [2, 9] and [7].", 2)
    ('Paris [1]. Also [2] and.', {1, 2})
    """
    cited: set[int] = set()
    answer = _NAMED_CITATION.sub(r"[\1]", answer)
    answer = _RANGE_CITATION.sub(_expand_range, answer)

    def keep_valid(match: re.Match[str]) -> str:
        numbers = [int(n) for n in match.group(1).split(",")]
        valid = [n for n in numbers if 1 <= n <= sources]
        cited.update(valid)
        return f"[{', '.join(str(n) for n in valid)}]" if valid else ""

    cleaned = CITATION.sub(keep_valid, answer)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), cited


def _expand_range(match: re.Match[str]) -> str:
    low, high = int(match.group(1)), int(match.group(2))
    numbers = range(low, high + 1) if 0 < high - low < 20 else (low, high)
    return f"[{', '.join(str(n) for n in numbers)}]"


@dataclass(frozen=True)
class AnswerCheck:
    """What checking an answer needs: the question, the embedder, the stored sentence vectors,
    and what to do with unsupported sentences. `claims=False` quotes evidence only."""

    question: str
    embedder: Embedder
    not_found: str
    stored: SentenceVectors | None = None
    policy: EvidencePolicy = field(default_factory=EvidencePolicy)
    unsupported: UnsupportedPolicy = "flag"
    claims: bool = True

    def evidence(self, passages: Sequence[Passage]) -> tuple[list[Candidate], EvidenceResult]:
        found = evidence_candidates(passages, self.embedder, self.stored)
        vector = self.embedder.embed([self.question])[0]
        return found, select(vector, self.question, found, self.policy)


@dataclass(frozen=True)
class CheckedAnswer:
    """An answer after the check: the text as shown, and what the check found."""

    answer: str
    evidence: list[Evidence]
    claims: list[Claim]
    answer_mode: str
    grounding: str


def extractive_answer(evidence: EvidenceResult, not_found: str) -> str:
    """The evidence itself as the answer, each quote with its `[n]`; or `not_found` when the
    question names something no passage holds.

    >>> from rag.types import Evidence
    >>> quotes = [Evidence(1, "Net sales — 2022: 82,959", "q.pdf", 3)]
    >>> extractive_answer(EvidenceResult(quotes, 0.9, []), "Not found.")
    'Net sales — 2022: 82,959 [1]'
    >>> extractive_answer(EvidenceResult(quotes, 0.9, ["1875"]), "Not found.")
    'Not found.'
    """
    if not evidence.answerable:
        return not_found
    return "\n\n".join(f"{quote.text} [{quote.n}]" for quote in evidence.quotes)


class AnswerStream:
    """Text pieces as the model writes them; `.result()` gives the final cited Answer.

    The sources are known before the first piece, so a caller can show them early. Nothing is
    generated until the stream is read; `close()` stops a generation midway.
    """

    def __init__(
        self,
        passages: list[Passage],
        pieces: Iterator[str],
        format_name: str,
        prompt: FittedPrompt | None = None,
        count_tokens: Callable[[str], int] | None = None,
        check: AnswerCheck | None = None,
        prepared: tuple[list[Candidate], EvidenceResult] | None = None,
    ) -> None:
        self.passages = passages
        self._source = pieces
        self._format_name = format_name
        self.prompt = prompt
        self._count_tokens = count_tokens
        self._check = check
        self._prepared = prepared
        self._check_ms = 0.0
        self._pieces: list[str] = []
        self._started: float | None = None
        self._first_piece: float | None = None
        self._finished: float | None = None

    @classmethod
    def generate(
        cls,
        generator: Generator,
        prompt: FittedPrompt,
        options: SamplingOptions,
        check: AnswerCheck | None = None,
    ) -> AnswerStream:
        return cls(
            prompt.passages,
            iter(generator.stream(prompt.messages, options)),
            generator.format_name,
            prompt,
            generator.count_tokens,
            check,
        )

    @classmethod
    def extractive(cls, passages: list[Passage], check: AnswerCheck) -> AnswerStream:
        """The answer quoted from the passages (no LLM): the evidence is chosen up front."""
        started = time.perf_counter()
        found, evidence = check.evidence(passages)
        text = extractive_answer(evidence, check.not_found)
        stream = cls(passages, iter([text]), "extractive", check=check, prepared=(found, evidence))
        stream._check_ms = (time.perf_counter() - started) * 1000
        return stream

    @classmethod
    def not_found(cls, text: str) -> AnswerStream:
        """The answer when nothing in the documents is relevant: no passages, no LLM call."""
        return cls([], iter([text]), "none")

    def __iter__(self) -> Iterator[str]:
        if self._started is None:
            self._started = time.perf_counter()
        for piece in self._source:
            if self._first_piece is None:
                self._first_piece = time.perf_counter()
            self._pieces.append(piece)
            yield piece
        if self._finished is None:
            self._finished = time.perf_counter()

    @property
    def finished(self) -> bool:
        """The model has written its whole answer (not stopped midway)."""
        return self._finished is not None

    def close(self) -> None:
        """Stop generating (a client went away); the model is free for the next question."""
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def _timings(self, completion_tokens: int, check_ms: float | None) -> Timings:
        if self._started is None or self._first_piece is None or self._finished is None:
            return Timings(check_ms=check_ms)
        decode = self._finished - self._first_piece
        rate = (completion_tokens - 1) / decode if completion_tokens > 1 and decode > 0 else 0.0
        return Timings(
            first_token_ms=round((self._first_piece - self._started) * 1000, 2),
            total_ms=round((self._finished - self._started) * 1000, 2),
            tokens_per_second=round(rate, 2),
            check_ms=check_ms,
        )

    def result(self) -> Answer:
        """The whole answer; consumes the rest of the stream if it was not read to the end."""
        for _ in self:
            pass
        raw = "".join(self._pieces)
        text, cited = extract_citations(strip_markup(raw), len(self.passages))
        checked = self._checked(text)
        extra: dict[str, Any] = {}
        check_ms: float | None = None
        if checked is not None:
            text, cited = checked.answer, cited_numbers(checked.answer)
            extra = {
                "evidence": checked.evidence,
                "claims": checked.claims,
                "answer_mode": checked.answer_mode,
                "grounding": checked.grounding,
            }
            check_ms = round(self._check_ms, 2)
        sources = [
            Source(n=n, passage=p, cited=n in cited) for n, p in enumerate(self.passages, start=1)
        ]
        if self.prompt is None:
            timings = Timings(check_ms=check_ms)
            return Answer(text, sources, self._format_name, timings=timings, **extra)
        completion = self._count_tokens(raw) if self._count_tokens and raw else 0
        return Answer(
            answer=text,
            sources=sources,
            prompt_format=self._format_name,
            usage=Usage(self.prompt.prompt_tokens, completion),
            context=self.prompt.report(),
            timings=self._timings(completion, check_ms),
            **extra,
        )

    def _checked(self, text: str) -> CheckedAnswer | None:
        """Evidence, claims, the grounding verdict and the answer as shown (flagged or cut)."""
        check = self._check
        if check is None or not self.passages:
            return None
        started = time.perf_counter()
        found, evidence = self._prepared or check.evidence(self.passages)
        extractive = self._prepared is not None
        if extractive:
            claims = [
                Claim(q.text, Verdict.SUPPORTED, q.n, q.text)
                for q in evidence.quotes
                if evidence.answerable
            ]
        elif check.claims:
            labels = [document_words(p) for p in self.passages]
            claims = check_claims(text, check.question, found, check.embedder, labels)
        else:
            claims = []
        shown = (
            apply_policy(text, claims, check.unsupported, check.not_found)
            if extractive or check.claims
            else None
        )
        self._check_ms += (time.perf_counter() - started) * 1000
        return CheckedAnswer(
            answer=shown.text if shown is not None else text,
            evidence=evidence.quotes,
            claims=claims,
            answer_mode="extractive" if extractive else "generative",
            grounding=shown.grounding if shown is not None else "unchecked",
        )
