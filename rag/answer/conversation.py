"""Follow-up questions: the earlier turns of a conversation, checked, and what they add to the
search for the newest question.

"And its revenue?" retrieves nothing on its own. Two ways to search for what it means:
- `history` (cheap, no LLM): the latest earlier user turns go with the question into the search
  (their words into BM25, their vector added to the question's, the latest weighing most);
- `llm`: the LLM rewrites the follow-up as a standalone question; an empty or rambling rewrite
  falls back to `history`.
The earlier turns also go into the prompt (budget.py drops the oldest first when they do not
fit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rag.errors import InvalidRequest
from rag.llm.protocol import Generator, SamplingOptions
from rag.prompts.chat_formats import Message

MAX_TURNS = 200
MAX_TURN_CHARS = 20_000
# How many earlier user turns join the search, and how much each weighs against the question
# (latest first); chosen on the dev half of benchmarks/conversations.py.
SEARCH_TURNS = 2
SEARCH_WEIGHTS = (0.5, 0.25)

Condense = Literal["history", "llm"]

_CONDENSE_SYSTEM = (
    "Rewrite the user's last question so that it can be understood without the conversation: "
    "name what it refers to. Reply with the rewritten question only."
)


@dataclass(frozen=True)
class SearchContext:
    """What the search adds to the newest question: earlier user turns, latest first, each with
    its weight (empty for a first question or an LLM rewrite), and the question searched."""

    query: str
    turns: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()

    def earlier(self) -> list[tuple[str, float]]:
        """(turn, weight) pairs, as the search takes them."""
        return list(zip(self.turns, self.weights, strict=True))


def checked_history(history: Sequence[Mapping[str, Any]] | None) -> list[Message]:
    """The conversation before the question as chat messages, or InvalidRequest saying what
    is wrong (a role other than user/assistant, content that is not text, too many turns)."""
    if not history:
        return []
    if len(history) > MAX_TURNS:
        raise InvalidRequest(
            f"the conversation has {len(history)} earlier turns; the limit is {MAX_TURNS}: "
            "start a new conversation or send only the latest turns"
        )
    turns: list[Message] = []
    for position, turn in enumerate(history, start=1):
        role, content = turn.get("role"), turn.get("content")
        if role not in ("user", "assistant"):
            raise InvalidRequest(
                f"turn {position} of the history has role {role!r}: use 'user' or 'assistant'"
            )
        if not isinstance(content, str):
            raise InvalidRequest(f"turn {position} of the history has no text 'content'")
        if len(content) > MAX_TURN_CHARS:
            raise InvalidRequest(
                f"turn {position} of the history is {len(content)} characters; the limit is "
                f"{MAX_TURN_CHARS}"
            )
        if content.strip():
            turns.append({"role": role, "content": content})
    return turns


def history_context(
    question: str,
    history: Sequence[Message],
    turns: int = SEARCH_TURNS,
    weights: Sequence[float] = SEARCH_WEIGHTS,
) -> SearchContext:
    """The cheap reading of a follow-up: the question, plus the latest `turns` earlier user
    turns with `weights` (latest first)."""
    earlier = [m["content"] for m in reversed(history) if m["role"] == "user"][:turns]
    return SearchContext(question, tuple(earlier), tuple(weights[: len(earlier)]))


def condensed_context(
    generator: Generator, question: str, history: Sequence[Message], max_chars: int = 400
) -> SearchContext:
    """The LLM's standalone rewrite of the question, or `history_context` when the rewrite is
    empty, longer than `max_chars`, or the model fails."""
    fallback = history_context(question, history)
    if not history:
        return fallback
    messages: list[Message] = [
        {"role": "system", "content": _CONDENSE_SYSTEM},
        *history,
        {"role": "user", "content": question},
    ]
    options = SamplingOptions(max_tokens=64, temperature=0.0, stop=("\n",))
    try:
        rewrite = "".join(generator.stream(messages, options)).strip().strip('"')
    except Exception:  # a failed rewrite must not fail the question: search the cheap way
        return fallback
    if not rewrite or len(rewrite) > max_chars:
        return fallback
    return SearchContext(rewrite)
