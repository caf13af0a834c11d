"""The ONNX Runtime embedder: same vectors as torch within cosine 0.99, sentence vectors pooled
from the chunk's own pass, exported once, and torch whenever ONNX cannot reproduce a model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from ingest.embed import SentenceTransformerEmbedder
from ingest.embed_runtime import make_embedder
from ingest.onnx_embed import OnnxEmbedder, exported_model
from ingest.sentences import embed_pooled, sentence_spans, sentence_vectors
from rag.llm.model_paths import default_embed_model

TEXTS = [
    "The pump is serviced every 2,000 hours of operation.",
    "Total net sales were $82,959 million in the quarter, up from $81,434 million.",
    "Mice fed a high-fat diet gained weight. Twelve of them developed insulin resistance.",
    "Le contrat prend fin le 31 décembre 2027.",
]


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedder:
    embedder = OnnxEmbedder(default_embed_model(), tmp_path_factory.mktemp("onnx"), threads=2)
    embedder.warm_up()
    return embedder


def test_onnx_vectors_match_torch_vectors(
    onnx_embedder: OnnxEmbedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    ours, theirs = onnx_embedder.embed(TEXTS), torch_embedder.embed(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # Int8 weights in blocks of 128: measured min cosine 0.998 over 5,183 SciFact abstracts.
    assert float((ours * theirs).sum(axis=1).min()) >= 0.995
    assert onnx_embedder.max_tokens == torch_embedder.max_tokens
    assert onnx_embedder.count_tokens(TEXTS[1]) == torch_embedder.count_tokens(TEXTS[1])


def test_a_sentence_pooled_from_its_chunk_is_nearest_its_own_text(
    onnx_embedder: OnnxEmbedder,
) -> None:
    chunk = TEXTS[2]
    spans = sentence_spans(chunk)
    assert [chunk[a:b] for a, b in spans] == [
        "Mice fed a high-fat diet gained weight.",
        "Twelve of them developed insulin resistance.",
    ]
    _, pooled = onnx_embedder.embed_with_spans([chunk], [spans])
    alone = onnx_embedder.embed([chunk[a:b] for a, b in spans])
    similarity = pooled[0] @ alone.T
    assert similarity[0, 0] > similarity[0, 1] and similarity[1, 1] > similarity[1, 0]
    assert np.allclose(np.linalg.norm(pooled[0], axis=1), 1.0, atol=1e-5)


def test_pooled_spans_follow_the_context_line(onnx_embedder: OnnxEmbedder) -> None:
    """The chunk is embedded behind its document's context line; its sentences' spans shift."""
    texts = [TEXTS[2], TEXTS[0]]
    searched = [f"acme-10q 2023 Q1\n{texts[0]}", texts[1]]
    vectors, sentences = embed_pooled(onnx_embedder, searched, texts)
    assert np.allclose(vectors, onnx_embedder.embed(searched), atol=1e-5)
    assert sentences[0].shape == (2, 384)
    # A one-sentence chunk's sentence vector is its chunk vector, as with separate embedding.
    assert np.allclose(sentences[1], vectors[1:2])


def test_the_export_is_made_once_and_reused(
    onnx_embedder: OnnxEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = Path(default_embed_model())
    cache = tmp_path_factory.mktemp("onnx-again")
    first = exported_model(folder, cache)
    stamp = first.stat().st_mtime_ns
    assert exported_model(folder, cache) == first and first.stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir()] == [first.name]  # no staging files left behind


def test_a_model_onnx_cannot_reproduce_is_embedded_by_torch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "odd-model"
    folder.mkdir()
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    with caplog.at_level(logging.WARNING, logger="ingest.embed_runtime"):
        chosen = make_embedder(str(folder), "onnx", tmp_path / "cache")
    assert isinstance(chosen, SentenceTransformerEmbedder)
    assert "torch instead of ONNX Runtime" in caplog.text and "Dense" in caplog.text


def test_an_unwritable_model_cache_falls_back_to_torch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="ingest.embed_runtime"):
        chosen = make_embedder(default_embed_model(), "onnx", blocker / "onnx")
    assert isinstance(chosen, SentenceTransformerEmbedder)
    assert "cannot write the ONNX export" in caplog.text


class CountingEmbedder:
    """The real embedder, counting the texts it is given."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner, self.texts = inner, 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.embed(texts)


def test_a_sentence_recurring_in_a_batch_is_embedded_once(
    torch_embedder: SentenceTransformerEmbedder,
) -> None:
    title = "Cerebral white matter in newborns."
    chunks = [f"{title} Diffusion was lower. It rose with age.", f"{title} Preterm infants differ."]
    counting = CountingEmbedder(torch_embedder)
    vectors = sentence_vectors(counting, chunks, torch_embedder.embed(chunks))  # type: ignore[arg-type]
    assert counting.texts == 4  # the title once, and three other sentences
    assert [v.shape[0] for v in vectors] == [3, 2]
    assert np.allclose(vectors[0][0], vectors[1][0])
    alone = torch_embedder.embed(["Preterm infants differ."])[0]
    assert float(vectors[1][1] @ alone) > 0.999


def test_the_default_runtime_on_a_cpu_only_machine_is_onnx(embedder: object) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU keeps torch as the default runtime")
    assert isinstance(embedder, OnnxEmbedder)
