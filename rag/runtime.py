"""Process-wide switches, set in one explicit place at start-up rather than at import time."""

from __future__ import annotations

import os

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


def configure_process() -> None:
    """Opt out of telemetry; values the user set explicitly are kept."""
    for name, value in _OPT_OUTS.items():
        os.environ.setdefault(name, value)
