"""Count tokens the way the embedding model does, without loading the model's weights.

Parse workers need this to size chunks; loading only the tokenizer keeps each worker small.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

TokenCounter = Callable[[str], int]


@lru_cache(maxsize=4)
def _tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model)


def token_counter(model: str) -> TokenCounter:
    """A function giving the number of model tokens in a text, special tokens excluded."""
    tokenizer = _tokenizer(model)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    return count
