"""Turn passages and a question into a prompt, generate, and map `[n]` citations to sources."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from rag.llm import Generator, SamplingOptions
from rag.prompts import Message
from rag.types import Answer, Passage, Source

SYSTEM_PROMPT = (
    "You answer questions about the user's documents using only the numbered passages given. "
    "Cite the passages you use with their numbers in brackets, like [1]. If the passages do not "
    "contain the answer, say that you don't know."
)

NOT_FOUND_ANSWER = "I could not find this in your documents."

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def passage_label(passage: Passage) -> str:
    name = PurePath(passage.path).name
    return f"{name}, page {passage.page}" if passage.page is not None else name


# Small models tend to carry on by echoing the prompt's own structure; these markers can never
# be part of a real answer, so generation stops there.
PROMPT_STOPS = ("<passage", "\nQuestion:")


def user_message(question: str, passages: Sequence[Passage]) -> str:
    blocks = [
        f'<passage n="{n}" source="{passage_label(p)}">\n{p.text}\n</passage>'
        for n, p in enumerate(passages, start=1)
    ]
    return (
        "\n".join(blocks) + f"\n\nQuestion: {question}\n"
        "Answer briefly from the passages and cite them like [1]."
    )


def messages(question: str, passages: Sequence[Passage]) -> list[Message]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message(question, passages)},
    ]


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


@dataclass(frozen=True)
class FittedPrompt:
    text: str
    passages: list[Passage]
    prompt_tokens: int
    max_answer_tokens: int


def fit_prompt(
    generator: Generator, question: str, passages: Sequence[Passage], max_answer_tokens: int
) -> FittedPrompt:
    """Keep passages in rank order while the prompt leaves room for the answer.

    Tokens are counted with the LLM's own tokenizer on the fully rendered prompt, so the
    template's overhead is included.
    """
    fmt = generator.prompt_format
    budget = generator.context_size - max_answer_tokens
    kept: list[Passage] = []
    text = fmt.render(messages(question, kept))
    tokens = generator.count_tokens(text)
    for passage in passages:
        candidate = fmt.render(messages(question, [*kept, passage]))
        candidate_tokens = generator.count_tokens(candidate)
        if candidate_tokens > budget:
            break
        kept, text, tokens = [*kept, passage], candidate, candidate_tokens
    answer_room = max(1, min(max_answer_tokens, generator.context_size - tokens))
    return FittedPrompt(text, kept, tokens, answer_room)


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
    generated until the stream is read.
    """

    def __init__(
        self,
        passages: list[Passage],
        pieces: Iterator[str],
        format_name: str,
        prompt_tokens: int,
    ) -> None:
        self.passages = passages
        self._source = pieces
        self._format_name = format_name
        self._prompt_tokens = prompt_tokens
        self._pieces: list[str] = []

    @classmethod
    def generate(
        cls, generator: Generator, prompt: FittedPrompt, options: SamplingOptions
    ) -> AnswerStream:
        return cls(
            prompt.passages,
            iter(generator.stream(prompt.text, options)),
            generator.prompt_format.name,
            prompt.prompt_tokens,
        )

    @classmethod
    def not_found(cls) -> AnswerStream:
        """The answer when nothing in the documents is relevant: no passages, no LLM call."""
        return cls([], iter([NOT_FOUND_ANSWER]), "none", 0)

    def __iter__(self) -> Iterator[str]:
        for piece in self._source:
            self._pieces.append(piece)
            yield piece

    def result(self) -> Answer:
        """The whole answer; consumes the rest of the stream if it was not read to the end."""
        for _ in self:
            pass
        text, cited = extract_citations("".join(self._pieces), len(self.passages))
        sources = [
            Source(n=n, passage=p, cited=n in cited) for n, p in enumerate(self.passages, start=1)
        ]
        # llama.cpp streams one token per piece.
        usage = {"prompt_tokens": self._prompt_tokens, "completion_tokens": len(self._pieces)}
        return Answer(answer=text, sources=sources, prompt_format=self._format_name, usage=usage)
