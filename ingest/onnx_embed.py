"""Sentence embeddings on ONNX Runtime: the same model, exported once, int8 weights, on CPU.

On a 2-core CPU the torch forward pass of MiniLM is the whole cost of ingest. Exporting the
transformer to ONNX and storing its matrix multiplications' weights as int8 in blocks of 128
(MatMulNBits) makes it run about 1.9x faster than torch, with vectors at cosine 0.999 to the
torch ones, so collections embedded by either runtime stay searchable by the other.

The export runs once per model and runtime version, from the local model folder, offline, into
a cache folder; a model this module cannot reproduce exactly (anything but a Transformer
followed by mean or CLS pooling and optional normalisation) is refused with `Unsupported`, and
the caller falls back to torch. One forward pass also yields each token's vector, so the vectors
of a chunk's sentences can be pooled from the chunk's own pass (`embed_with_spans`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from ingest.quiet_logging import basic_config_blocked

log = logging.getLogger(__name__)

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Bump when the export or quantization recipe changes, so cached files are rebuilt.
_RECIPE = "matmul-nbits-8-block128-acc4-1"
# Weight-only int8 in blocks of 128 along the inner dimension; accuracy level 4 multiplies in int8
# with activations quantized per block too (fine-grained, unlike a dynamic per-tensor scale).
_BITS, _BLOCK, _ACCURACY_LEVEL = 8, 128, 4

Span = tuple[int, int]


class Unsupported(Exception):
    """The model's pipeline or folder cannot be reproduced on ONNX Runtime here."""


class OnnxEmbedder:
    """A sentence-transformers model folder run on ONNX Runtime (int8 weights), loaded on first
    use. `cache` holds the exported model; `threads` bounds ONNX Runtime's intra-op pool."""

    def __init__(
        self, model: str, cache: Path, *, batch_size: int = 64, threads: int | None = None
    ) -> None:
        self._model_name = model
        self._folder = Path(model).expanduser()
        self._cache = cache
        self._batch_size = batch_size
        self._threads = threads
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, _Pipeline] | None = None
        self._for_queries: OnnxEmbedder | None = None
        # The embedder a query session was made from: its tokenizer is copied, not loaded again.
        self._source: OnnxEmbedder | None = None

    @property
    def name(self) -> str:
        return self._model_name

    def for_queries(self) -> OnnxEmbedder:
        """The same model in a second session for search queries: one thread, one text a call.

        A query is ~20 tokens: its matrices are too small to share among threads, and a call of
        several pads each to the longest. SciFact test queries, CPU per query: alone on one
        thread 4.1 ms, on two 5.2-6.1 ms, in calls of four 5.1 ms (one thread) or 5.7-6.2 ms.
        Made once per embedder (the export is cached: loading it is a fraction of a second).
        """
        with self._lock:
            if self._for_queries is None:
                queries = OnnxEmbedder(self._model_name, self._cache, batch_size=1, threads=1)
                queries._source = self
                self._for_queries = queries
            return self._for_queries

    def warm_up(self) -> None:
        self._parts()

    def _parts(self) -> tuple[Any, Any, _Pipeline]:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> tuple[Any, Any, _Pipeline]:
        if self._source is not None:
            # A copy of the loaded tokenizer (one tokenizer is not safe to share between
            # threads): a query session never loads transformers again (it may be gone
            # since: a server's optional packages are checked request by request). The
            # source's lock is its own: taking it here cannot wait on this one.
            _, loaded_tokenizer, pipeline = self._source._parts()
            session = _session(exported_model(self._folder, self._cache), self._threads)
            return session, copy.deepcopy(loaded_tokenizer), pipeline
        pipeline = _read_pipeline(self._folder)
        session = _session(exported_model(self._folder, self._cache), self._threads)
        return session, _tokenizer(self._folder), pipeline

    @property
    def dimension(self) -> int:
        return self._parts()[2].dimension

    @property
    def max_tokens(self) -> int:
        _, tokenizer, pipeline = self._parts()
        specials = len(tokenizer("", add_special_tokens=True)["input_ids"])
        return pipeline.max_seq_length - specials

    def count_tokens(self, text: str) -> int:
        tokenizer = self._parts()[1]
        return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors, _ = self.embed_with_spans(texts, [[] for _ in texts])
        return vectors

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each text's vector and, from the same forward pass, a vector for each character
        span of it (a sentence): the mean of the token vectors inside the span, normalised.
        A span whose tokens were all cut off by the model's window gets the text's vector."""
        session, tokenizer, pipeline = self._parts()
        out = np.zeros((len(texts), pipeline.dimension), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, pipeline.dimension), np.float32)] * len(texts)
        if not texts:
            return out, pooled
        # Longest first, so a batch pads little (as sentence-transformers does).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            encoded = tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=pipeline.max_seq_length,
                return_offsets_mapping=True,
                return_tensors="np",
            )
            feed = {name: encoded[name].astype(np.int64) for name in _INPUTS if name in encoded}
            tokens = session.run(None, feed)[0]
            mask = encoded["attention_mask"].astype(np.float32)
            out[batch] = _normalised(pipeline.pool(tokens, mask))
            for row, i in enumerate(batch):
                if spans[i]:
                    pooled[i] = _span_vectors(
                        tokens[row], encoded["offset_mapping"][row], mask[row], spans[i], out[i]
                    )
        return out, pooled


class _Pipeline:
    """What sentence-transformers does after the transformer, read from the model folder (the
    vectors are always normalised: the Embedder contract is unit length)."""

    def __init__(self, dimension: int, mode: str, max_seq_length: int) -> None:
        self.dimension = dimension
        self.mode = mode
        self.max_seq_length = max_seq_length

    def pool(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.mode == "cls":
            return tokens[:, 0, :]
        summed = (tokens * mask[..., None]).sum(axis=1)
        return summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)


def _read_pipeline(folder: Path) -> _Pipeline:
    """The pooling of a sentence-transformers folder, or Unsupported for anything else."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise Unsupported(f"pipeline {kinds} is not Transformer -> Pooling [-> Normalize]")
        pooling_folder = folder / modules[1]["path"]
        pooling = json.loads((pooling_folder / "config.json").read_text(encoding="utf-8"))
        bert = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, KeyError, ValueError) as exc:
        raise Unsupported(f"not a local sentence-transformers folder: {exc}") from exc
    chosen = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
    modes = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
    if len(chosen) != 1 or chosen[0] not in modes:
        raise Unsupported(f"pooling {chosen} is neither mean nor CLS alone")
    return _Pipeline(
        dimension=int(pooling["word_embedding_dimension"]),
        mode=modes[chosen[0]],
        max_seq_length=int(bert["max_seq_length"]),
    )


