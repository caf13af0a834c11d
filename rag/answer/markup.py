"""Keep the prompt's scaffolding out of answers, and out of the passages that make the prompt.

Small models carry on by echoing what they were shown: a `</passage>` tag, a "Question:" line,
a chat control token. Generation stops at those (`ANSWER_STOPS`), and whatever still slips
through is stripped from the text (`strip_markup`). A document may itself contain such tokens
(a web page about ChatML, a hostile file): they are stripped from passage text before it goes
into a prompt, so it cannot end the passage or the turn early.
"""

from __future__ import annotations

import re

# Markers that can never be part of a real answer: generation stops there.
ANSWER_STOPS = (
    "<passage",
    "</passage",
    "\nQuestion:",
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "[INST]",
)
_MARKUP = re.compile(
    r"</?passage\b[^>\n]*>?"  # the RAG prompt's passage tags
    r"|<\|[A-Za-z0-9_ .:-]{1,40}\|>"  # ChatML, Llama 3, Phi control tokens
    r"|<(?:start|end)_of_turn>|</?s>|<(?:bos|eos|pad|unk)>"
    r"|\[/?INST\]|<<\/?SYS>>",
    re.IGNORECASE,
)


# A citation marker as the answer keeps it: "[2]" or "[2, 3]".
CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def cited_numbers(text: str) -> set[int]:
    """The passage numbers `text` cites.

    >>> sorted(cited_numbers("Paris [1]. Rome [2, 3]."))
    [1, 2, 3]
    """
    return {int(n) for group in CITATION.findall(text) for n in group.split(",")}


def strip_markup(text: str) -> str:
    """`text` without prompt tags or chat control tokens, blank runs left behind tidied.

    >>> strip_markup('Sales grew [1].\\n</passage>\\n<|im_end|>')
    'Sales grew [1].'
    >>> strip_markup('a <passage n="2" source="x.pdf"> b')
    'a b'
    """
    cleaned = _MARKUP.sub(" ", text)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    cleaned = re.sub(r"[ \t]+\n", "\n", cleaned)
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip()
