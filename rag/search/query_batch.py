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
    done: bool = field(default=False)


class QueryBatcher:
    """`embed` as the wrapped embedder's, with concurrent callers' texts batched."""

    def __init__(self, embedder: Embedder, max_texts: int = 128) -> None:
        self.embedder = embedder
        self._max_texts = max_texts
        self._changed = threading.Condition()
        self._queue: list[_Request] = []
        self._busy = False

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        request = _Request(list(texts))
        with self._changed:
            self._queue.append(request)
            while self._busy and not request.done:
                self._changed.wait()
            if not request.done:
                self._busy = True
                batch = self._take(request)
        if not request.done:
            self._run(batch)
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _take(self, own: _Request) -> list[_Request]:
        """The caller's own request and as many queued after it as fit in one call."""
        batch, size = [own], len(own.texts)
        for queued in self._queue:
            if queued is not own and size + len(queued.texts) <= self._max_texts:
                batch.append(queued)
                size += len(queued.texts)
        self._queue = [queued for queued in self._queue if queued not in batch]
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
            with self._changed:
                for request in batch:
                    request.done = True
                self._busy = False
                self._changed.notify_all()
