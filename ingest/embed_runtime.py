"""Which runtime embeds: ONNX Runtime (int8) on CPU where it reproduces the model, torch
otherwise (a GPU, a hub id, a model the export does not cover, a failed export).

The choice is made once, when the embedder is first needed; a fallback says why in one log
line. Both runtimes give vectors at cosine ≥ 0.99 to each other, so a collection embedded by
one is searched by the other without re-embedding.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Literal

from ingest.embed import Embedder, SentenceTransformerEmbedder
from ingest.onnx_embed import OnnxEmbedder, Unsupported

log = logging.getLogger(__name__)

EmbedRuntime = Literal["auto", "onnx", "torch"]


def make_embedder(
    model: str,
    runtime: EmbedRuntime,
    cache: Path,
    *,
    batch_size: int = 64,
    threads: int | None = None,
) -> Embedder:
    """A loaded embedder for `model` on the chosen runtime ("auto": ONNX on CPU when it can)."""
    if runtime == "torch" or (runtime == "auto" and not _onnx_fits(model)):
        return SentenceTransformerEmbedder(model, batch_size=batch_size)
    onnx = OnnxEmbedder(model, cache, batch_size=batch_size, threads=threads)
    try:
        onnx.warm_up()
    except Unsupported as exc:
        log.warning("embedding with torch instead of ONNX Runtime: %s", exc)
        return SentenceTransformerEmbedder(model, batch_size=batch_size)
    return onnx


def _onnx_fits(model: str) -> bool:
    """ONNX Runtime is installed, the model is a local folder, and no CUDA GPU is there (where
    torch runs fp16 and stays the faster path)."""
    if importlib.util.find_spec("onnxruntime") is None or not Path(model).expanduser().is_dir():
        return False
    import torch

    return not torch.cuda.is_available()
