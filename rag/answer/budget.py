"""Fit the retrieved passages into the model's context, so nothing overflows silently.

Passages go in rank order while the rendered prompt (counted with the LLM's own tokenizer,
template overhead included) leaves `max_answer_tokens` free; the first one that does not fit is
cut at a sentence boundary, and the rest are dropped and reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ingest.sentences import split_at_sentence_ends
from rag.errors import InvalidRequest
from rag.llm.protocol import Generator
from rag.prompts.chat_formats import Message
from rag.prompts.rag_template import RagPrompt
from rag.types import ContextReport, DroppedPassage, Passage


@dataclass(frozen=True)
class FittedPrompt:
    messages: list[Message]
    passages: list[Passage]
    dropped: list[Passage]
    trimmed: bool
    prompt_tokens: int
    max_answer_tokens: int
    context_size: int
    history_used: int = 0
    history_dropped: int = 0

    def report(self) -> ContextReport:
        """Which passages the model saw, for the response."""
        return ContextReport(
            context_size=self.context_size,
            prompt_tokens=self.prompt_tokens,
            answer_tokens_reserved=self.max_answer_tokens,
            used=len(self.passages),
            last_trimmed=self.trimmed,
            dropped=[DroppedPassage(p.path, p.page, p.chunk_id) for p in self.dropped],
            history_used=self.history_used,
            history_dropped=self.history_dropped,
        )


def fit_prompt(
    generator: Generator,
    prompt: RagPrompt,
    question: str,
    passages: Sequence[Passage],
    max_answer_tokens: int,
    history: Sequence[Message] = (),
) -> FittedPrompt:
    """The prompt with as much as fits: earlier turns of a conversation go first, oldest
    first, then passages from the last (the last that fits is cut at a sentence)."""
    context = generator.context_size
    budget = context - max_answer_tokens
    turns = list(history)

    def cost(chosen: list[Passage]) -> tuple[list[Message], int]:
        messages = prompt.messages(question, chosen, turns)
        return messages, generator.count_prompt_tokens(messages)

    kept = list(passages)
    trimmed = False
    dropped: list[Passage] = []
    messages, tokens = cost(kept)  # the usual case: everything fits, one render and one count
    while tokens > budget and turns:
        # The oldest turns go first, so that all passages fit (they matter more); a kept
        # history starts with a user turn.
        turns = _without_oldest_turn(turns)
        messages, tokens = cost(kept)
    if tokens > budget:
        kept, (messages, tokens) = [], cost([])
        if tokens > budget:
            raise InvalidRequest(
                f"the question alone takes {tokens} tokens, but the model's context of "
                f"{context} leaves {budget} after reserving {max_answer_tokens} for the answer: "
                "shorten the question or lower RAG_MAX_ANSWER_TOKENS"
            )
        for position, passage in enumerate(passages):
            candidate, candidate_tokens = cost([*kept, passage])
            if candidate_tokens <= budget:
                kept, messages, tokens = [*kept, passage], candidate, candidate_tokens
                continue
            cut = _longest_fitting_cut(kept, passage, cost, budget)
            if cut is not None:
                kept, (messages, tokens), trimmed = [*kept, cut[0]], cut[1], True
                dropped = list(passages[position + 1 :])
            else:
                dropped = list(passages[position:])
            break
    answer_room = max(1, min(max_answer_tokens, context - tokens))
    return FittedPrompt(
        messages,
        kept,
        dropped,
        trimmed,
        tokens,
        answer_room,
        context,
        history_used=len(turns),
        history_dropped=len(history) - len(turns),
    )


def _without_oldest_turn(turns: list[Message]) -> list[Message]:
    """The turns after the oldest, starting again with a user turn."""
    rest = turns[1:]
    while rest and rest[0]["role"] != "user":
        rest = rest[1:]
    return rest


def _longest_fitting_cut(
    kept: list[Passage],
    passage: Passage,
    cost: Callable[[list[Passage]], tuple[list[Message], int]],
    budget: int,
) -> tuple[Passage, tuple[list[Message], int]] | None:
    """The passage cut to its most leading sentences that fit, or None if not even one does."""
    parts = split_at_sentence_ends(passage.text)
    best: tuple[Passage, tuple[list[Message], int]] | None = None
    low, high = 1, len(parts) - 1
    while low <= high:
        middle = (low + high) // 2
        cut = replace(passage, text=" ".join(parts[:middle]))
        priced = cost([*kept, cut])
        if priced[1] <= budget:
            best, low = (cut, priced), middle + 1
        else:
            high = middle - 1
    return best
