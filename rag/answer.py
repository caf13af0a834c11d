"""Generate an answer from fitted passages and map its `[n]` citations to sources."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence

from rag.budget import FittedPrompt
from rag.llm import Generator, SamplingOptions
from rag.types import Answer, Passage, Source

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")

# Small models tend to carry on by echoing the prompt's own structure; these markers can never
# be part of a real answer, so generation stops there.
PROMPT_STOPS = ("<passage", "\nQuestion:")


def relevant_passages(
    passages: Sequence[Passage], min_similarity: float, min_relative: float
) -> list[Passage]:
    """Passages similar enough to the question to be worth the LLM's attention.

    A passage is kept when its cosine similarity is at least `min_similarity` and at least
    `min_relative` times the best passage's. An empty list means "not in your documents".

    >>> from rag.types import Passage
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


def extract_citations(answer: str, sources: int) -> tuple[str, set[int]]:
    """Citation numbers that point at a source, and the answer without markers that do not.

    >>> extract_citations("Paris [1]. Also [2, 9] and [7].", 2)
    ('Paris [1]. Also [2] and.', {1, 2})
    """
    cited: set[int] = set()

    def keep_valid(match: re.Match[str]) -> str:
        numbers = [int(n) for n in match.group(1).split(",")]
        valid = [n for n in numbers if 1 <= n <= sources]
        cited.update(valid)
        return f"[{', '.join(str(n) for n in valid)}]" if valid else ""

    cleaned = _CITATION.sub(keep_valid, answer)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), cited


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
    ) -> None:
        self.passages = passages
        self._source = pieces
        self._format_name = format_name
        self.prompt = prompt
        self._count_tokens = count_tokens
        self._pieces: list[str] = []
        self._started: float | None = None
        self._first_piece: float | None = None
        self._finished: float | None = None

    @classmethod
    def generate(
        cls, generator: Generator, prompt: FittedPrompt, options: SamplingOptions
    ) -> AnswerStream:
        return cls(
            prompt.passages,
            iter(generator.stream(prompt.messages, options)),
            generator.format_name,
            prompt,
            generator.count_tokens,
        )

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

    def _timings(self, completion_tokens: int) -> dict[str, float]:
        if self._started is None or self._first_piece is None or self._finished is None:
            return {}
        decode = self._finished - self._first_piece
        rate = (completion_tokens - 1) / decode if completion_tokens > 1 and decode > 0 else 0.0
        return {
            "first_token_ms": round((self._first_piece - self._started) * 1000, 2),
            "total_ms": round((self._finished - self._started) * 1000, 2),
            "tokens_per_second": round(rate, 2),
        }

    def result(self) -> Answer:
        """The whole answer; consumes the rest of the stream if it was not read to the end."""
        for _ in self:
            pass
        raw = "".join(self._pieces)
        text, cited = extract_citations(raw, len(self.passages))
        sources = [
            Source(n=n, passage=p, cited=n in cited) for n, p in enumerate(self.passages, start=1)
        ]
        if self.prompt is None:
            return Answer(text, sources, self._format_name)
        completion = self._count_tokens(raw) if self._count_tokens and raw else 0
        usage = {"prompt_tokens": self.prompt.prompt_tokens, "completion_tokens": completion}
        return Answer(
            answer=text,
            sources=sources,
            prompt_format=self._format_name,
            usage=usage,
            context=self.prompt.report(),
            timings=self._timings(completion),
        )