def cache_key(folder: Path) -> str:
    """Model weights (name, size, time) + runtime versions + recipe: any change re-exports."""
    weights = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))
    versions = [f"{name}={version(name)}" for name in ("onnxruntime", "torch", "transformers")]
    facts = [str(folder.resolve()), *versions, _RECIPE]
    facts += [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights]
    return hashlib.sha256("\n".join(facts).encode()).hexdigest()[:16]


def exported_model(folder: Path, cache: Path) -> Path:
    """The int8-weight ONNX file for the model folder, exported into `cache` on first use."""
    target = cache / f"{folder.name}-{cache_key(folder)}.onnx"
    if target.is_file():
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Unsupported(f"cannot write the ONNX export to {cache}: {exc}") from exc
    # Several processes may export at once: each writes its own file, the last rename wins.
    staged = target.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
    full = staged.with_suffix(".fp32.onnx")
    try:
        _export(folder, full)
        _quantize_weights(full, staged)
        staged.replace(target)
    except Exception as exc:
        raise Unsupported(f"export to ONNX failed: {exc}") from exc
    finally:
        full.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)
    log.info("exported %s to %s", folder, target)
    return target


def _export(folder: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    names = [n for n in _INPUTS if n in tokenizer.model_input_names]

    class _Tokens(torch.nn.Module):
        """The transformer's last hidden state, with named inputs (the exporter passes them
        positionally, and the model's own argument order differs between versions)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    sample = tokenizer(["an example", "another, longer example"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "token_embeddings"]}
    # The exporter's remarks (how it lowered an indexing op) are for exporter authors, not users.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Tokens(),
            tuple(sample[n] for n in names),
            str(target),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _quantize_weights(full: Path, target: Path) -> None:
    """Every MatMul with constant weights becomes MatMulNBits (8-bit weights in blocks of 128).

    Chosen on SciFact train (dense nDCG@10 over the 5,183 abstracts; torch 0.6602): ONNX fp32
    0.6602 (cosine 1.0000, 1.3x torch's speed); this 0.6595 (cosine 0.9991, 1.45x fp32);
    ONNX Runtime's dynamic int8 (per-channel weights, per-tensor activations) 0.6555 (cosine
    0.9950, 1.8x fp32), also without its last layer 0.6542 or its attention 0.6556."""
    import onnx

    quantizer_class = _quiet_quantizer_class()
    quantizer = quantizer_class(
        onnx.load(str(full)),
        bits=_BITS,
        block_size=_BLOCK,
        is_symmetric=True,
        accuracy_level=_ACCURACY_LEVEL,
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(target), use_external_data_format=False)


def _quiet_quantizer_class() -> Any:
    """ONNX Runtime's MatMulNBitsQuantizer, imported without its side effects on logging: the
    module calls `logging.basicConfig(level=INFO)` on import (which would configure a library
    user's root logger) and logs a line per node it skips."""
    with basic_config_blocked():
        from onnxruntime.quantization import matmul_nbits_quantizer
    logging.getLogger(matmul_nbits_quantizer.__name__).setLevel(logging.WARNING)
    return matmul_nbits_quantizer.MatMulNBitsQuantizer


def _session(path: Path, threads: int | None) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    # Idle pool threads sleep instead of spinning: a spinning thread after each short query
    # took a core from the concurrent searches' SQLite and FAISS work (and from parse workers
    # during ingest). In-process, 2 search threads: 44 vs 33 searches/s.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _tokenizer(folder: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


def _span_vectors(
    tokens: np.ndarray,
    offsets: np.ndarray,
    mask: np.ndarray,
    spans: Sequence[Span],
    fallback: np.ndarray,
) -> np.ndarray:
    """Mean of the token vectors whose characters lie in each span (special tokens, which
    have empty offsets, never count)."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = (mask > 0) & (ends > starts)
    rows = []
    for begin, end in spans:
        inside = real & (starts >= begin) & (ends <= end)
        rows.append(tokens[inside].mean(axis=0) if inside.any() else fallback)
    return _normalised(np.stack(rows))
