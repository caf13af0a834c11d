"""Process-wide switches, set in one explicit place at start-up rather than at import time."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

# Dependencies that phone home unless told not to. A service over private documents must not
# make outbound calls its user did not ask for.
_OPT_OUTS = {
    "SCARF_NO_ANALYTICS": "true",  # unstructured
    "DO_NOT_TRACK": "true",  # unstructured and others honouring the convention
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",  # avoids fork warnings and oversubscribed cores
    # Weight-loading bars from transformers on every start are noise for CLI users and logs.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def configure_process(models: Iterable[str | None] = ()) -> None:
    """Opt out of telemetry; with no model hub id among `models` (None is a packaged default,
    a path is local), also put the hub libraries offline, so nothing can reach a hub behind
    the user's back. Values the user set explicitly are kept."""
    for name, value in _OPT_OUTS.items():
        os.environ.setdefault(name, value)
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
