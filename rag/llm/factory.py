"""Build the configured LLM backend: llama-cpp (default), transformers, or an OpenAI server."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rag.config import Settings
from rag.errors import InvalidRequest
from rag.llm.model_paths import default_llm_model
from rag.llm.protocol import Generator
from rag.prompts.format_files import load_format_registry


def make_generator(settings: Settings) -> Generator:
    s = settings
    formats = load_format_registry(s.prompt_formats_file)
    if s.llm_backend == "openai":
        from rag.llm.openai_backend import OpenAICompatibleGenerator

        if not s.llm_base_url or not s.llm_model:
            raise InvalidRequest(
                "the openai backend needs RAG_LLM_BASE_URL (e.g. http://localhost:8080/v1) and "
                "RAG_LLM_MODEL (the model name the server knows)"
            )
        key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
        return OpenAICompatibleGenerator(
            s.llm_base_url, s.llm_model, api_key=key, n_ctx_limit=s.n_ctx
        )
    if s.llm_backend == "transformers":
        from rag.llm.transformers_backend import TransformersGenerator

        if not s.llm_model:
            raise InvalidRequest(
                "the transformers backend needs RAG_LLM_MODEL: a model folder or a hub id"
            )
        return TransformersGenerator(
            s.llm_model,
            n_ctx_limit=s.n_ctx,
            chat_format=s.chat_format,
            formats=formats,
            allow_pickle=s.allow_pickle,
        )
    from rag.llm.llama_cpp_backend import LlamaCppGenerator

    return LlamaCppGenerator(
        s.llm_model or default_llm_model(),
        n_ctx_limit=s.n_ctx,
        n_threads=s.n_threads,
        n_gpu_layers=s.n_gpu_layers,
        chat_format=s.chat_format,
        formats=formats,
        allow_pickle=s.allow_pickle,
    )


# A local model file (or folder of weights) smaller than this answers extractively in "auto"
# mode: SmolLM2-135M (94 MB) put the reference figure in 1 of 20 FinanceBench answers.
SMALL_MODEL_BYTES = 1_000_000_000


def resolve_answer_mode(
    settings: Settings, model: str | None = None
) -> Literal["generative", "extractive"]:
    """The answer mode to use: the configured one, or for "auto" by the size of `model` (the
    LLM's file or folder; default: the configured one). A model server, or a hub id whose size
    is unknown here, answers generatively."""
    if settings.answer_mode != "auto":
        return settings.answer_mode
    if settings.llm_backend == "openai" and model is None:
        return "generative"
    path = Path(model or settings.llm_model or default_llm_model()).expanduser()
    if path.is_file():
        size = path.stat().st_size
    elif path.is_dir():
        weights = {".safetensors", ".gguf", ".bin"}
        size = sum(p.stat().st_size for p in path.rglob("*") if p.suffix in weights)
    else:
        return "generative"
    return "extractive" if size < SMALL_MODEL_BYTES else "generative"
