"""What the answer step needs from a language model, whichever backend runs it.

Backends take chat messages, not a formatted prompt: a local backend renders them through the
model's own format exactly once, and a model server applies its own template, so a prompt is
never wrapped twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.prompts.chat_formats import Message


@dataclass(frozen=True)
class SamplingOptions:
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    seed: int = 0
    stop: tuple[str, ...] = ()


class Generator(Protocol):
    """A chat model that streams its answer as text pieces."""

    @property
    def name(self) -> str: ...

    @property
    def format_name(self) -> str:
        """Which prompt format renders the chat (or "server" when a model server does)."""
        ...

    @property
    def context_size(self) -> int:
        """Tokens of prompt plus answer the model is run with."""
        ...

    def warm_up(self) -> None: ...

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens of the whole rendered chat, template overhead included."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of plain text (an answer), with the model's tokenizer."""
        ...

    def stream(self, messages: Sequence[Message], options: SamplingOptions) -> Iterator[str]:
        """The answer, piece by piece; closing the iterator stops generation."""
        ...


def hold_back_stops(pieces: Iterator[str], stops: Sequence[str]) -> Iterator[str]:
    """Pass text through until a stop string appears; never emit any part of a stop string.

    Text that could still be the start of a stop string is held until the next piece decides.

    >>> list(hold_back_stops(iter(["Hel", "lo<", "|end", "|> more"]), ["<|end|>"]))
    ['Hel', 'lo']
    >>> "".join(hold_back_stops(iter(["a <", "b"]), ["<|end|>"]))
    'a <b'
    """
    stops = [s for s in stops if s]
    pending = ""
    for piece in pieces:
        pending += piece
        cut = min((pending.find(s) for s in stops if s in pending), default=-1)
        if cut >= 0:
            if pending[:cut]:
                yield pending[:cut]
            return
        keep = max(
            (n for s in stops for n in range(1, len(s)) if pending.endswith(s[:n])), default=0
        )
        ready = pending[: len(pending) - keep]
        if ready:
            yield ready
        pending = pending[len(pending) - keep :]
    if pending:
        yield pending
