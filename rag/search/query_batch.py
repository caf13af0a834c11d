"""Query embeddings of concurrent searches, encoded together.

Sixty-four clients searching at once each asked the model for one short vector: sixty-four
model calls competing for two cores, each paying the call's fixed cost. Here a search that
finds the model busy queues its texts; when the running call returns, the next caller takes
everything queued so far and encodes it in one call. Nothing waits on a timer: a lone search
goes straight through, and under load the batches grow by themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
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

    def __init__(self, embedder: Embedder, max_texts: int = 128) -> None:
        self.embedder = embedder
        self._max_texts = max_texts
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
        try:
            vectors = self.embedder.embed([text for request in batch for text in request.texts])
            start = 0
            for request in batch:
                request.vectors = vectors[start : start + len(request.texts)]
                start += len(request.texts)
        except BaseException as exc:  # every caller in the batch sees the model's error
            for request in batch:
                request.error = exc
        finally:
            with self._lock:
                following = self._queue.pop(0) if self._queue else None
                self._busy = following is not None
            for request in batch:
                request.woken.set()
            if following is not None:
                following.woken.set()
