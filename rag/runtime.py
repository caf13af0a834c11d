"""Process-wide switches, set in one explicit place at start-up rather than at import time."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ingest.offline import opt_out_of_telemetry
from ingest.quiet_logging import basic_config_blocked, errors_only

# For the API layer, which imports only from rag (tests/test_house.py).
__all__ = ["basic_config_blocked", "configure_process", "is_hub_id"]


# Loggers that warn, on import, about parts this product never uses: torchao (which the gptq and
# awq extras bring, and transformers imports whenever it is installed) about its CUDA-only
# kernels, and torch about torchao's registrations. Four lines on every model load otherwise.
_WARN_ON_IMPORT = ("torchao", "torch.utils._pytree")


def configure_process(models: Iterable[str | None] = ()) -> None:
    """Opt out of telemetry; with no model hub id among `models` (None is a packaged default,
    a path is local), also put the hub libraries offline, so nothing can reach a hub behind
    the user's back. Values the user set explicitly are kept."""
    opt_out_of_telemetry()
    errors_only(_WARN_ON_IMPORT)
    if not any(is_hub_id(model) for model in models):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def is_hub_id(model: str | None) -> bool:
    """Whether a configured model names a model hub repository rather than a local file.

    >>> is_hub_id(None), is_hub_id("/models/llama.gguf"), is_hub_id("Qwen/Qwen2.5-7B-Instruct")
    (False, False, True)
    """
    if not model:
        return False
    return not Path(model).expanduser().exists() and not model.startswith(("/", ".", "~"))
