"""Optional second-stage reranking with a sentence-transformers CrossEncoder."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from rag.errors import ModelNotFound

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder


class Reranker(Protocol):
    """Scores (query, passage) pairs jointly; slower and sharper than the first-stage search."""

    def warm_up(self) -> None: ...

    def score(self, query: str, texts: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A cross-encoder (e.g. cross-encoder/ms-marco-MiniLM-L6-v2), loaded on first use."""

    def __init__(self, model: str, batch_size: int = 32) -> None:
        self._model_name = model
        self._batch_size = batch_size
        self._model: CrossEncoder | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> CrossEncoder:
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import CrossEncoder

                    self._model = CrossEncoder(self._model_name)
                except Exception as exc:
                    raise ModelNotFound(
                        f"could not load reranker {self._model_name!r}: {exc} "
                        "(check RAG_RERANK_MODEL)"
                    ) from exc
            return self._model

    def warm_up(self) -> None:
        self._loaded()

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        scores = self._loaded().predict(
            [(query, text) for text in texts],
            batch_size=self._batch_size,
            show_progress_bar=False,
        )
        return [float(s) for s in scores]
