"""Query embeddings of concurrent searches: one model call at a time, no call waiting on a timer.

Sixty-four clients searching at once each asked the model for one short vector: sixty-four
model calls competing for two cores. Here a search that finds the model busy queues its texts;
when the running batch is done, the next caller takes everything queued so far. A lone search
goes straight through; under load one thread feeds the model while the others search.

A batch is encoded shortest texts first, `group_texts` a call, and each call's callers go on as
soon as it returns. On a GPU calls of several texts share the model's fixed cost. On a CPU they
do not: a call pads every text to its longest, and the work grows with the padded tokens (64
SciFact queries in one call: 9.0 ms of CPU each; sorted, in calls of 8: 4.8 ms; alone: 4.1
ms), so there `group_texts` is 1 (rag/core.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ingest.embed import Embedder


@dataclass(eq=False)
class _Request:
    texts: list[str]
    vectors: np.ndarray | None = None
    error: BaseException | None = None
    # Set when the request is answered, or when its caller is to run the next batch.
    woken: threading.Event = field(default_factory=threading.Event)


class QueryBatcher:
    """`embed` as the wrapped embedder's, with concurrent callers' texts batched."""

    def __init__(self, embedder: Embedder, max_texts: int = 128, group_texts: int = 8) -> None:
        self.embedder = embedder
        self._max_texts = max_texts
        self._group_texts = group_texts
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._busy = False

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        request = _Request(list(texts))
        with self._lock:
            waiting = self._busy
            if waiting:
                self._queue.append(request)
            self._busy = True
        if waiting:
            # Woken once: answered, or handed the model to run the next batch (wakes one
            # thread per batch, not every waiting one).
            request.woken.wait()
        if request.vectors is None and request.error is None:
            self._run(self._take(request))
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _take(self, own: _Request) -> list[_Request]:
        """The caller's own request and as many queued as fit in one call, oldest first."""
        batch, size = [own], len(own.texts)
        with self._lock:
            for queued in list(self._queue):
                if queued is not own and size + len(queued.texts) <= self._max_texts:
                    batch.append(queued)
                    size += len(queued.texts)
                    self._queue.remove(queued)
        return batch

    def _run(self, batch: list[_Request]) -> None:
        """Encode the batch in groups of similar length, answering each group's callers as
        soon as it is done (they go on searching while the next group is encoded)."""
        by_length = sorted(batch, key=lambda request: max(map(len, request.texts), default=0))
        try:
            for group in _groups(by_length, self._group_texts):
                vectors = self.embedder.embed([text for request in group for text in request.texts])
                start = 0
                for request in group:
                    request.vectors = vectors[start : start + len(request.texts)]
                    start += len(request.texts)
                    request.woken.set()
        except BaseException as exc:  # every caller not yet answered sees the model's error
            for request in batch:
                if request.vectors is None:
                    request.error = exc
        finally:
            with self._lock:
                following = self._queue.pop(0) if self._queue else None
                self._busy = following is not None
            for request in batch:
                request.woken.set()
            if following is not None:
                following.woken.set()


def _groups(requests: list[_Request], most_texts: int) -> Iterator[list[_Request]]:
    """Consecutive requests, at most `most_texts` texts a group (a request with more: alone)."""
    group: list[_Request] = []
    size = 0
    for request in requests:
        if group and size + len(request.texts) > most_texts:
            yield group
            group, size = [], 0
        group.append(request)
        size += len(request.texts)
    if group:
        yield group
