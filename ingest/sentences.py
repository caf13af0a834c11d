"""Split a chunk into sentences, so each one can get its own vector.

A 200-token chunk's vector averages everything in it; a question about one finding in the
middle of a paragraph matches that finding's sentence far better than the whole chunk. A plain
rule (end punctuation, space, capital or digit) is used instead of a parser: it is fast enough
to run on every chunk at ingest and it is what the sentence weight was tuned with.
"""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, in order, stripped; blank pieces are dropped.

    >>> split_sentences("Mice were fed. 12 of them died! Was it (the) diet? e.g. no")
    ['Mice were fed.', '12 of them died!', 'Was it (the) diet? e.g. no']
    """
    return [piece.strip() for piece in _BOUNDARY.split(text) if piece.strip()]
