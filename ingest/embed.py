"""Sentence embeddings: the Embedder protocol and its sentence-transformers implementation."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors, so inner product is cosine similarity."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """How many of the model's own tokens of a text it reads; the rest is ignored."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use (construction is cheap).

    `model` is a local folder or a hub id. On a CUDA GPU the model runs there in fp16; on CPU
    it stays fp32.
    """

    def __init__(self, model: str, device: str | None = None, batch_size: int = 64) -> None:
        self._model_name = model
        self._device = device
        self._batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._model_name

    def warm_up(self) -> None:
        self._loaded()

    def _loaded(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                self._model = _load_sentence_transformer(self._model_name, self._device)
            return self._model

    @property
    def dimension(self) -> int:
        model = self._loaded()
        # sentence-transformers 6 renamed the method; keep working with 5.x too.
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dim = getter()
        if dim is None:
            raise RuntimeError(f"embedding model {self._model_name} does not report a dimension")
        return int(dim)

    @property
    def max_tokens(self) -> int:
        model = self._loaded()
        # max_seq_length counts the [CLS]/[SEP] tokens the tokenizer adds around the text.
        specials = len(model.tokenizer("", add_special_tokens=True)["input_ids"])
        window = model.max_seq_length
        if window is None:
            raise RuntimeError(f"embedding model {self._model_name} does not report its window")
        return int(window) - specials

    def count_tokens(self, text: str) -> int:
        tokenizer: Any = self._loaded().tokenizer
        return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._loaded()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _load_sentence_transformer(model: str, device: str | None) -> SentenceTransformer:
    import torch
    from sentence_transformers import SentenceTransformer

    chosen = device or ("cuda" if torch.cuda.is_available() else "cpu")
    loaded = SentenceTransformer(model, device=chosen)
    if chosen.startswith("cuda"):
        loaded.half()
    return loaded
