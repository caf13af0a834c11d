"""Refuse model files that can run code when loaded, unless the user opted in.

PyTorch's `.bin`/`.pt`/`.pth` checkpoints (and `.pkl`/`.ckpt`) are pickles: loading one executes
whatever its author put in it. GGUF and safetensors hold only tensors, so they load by default.
"""

from __future__ import annotations

from pathlib import Path

from rag.errors import UnsafeModelFile

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"})
SAFE_SUFFIXES = frozenset({".gguf", ".safetensors"})


def check_model_path(path: Path, allow_pickle: bool) -> None:
    """Raise UnsafeModelFile when `path` (a file, or a model folder) would be loaded from a pickle.

    A folder is safe when it holds safetensors weights (loaders prefer them) or no pickles.

    >>> check_model_path(Path("model.gguf"), allow_pickle=False)
    >>> check_model_path(Path("model.pt"), allow_pickle=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rag.errors.UnsafeModelFile: model.pt is a pickle-based checkpoint, which can run code...
    """
    if allow_pickle:
        return
    if path.is_dir():
        weights = [p for p in path.rglob("*") if p.suffix in PICKLE_SUFFIXES | SAFE_SUFFIXES]
        if any(p.suffix in SAFE_SUFFIXES for p in weights):
            return
        pickles = sorted(p.name for p in weights if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise UnsafeModelFile(
                f"{path} holds only pickle-based weights ({', '.join(pickles[:3])}), which can "
                "run code when loaded; convert them to safetensors, or set RAG_ALLOW_PICKLE=true "
                "if you trust their source"
            )
        return
    if path.suffix in PICKLE_SUFFIXES:
        raise UnsafeModelFile(
            f"{path} is a pickle-based checkpoint, which can run code when loaded; convert it to "
            "safetensors or GGUF, or set RAG_ALLOW_PICKLE=true if you trust its source"
        )
