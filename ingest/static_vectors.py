"""Static token vectors: each vocabulary token's vector from the embedding model, made once.

Scoring a chunk's sentences against a question with the model itself means embedding every
sentence at ingest: about as much work as embedding the chunks, so it doubled the ingest. A
static table (the model's output at each token fed alone, between [CLS] and [SEP], reduced to
256 dimensions by PCA) turns a sentence vector into a weighted mean of table rows: no model
pass, fast enough to compute at query time for the few hundred candidate sentences. Each token
is weighed by a/(a + p), p its share of the collection's tokens (smooth inverse frequency), so
"the" counts for little and "rapamycin" for much; the counts come from the chunks at ingest.

Measured on SciFact train (hybrid search, weights 0.3/0.4/0.3): no sentence signal 0.7282
nDCG@10, model sentence vectors 0.7388, this table 0.7358 (without the weights 0.7331; the
table from the mean of all three positions 0.7333; the first one or two model layers instead
0.7236 / 0.7251).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

RECIPE = "token-alone-pca256-v1"
DIMENSIONS = 256
# Smooth-inverse-frequency constant: tokens much rarer than this share weigh about 1.
SMOOTHING = 1e-3
_BATCH = 1024


class StaticTokenVectors:
    """The static table of a local sentence-transformers folder, with its tokenizer.

    The tokenizer loads at once (ingest only counts tokens); the table is read from `cache`, or
    built there on first use (about 15 s on two CPU cores for a MiniLM, once per model).
    """

    def __init__(self, folder: Path, cache: Path) -> None:
        from tokenizers import Tokenizer

        self._folder = folder
        self._cache = cache
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._table: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def vocab_size(self) -> int:
        return int(self._tokenizer.get_vocab_size())

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def token_counts(self, texts: Sequence[str]) -> np.ndarray:
        """How often each vocabulary token occurs in `texts` (int64, one slot per token)."""
        ids = [i for row in self.token_ids(texts) for i in row]
        return np.bincount(np.asarray(ids, dtype=np.int64), minlength=self.vocab_size)

    def embed(self, texts: Sequence[str], counts: np.ndarray | None = None) -> np.ndarray:
        """Unit-length static vectors of `texts`: the mean of their tokens' rows, each token
        weighed by its rarity in `counts` (all alike without counts). A text with no token gets
        a zero vector, which matches nothing."""
        table = self.table()
        weights = _inverse_frequency(counts, len(table))
        out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
        for row, all_ids in enumerate(self.token_ids(texts)):
            ids = [i for i in all_ids if i < len(table)]  # tokens added after training have no row
            if ids:
                w = weights[ids]
                out[row] = (table[ids] * w[:, None]).sum(axis=0) / max(float(w.sum()), 1e-12)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    def table(self) -> np.ndarray:
        with self._lock:
            if self._table is None:
                self._table = _cached_table(self._folder, self._cache)
            return self._table


def _inverse_frequency(counts: np.ndarray | None, size: int) -> np.ndarray:
    if counts is None or len(counts) != size or counts.sum() == 0:
        return np.ones(size, dtype=np.float32)
    share = counts / counts.sum()
    return (SMOOTHING / (SMOOTHING + share)).astype(np.float32)


def cache_key(folder: Path) -> str:
    """Model weights (name, size, time) + torch/transformers versions + recipe."""
    weights = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))
    facts = [str(folder.resolve()), RECIPE]
    facts += [f"{name}={version(name)}" for name in ("torch", "transformers")]
    facts += [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights]
    return hashlib.sha256("\n".join(facts).encode()).hexdigest()[:16]


def _cached_table(folder: Path, cache: Path) -> np.ndarray:
    target = cache / f"{folder.name}-{cache_key(folder)}.npy"
    if target.is_file():
        return np.load(target)
    table = build_table(folder)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        # Several processes may build at once: each writes its own file, the last rename wins.
        staged = target.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp.npy")
        np.save(staged, table)
        staged.replace(target)
    except OSError:
        pass  # an unwritable cache costs a rebuild next time, not the search
    return table


def build_table(folder: Path) -> np.ndarray:
    """Each token's output from the model when fed alone ([CLS] token [SEP]), at the token's
    position, centred and projected on its first `DIMENSIONS` principal components."""
    import torch
    from transformers import AutoModel

    model: Any = AutoModel.from_pretrained(str(folder)).eval()
    size = int(model.config.vocab_size)
    cls_id, sep_id = _special_ids(folder)
    rows = np.zeros((size, int(model.config.hidden_size)), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, size, _BATCH):
            ids = torch.arange(start, min(size, start + _BATCH))
            inputs = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)])
            hidden = model(input_ids=inputs.T, attention_mask=torch.ones_like(inputs.T))
            rows[start : start + len(ids)] = hidden.last_hidden_state[:, 1].numpy()
    centred = rows - rows.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return (centred @ components[: min(DIMENSIONS, len(components))].T).astype(np.float32)


def _special_ids(folder: Path) -> tuple[int, int]:
    """The ids of the tokenizer's own start and end tokens ([CLS]/[SEP] or <s>/</s>)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    found = []
    for names in (("[CLS]", "<s>"), ("[SEP]", "</s>")):
        ids = [tokenizer.token_to_id(name) for name in names]
        known = [i for i in ids if i is not None]
        if not known:
            raise ValueError(f"the tokenizer in {folder} has none of {names}")
        found.append(int(known[0]))
    return found[0], found[1]
